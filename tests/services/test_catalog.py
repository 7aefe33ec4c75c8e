"""The company catalog (models.catalog) as a specification, on SQLite and PostgreSQL.

Companies are derived from every stored record, but shown only through records the
``catalog`` purpose may use *now*: these tests store synthetic cards (no OCR), then change
uses, attestations and subjects' rights and read again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.blobs import BlobStore
from models.enums import SuppressionReason, Use
from models.tables import CatalogCompany, CatalogLink, ContactRecord, Principal
from services import rights
from services.catalog import CompanyView, get_company, list_companies, normalise_company, web_domain
from services.errors import NotFoundError
from services.paging import decode_cursor, encode_cursor
from services.records import set_attestation, set_uses

CATALOG = [Use.catalog]
StoreCard = Callable[..., ContactRecord]  # the store_card fixture (tests/db_fixtures.py)


def everything(session: Session, **filters: object) -> list[CompanyView]:
    """All pages of list_companies, following the cursor."""
    found: list[CompanyView] = []
    cursor = None
    while True:
        page, cursor = list_companies(session, cursor=cursor, limit=2, **filters)  # type: ignore[arg-type]
        found += page
        if cursor is None:
            return found


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Corp.", "ACME Inc"),
        ("The Acme Company, Ltd.", "acme"),
        ("Müller GmbH", "Muller AG"),
        ("Nord-Süd S.A.", "nord sud"),
        ("ソニー株式会社", "ソニー株式会社"),
    ],
)
def test_names_differing_by_case_accents_punctuation_or_legal_suffix_share_a_key(a: str, b: str) -> None:
    assert normalise_company(a) == normalise_company(b) != ""


def test_different_names_have_different_keys() -> None:
    assert normalise_company("Acme Robotics") != normalise_company("Acme")
    assert normalise_company("Inc.") == ""  # only a legal word: no company


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("http://www2.acme.co.uk:8080?x=1", "acme.co.uk"),
        ("ACME.COM.", "acme.com"),
        ("https://", None),
        ("not a domain", None),
    ],
)
def test_web_domain(value: str, domain: str | None) -> None:
    assert web_domain(value) == domain


def test_companies_are_deduplicated_by_name_case_and_legal_suffix(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    store_card(uploader, company="Acme Corp.", job_title="CTO", uses=CATALOG)
    store_card(other_uploader, company="ACME Inc", job_title="Head of Sales", uses=CATALOG)
    store_card(uploader, company="Globex GmbH", uses=CATALOG)
    companies = everything(session)
    assert sorted(normalise_company(c.name) for c in companies) == ["acme", "globex"]
    acme = next(c for c in companies if normalise_company(c.name) == "acme")
    assert acme.sources == 2
    assert sorted(acme.job_titles) == ["CTO", "Head of Sales"]
    assert session.exec(select(CatalogCompany)).all().__len__() == 2


def test_companies_are_deduplicated_by_web_domain(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    store_card(uploader, company="Initech", website="https://www.initech.com", uses=CATALOG)
    store_card(other_uploader, company="Initech Software Labs", website="initech.com/contact", uses=CATALOG)
    store_card(uploader, company="Initrode", website="initrode.com", uses=CATALOG)
    companies = everything(session)
    assert [(c.domain, c.sources) for c in companies] == [("initech.com", 2), ("initrode.com", 1)]
    assert companies[0].name == "Initech"  # the value whose key is the company's


def test_only_values_of_qualifying_records_and_catalog_fields_are_shown(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    # First seen on a card the catalog may NOT use: its name, domain and country must not show.
    store_card(
        other_uploader,
        company="Hooli Inc.",
        website="hooli-secret.example",
        job_title="Secret Title",
        address="1 Hidden Road",
        region="DE",
        uses=[Use.invites],
    )
    store_card(
        uploader,
        company="HOOLI",
        name="Gavin Belson",
        email="gavin@hooli.example",
        job_title="CEO",
        phone="+14155550134",
        mobile="+14155550199",
        region="US",
        uses=CATALOG,
    )
    store_card(uploader, company="Hooli", job_title="Unattested Title", attested=False, uses=CATALOG)
    [company] = everything(session)
    assert company.name == "HOOLI"
    assert company.domain is None
    assert company.country == "US"
    assert company.job_titles == ["CEO"]
    assert company.addresses == [] and company.websites == []
    assert company.phones == [{"value": "+14155550134", "type": "work"}]  # never the mobile
    assert company.sources == 1
    shown = repr(company)
    for secret in (
        "Gavin",
        "gavin@",
        "Secret Title",
        "hooli-secret",
        "Hidden Road",
        "Unattested",
        "+14155550199",
    ):
        assert secret not in shown
    assert get_company(session, company.id) == company


def test_a_company_no_qualifying_record_vouches_for_is_not_listed(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, company="Vandelay Industries", uses=[Use.invites, Use.partner_sharing])
    store_card(uploader, company="Kramerica", attested=False, uses=CATALOG)
    assert everything(session) == []
    company_id = session.exec(select(CatalogLink.company_id).where(CatalogLink.record_id == record.id)).one()
    with pytest.raises(NotFoundError):
        get_company(session, company_id)
    with pytest.raises(NotFoundError):
        get_company(session, 2**40)  # out of the id range: still just "not found"


def test_revoking_the_catalog_use_hides_the_company_on_the_next_call(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, company="Pied Piper", job_title="CEO", uses=CATALOG)
    [company] = everything(session)
    set_uses(session, uploader, record, {Use.invites})
    session.commit()
    assert everything(session) == []
    with pytest.raises(NotFoundError):
        get_company(session, company.id)
    set_uses(session, uploader, record, {Use.catalog})
    session.commit()
    assert [c.id for c in everything(session)] == [company.id]


def test_revoking_the_attestation_hides_the_company_on_the_next_call(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, company="Pied Piper", uses=CATALOG)
    other = store_card(uploader, company="Pied Piper Inc", job_title="CTO", uses=CATALOG)
    [company] = everything(session)
    assert company.sources == 2
    set_attestation(session, uploader, other, None)
    session.commit()
    [company] = everything(session)
    assert company.sources == 1 and company.job_titles == []
    set_attestation(session, uploader, record, None)
    session.commit()
    assert everything(session) == []


def test_a_child_or_erased_persons_card_does_not_vouch(
    session: Session, store_card: StoreCard, uploader: Principal, suppress
) -> None:  # type: ignore[no-untyped-def]
    store_card(uploader, company="Wonka", email="kid@wonka.example", uses=CATALOG)
    assert len(everything(session)) == 1
    suppress(SuppressionReason.child, email="kid@wonka.example")
    assert everything(session) == []


def test_erasure_removes_links_and_orphan_companies(
    session: Session,
    store_card: StoreCard,
    uploader: Principal,
    other_uploader: Principal,
    salt: bytes,
    blobs: BlobStore,
) -> None:
    gone = store_card(uploader, company="Umbrella Corp", email="alice@umbrella.example", uses=CATALOG)
    store_card(uploader, company="Umbrella Corporation", email="alice@umbrella.example", uses=[])
    kept = store_card(uploader, company="Tyrell Corp", email="bob@tyrell.example", uses=CATALOG)
    store_card(other_uploader, company="Tyrell", email="carol@tyrell.example", uses=CATALOG)
    gone_company = session.exec(select(CatalogLink.company_id).where(CatalogLink.record_id == gone.id)).one()
    rights.erase(session, email="alice@umbrella.example", actor=None, salt=salt, blobs=blobs)
    session.commit()
    assert session.get(CatalogCompany, gone_company) is None
    assert session.exec(select(CatalogLink).where(CatalogLink.company_id == gone_company)).all() == []
    [tyrell] = everything(session)
    assert tyrell.sources == 2
    rights.erase(session, email="bob@tyrell.example", actor=None, salt=salt, blobs=blobs)
    session.commit()
    assert session.exec(select(CatalogLink).where(CatalogLink.record_id == kept.id)).all() == []
    [tyrell] = everything(session)
    assert tyrell.sources == 1


def test_cursor_paging_visits_every_company_once_in_id_order(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    for n in range(7):
        store_card(uploader, company=f"Company {n}", uses=CATALOG if n != 3 else [])
    first, cursor = list_companies(session, limit=3)
    assert len(first) == 3 and cursor is not None
    second, cursor = list_companies(session, limit=3, cursor=cursor)
    assert len(second) == 3 and cursor is None  # no cursor: the walk is over
    ids = [c.id for c in first + second]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert "Company 3" not in [c.name for c in first + second]
    whole, last = list_companies(session, limit=6)
    assert [c.id for c in whole] == ids and last is None


@pytest.mark.parametrize(
    "cursor", ["nonsense", encode_cursor(-1), encode_cursor(2**40), "eyJhZnRlciI6IngifQ"]
)
def test_a_bad_cursor_is_refused(session: Session, cursor: str) -> None:
    with pytest.raises(BadArgumentsError):
        list_companies(session, cursor=cursor)


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_cursor(None) is None and decode_cursor("") is None


def test_filters(session: Session, store_card: StoreCard, uploader: Principal) -> None:
    store_card(
        uploader,
        company="Société Générale S.A.",
        website="https://societegenerale.fr",
        region="FR",
        uses=CATALOG,
    )
    store_card(uploader, company="Siemens AG", website="siemens.de", region="DE", uses=CATALOG)
    store_card(uploader, company="General Motors", website="gm.com", region="US", uses=CATALOG)
    names = lambda **f: sorted(c.name for c in everything(session, **f))  # noqa: E731
    assert names(q="generale") == ["Société Générale S.A."]
    assert names(q="GÉNÉRAL") == ["General Motors", "Société Générale S.A."]
    assert names(domain="https://www.siemens.de/en") == ["Siemens AG"]
    assert names(domain="siemens.com") == []
    assert names(country="de") == ["Siemens AG"]
    assert names(q="motors", country="FR") == []
    assert names(q="Inc.") == names()  # a query of legal words only filters nothing


def test_updated_since_follows_the_qualifying_records(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    old = store_card(uploader, company="Old Co", uses=CATALOG)
    store_card(uploader, company="New Co", uses=CATALOG)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    row = session.get(ContactRecord, old.id)
    assert row is not None
    row.updated_at = long_ago
    session.commit()
    since = datetime(2024, 1, 1, tzinfo=UTC)
    assert [c.name for c in everything(session, updated_since=since)] == ["New Co"]
    # The same instant written with another offset, and a naive time taken as UTC.
    assert [c.name for c in everything(session, updated_since=since.astimezone(timedelta_zone(5)))] == [
        "New Co"
    ]
    assert len(everything(session, updated_since=datetime(2019, 12, 31))) == 2
    [old_view] = [c for c in everything(session) if c.name == "Old Co"]
    assert old_view.updated_at == long_ago
    # Granting the use later is a change: the company shows up for an incremental reader.
    set_uses(session, uploader, row, {Use.catalog, Use.invites})
    session.commit()
    assert sorted(c.name for c in everything(session, updated_since=since)) == ["New Co", "Old Co"]


def timedelta_zone(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_extreme_times_do_not_fail(session: Session, store_card: StoreCard, uploader: Principal) -> None:
    store_card(uploader, company="Any Co", uses=CATALOG)
    earliest = datetime(1, 1, 1, tzinfo=timedelta_zone(5))
    assert len(everything(session, updated_since=earliest)) == 1


def test_links_are_made_for_every_record_and_companies_are_shared(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    a = store_card(uploader, company="Stark Industries", uses=[])
    b = store_card(uploader, company="STARK INDUSTRIES INC", uses=CATALOG)
    store_card(uploader, name="No Company Here", uses=CATALOG)
    links = session.exec(select(CatalogLink).order_by(col(CatalogLink.record_id))).all()
    assert [link.record_id for link in links] == [a.id, b.id]
    assert len({link.company_id for link in links}) == 1
