"""Cross-field agreement: a domain printed twice and misread once is repaired from the other copy."""

from __future__ import annotations

from ingest.fields.agreement import confusion_key, one_slip_apart, reconcile_domains, registered_domain
from ingest.schema import FieldValue


def value(text: str) -> FieldValue:
    return FieldValue(text, text, 0.9, [0, 0, 1, 1], "regex")


def test_confusable_letters_share_a_key() -> None:
    assert confusion_key("hi1ton.com") == confusion_key("hilton.com") == confusion_key("hiiton.com")
    assert confusion_key("n0rthwind") == confusion_key("northwind")


def test_different_domains_are_not_one_slip_apart() -> None:
    assert not one_slip_apart("northwind.com", "gmail.com")
    assert one_slip_apart("northwind.com", "northwlnd.com")


def test_the_website_is_repaired_from_the_email_domain_on_a_tie() -> None:
    email, site = value("a.ruiz@kestrel-labs.com"), value("www.kestre1-labs.com")
    reconcile_domains([email], [site], [], "a.ruiz@kestrel-labs.com www.kestre1-labs.com")
    assert site.value == "www.kestrel-labs.com"
    assert email.value == "a.ruiz@kestrel-labs.com"


def test_the_email_is_repaired_when_the_company_backs_the_website() -> None:
    email, site = value("o.lind@hiiton.com"), value("www.hilton.com")
    reconcile_domains([email], [site], ["Hilton Garden"], "")
    assert email.value == "o.lind@hilton.com"
    assert "domain_agreement" in email.method


def test_unrelated_domains_are_left_alone() -> None:
    email, site = value("o.lind@gmail.com"), value("www.hilton.com")
    reconcile_domains([email], [site], [], "")
    assert (email.value, site.value) == ("o.lind@gmail.com", "www.hilton.com")


def test_hosts_with_different_sub_domains_agree_on_the_firms_domain() -> None:
    email, website = value("mark.dunford@eu.jil.com"), value("africa.jll.com")
    reconcile_domains([email], [website], ["JLL"], "JLL mark.dunford@eu.jil.com africa.jll.com")
    assert email.value == "mark.dunford@eu.jll.com"
    assert website.value == "africa.jll.com"


def test_the_registered_domain_keeps_a_second_level_label() -> None:
    assert registered_domain("www.shop.example.co.uk") == "example.co.uk"
    assert registered_domain("eu.jll.com") == "jll.com"


def test_the_companys_initials_without_its_legal_form_back_a_spelling() -> None:
    email, website = value("ko@iij.ad.jp"), value("http://www.ij.ad.jp/")
    reconcile_domains([email], [website], ["Internet Initiative Japan Inc."], "ko@iij.ad.jp http://www.ij.ad.jp/")
    assert (email.value, website.value) == ("ko@iij.ad.jp", "http://www.iij.ad.jp/")
