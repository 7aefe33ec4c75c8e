"""Cross-field agreement: values on one card that must agree repair and rank each other.

A card prints the same domain in its e-mails and its website, the company's name in its
domain, and the person's name in the e-mail's local part. OCR misreads each copy
independently (``1``/``l``/``i``, ``0``/``O``, ``rn``/``m``), so where two copies differ
only by such a slip, the copy the rest of the card supports wins.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from ingest.schema import FieldValue

CONFUSABLE = [("rn", "m"), ("vv", "w"), ("cl", "d"), ("1", "i"), ("l", "i"), ("j", "i"), ("|", "i"),
              ("!", "i"), ("í", "i"), ("0", "o"), ("5", "s"), ("8", "b")]  # fmt: skip


def confusion_key(text: str) -> str:
    """A host with the letters OCR confuses mapped to one of each ('lliton' and '1ilton' agree)."""
    key = text.lower()
    for a, b in CONFUSABLE:
        key = key.replace(a, b)
    return key


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def host_of(value: str) -> str:
    host = value.split("@")[-1].lower()
    host = re.sub(r"^(?:https?://)?(?:www\d?\.)?", "", host)
    return host.split("/")[0]


LEGAL_FORMS = {
    "inc", "ltd", "llc", "llp", "plc", "co", "corp", "gmbh", "ag", "sa", "sas", "srl", "bv", "nv", "kk",
}  # fmt: skip


def registered_domain(host: str) -> str:
    """The domain a firm registered: the last two labels, three under a second level ('co.uk')."""
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in SECOND_LEVEL_LABELS else 2
    return ".".join(labels[-keep:])


SECOND_LEVEL_LABELS = {
    "co", "com", "ac", "ad", "ne", "or", "org", "net", "gov", "edu", "go", "gr", "ltd", "plc",
}  # fmt: skip


def one_slip_apart(a: str, b: str) -> bool:
    """Equal once confusable letters are mapped, or one letter apart in a long enough host."""
    if a == b:
        return False
    if confusion_key(a) == confusion_key(b):
        return True
    if min(len(a), len(b)) < 6:
        return False
    return SequenceMatcher(None, a, b).ratio() >= 1 - 1.0 / max(len(a), len(b)) - 0.01


def support(host: str, card_text: str, companies: list[str]) -> float:
    """How much the rest of the card backs one spelling of a host."""
    label = host.split(".")[0]
    text = _fold(card_text)
    score = float(len(re.findall(re.escape(label), text)))
    for company in companies:
        key = re.sub(r"[^a-z0-9]", "", _fold(company))
        words = [w for w in re.findall(r"[a-z0-9]+", _fold(company)) if w not in LEGAL_FORMS]
        initials = "".join(w[0] for w in words)  # 'Internet Initiative Japan Inc.' -> iij
        if len(label) >= 3 and (label in key or label == initials):
            score += 2.0
    if re.search(r"[a-z][0-9]|[0-9][a-z]", label):  # digits inside letters: an OCR slip more likely
        score -= 1.0
    return score


def _replace_host(value: FieldValue, old: str, new: str) -> None:
    index = value.value.lower().find(old)
    if index >= 0:
        value.value = value.value[:index] + new + value.value[index + len(old) :]
        value.method += "+domain_agreement"


def reconcile_domains(
    emails: list[FieldValue], websites: list[FieldValue], companies: list[str], card_text: str
) -> None:
    """Make e-mail domains and website hosts that are one OCR slip apart agree (in place).

    The spelling the card supports more (printed more often, matching the company) wins; on a
    tie the e-mail's, which passed an address-syntax check, and wins over a website's.
    """
    values = [*emails, *websites]
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            host_a, host_b = host_of(a.value), host_of(b.value)
            if not one_slip_apart(host_a, host_b):
                # 'eu.jil.com' beside 'africa.jll.com': sub-domains differ, the firm's domain is one
                host_a, host_b = registered_domain(host_a), registered_domain(host_b)
                if not one_slip_apart(host_a, host_b):
                    continue
            score_a = support(host_a, card_text, companies)
            score_b = support(host_b, card_text, companies)
            a_is_email, b_is_email = "@" in a.value, "@" in b.value
            if score_a > score_b or (score_a == score_b and a_is_email and not b_is_email):
                _replace_host(b, host_b, host_a)
            elif score_b > score_a or (score_a == score_b and b_is_email and not a_is_email):
                _replace_host(a, host_a, host_b)


def local_part_names(email: str) -> list[str]:
    """The name-like pieces of an e-mail's local part ('jane.doe' -> ['jane', 'doe'])."""
    local = email.split("@")[0].lower()
    return [p for p in re.split(r"[._\-+\d]+", local) if len(p) >= 2]
