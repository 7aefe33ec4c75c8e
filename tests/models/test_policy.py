"""The purpose policy, as a specification: which records each purpose may use, and which fields it sees.

Every test runs on SQLite and on PostgreSQL. The big table :data:`EXPECTED` is the policy a
privacy officer signs off: for every qualifying condition, the purposes for which a record
in that condition qualifies. One parametrized test checks every purpose against every row,
through both :func:`qualifying_records` and :func:`record_qualifies`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import policy
from models.enums import Basis, SuppressionReason, Use
from models.policy import (
    POLICY,
    FieldRule,
    UnknownPurposeError,
    qualifying_records,
    record_qualifies,
    rule_for,
    visible_field_names,
    visible_fields,
)
from models.tables import (
    Attestation,
    ContactRecord,
    FieldValue,
    Notice,
    Principal,
    Subject,
    Suppression,
    utcnow,
)
from services.records import AttestationInput, set_attestation, set_uses
from services.subjects import resolve_contact, subject_keys

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

StoreCard = Callable[..., ContactRecord]
ATTESTED = AttestationInput(basis=Basis.received_in_person, text_version="test-1")

PURPOSES = ("own", "invites", "catalog", "partner_sharing", "notices")
EMAIL = "Dana.Reyes@Example.com"
PHONE = "+14155550134"
ANOTHER_PHONE = "+442079460958"


def test_the_policy_covers_exactly_its_purposes() -> None:
    assert set(POLICY) == set(PURPOSES)


# --- qualifying records: every purpose x every condition --------------------------------------

R = SuppressionReason
EVERY = frozenset(PURPOSES)
OWN_ONLY = frozenset({"own"})


def _but(*purposes: str) -> frozenset[str]:
    return EVERY - set(purposes)


#: condition -> the purposes for which a record in that condition qualifies.
EXPECTED: dict[str, frozenset[str]] = {
    "use_permitted_and_attested": EVERY,
    "no_use_permitted": OWN_ONLY,
    "only_other_uses_permitted": OWN_ONLY | {"notices"},  # notices: any use beyond the address book
    "attestation_absent": OWN_ONLY,
    "attestation_revoked": OWN_ONLY,
    "attestation_replaced": EVERY,
    "suppressed_opt_out_invites": _but("invites"),
    "suppressed_opt_out_partners": _but("partner_sharing"),
    "suppressed_erased": OWN_ONLY,
    "suppressed_child": OWN_ONLY,
    "suppressed_restricted": OWN_ONLY,
    "suppressed_user": _but("invites"),
    "suppressed_opt_out_invites_via_other_uploaders_key": _but("invites"),
    "suppressed_opt_out_partners_via_other_uploaders_key": _but("partner_sharing"),
    "suppressed_erased_via_other_uploaders_key": OWN_ONLY,
    "suppressed_child_via_other_uploaders_key": OWN_ONLY,
    "suppressed_restricted_via_other_uploaders_key": OWN_ONLY,
    "someone_else_suppressed": EVERY,
    "subject_is_user": _but("invites"),
    "record_without_email_or_phone": frozenset({"own", "catalog"}),  # a person by name + company only
    "record_without_any_person": frozenset({"own", "catalog"}),  # a company's card: no name either
    "linked_by_name_and_company_to_an_erased_person": OWN_ONLY,
    "notice_not_yet_sent": _but("partner_sharing"),
    "notice_overdue": _but("partner_sharing", "catalog"),
}


@dataclass
class World:
    """What a condition needs to build a record: the database and the principals."""

    session: Session
    store_card: StoreCard
    suppress: Callable[..., Suppression]
    uploader: Principal
    other_uploader: Principal
    salt: bytes

    def suppress_person(self, reason: SuppressionReason, *, email: str) -> None:
        """Suppress every key of the person the e-mail names (as an opt-out or erasure does)."""
        keys, subjects = resolve_contact(self.session, email=email, phone=None, salt=self.salt, region=None)
        for _, hashed in keys | subject_keys(self.session, [s.id for s in subjects if s.id is not None]):
            self.session.add(Suppression(key_hash=hashed, kind="any", reason=reason))


def _use_of(purpose: str) -> Use:
    """A use the purpose accepts; 'own' needs none, so its records carry the invites use."""
    uses = POLICY[purpose].uses
    return Use.invites if uses is None or Use.invites in uses else sorted(uses)[0]


def _arrange(world: World, purpose: str, condition: str) -> ContactRecord:
    """Store the uploader's record of Dana in ``condition``, for ``purpose``."""
    use = _use_of(purpose)
    uses: set[Use] = {use}
    attested = True
    card: dict[str, object] = {"name": "Dana Reyes", "email": EMAIL, "company": "Example Ltd"}
    if condition == "no_use_permitted":
        uses = set()
    elif condition == "only_other_uses_permitted":
        uses = set(Use) - {use}
    elif condition == "attestation_absent":
        attested = False
    elif condition in ("record_without_email_or_phone", "linked_by_name_and_company_to_an_erased_person"):
        card = {"name": "Dana Reyes", "company": "Example Ltd"}
    elif condition == "record_without_any_person":
        card = {"company": "Example Ltd", "website": "example.com"}
    record = world.store_card(world.uploader, uses=uses, attested=attested, **card)
    if condition == "linked_by_name_and_company_to_an_erased_person":
        # Dana's other card (e-mail and name + company) links the two; then Dana is erased by e-mail.
        world.store_card(world.other_uploader, name="Dana Reyes", email=EMAIL, company="Example Ltd")
        world.suppress_person(R.erased, email=EMAIL)

    if condition == "attestation_revoked":
        set_attestation(world.session, world.uploader, record, None)
    elif condition == "attestation_replaced":
        set_attestation(world.session, world.uploader, record, None)
        set_attestation(world.session, world.uploader, record, ATTESTED)
    elif condition.startswith("suppressed_"):
        reason = R(condition.removeprefix("suppressed_").removesuffix("_via_other_uploaders_key"))
        if condition.endswith("_via_other_uploaders_key"):
            # A later card of the same person, from someone else, adds a phone the suppression names.
            world.store_card(world.other_uploader, name="D. Reyes", email=EMAIL.lower(), phone=PHONE)
            world.suppress(reason, phone=PHONE)
        else:
            world.suppress(reason, email=EMAIL)
    elif condition == "someone_else_suppressed":
        for reason in R:
            world.suppress(reason, email="someone.else@example.org")
    elif condition == "subject_is_user":
        subject = world.session.get(Subject, record.subject_id)
        assert subject is not None
        subject.is_user = True
    notice = world.session.exec(select(Notice).where(Notice.subject_id == record.subject_id)).first()
    if notice is not None and condition in ("notice_not_yet_sent", "notice_overdue"):
        notice.sent_at = None  # store_card marked it sent
        if condition == "notice_overdue":
            notice.due_at = utcnow() - timedelta(days=1)
        world.session.add(notice)
    world.session.commit()
    return record


def _cases() -> list[Any]:
    return [
        pytest.param(
            purpose,
            condition,
            purpose in qualifying,
            id=f"{purpose}-{condition}-{'qualifies' if purpose in qualifying else 'excluded'}",
        )
        for condition, qualifying in EXPECTED.items()
        for purpose in PURPOSES
    ]


@pytest.fixture
def world(
    session: Session,
    store_card: StoreCard,
    suppress: Callable[..., Suppression],
    uploader: Principal,
    other_uploader: Principal,
    salt: bytes,
) -> World:
    return World(session, store_card, suppress, uploader, other_uploader, salt)


@pytest.mark.parametrize(("purpose", "condition", "qualifies"), _cases())
def test_record_qualifies_for_purpose_in_condition(
    world: World, partner: Principal, purpose: str, condition: str, qualifies: bool
) -> None:
    record = _arrange(world, purpose, condition)
    reader = world.uploader if purpose == "own" else partner
    listed = {r.id for r in world.session.exec(qualifying_records(purpose, principal=reader)).all()}
    assert (record.id in listed) is qualifies
    assert record_qualifies(world.session, record.id, purpose, principal=reader) is qualifies


# --- own: the uploader's address book ------------------------------------------------------------


def test_own_lists_only_the_readers_records(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    mine = store_card(uploader, email=EMAIL)
    theirs = store_card(other_uploader, email=EMAIL)
    assert [r.id for r in session.exec(qualifying_records("own", principal=uploader))] == [mine.id]
    assert not record_qualifies(session, theirs.id, "own", principal=uploader)


def test_own_lists_unattested_records_without_uses(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, email=EMAIL, attested=False, uses=())
    assert record_qualifies(session, record.id, "own", principal=uploader)


def test_own_needs_the_reading_principal() -> None:
    with pytest.raises(ValueError, match="principal"):
        qualifying_records("own")
    with pytest.raises(ValueError, match="principal"):
        qualifying_records("own", principal=Principal(name="unsaved", role="uploader"))


def test_an_unattested_record_is_usable_by_its_uploader_only_whatever_its_uses(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, email=EMAIL, attested=False, uses=set(Use))
    usable = {p for p in PURPOSES if record_qualifies(session, record.id, p, principal=uploader)}
    assert usable == {"own"}


def test_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(UnknownPurposeError):
        qualifying_records("marketing")
    with pytest.raises(UnknownPurposeError):
        visible_fields("marketing", [])


def test_each_qualifying_record_is_listed_once(
    session: Session, store_card: StoreCard, suppress: Callable[..., Suppression], uploader: Principal
) -> None:
    """Several uses, past attestations and keys must not multiply a record in a listing."""
    record = store_card(uploader, email=EMAIL, phone=PHONE, uses=set(Use))
    set_attestation(session, uploader, record, ATTESTED)
    suppress(R.opt_out_invites, email="someone.else@example.org")
    session.commit()
    for purpose in PURPOSES:
        ids = [r.id for r in session.exec(qualifying_records(purpose, principal=uploader))]
        assert ids == [record.id], purpose


def test_suppression_reaches_records_merged_into_the_person_later(
    session: Session,
    store_card: StoreCard,
    suppress: Callable[..., Suppression],
    uploader: Principal,
    other_uploader: Principal,
) -> None:
    """Two cards seen as two people, then a third card proves they are one: the opt-out covers all."""
    by_email = store_card(uploader, email=EMAIL, uses={Use.partner_sharing})
    by_phone = store_card(uploader, phone=ANOTHER_PHONE, uses={Use.partner_sharing})
    suppress(R.opt_out_partners, phone=ANOTHER_PHONE)
    assert record_qualifies(session, by_email.id, "partner_sharing")
    store_card(other_uploader, email=EMAIL, phone=ANOTHER_PHONE)
    assert not record_qualifies(session, by_email.id, "partner_sharing")
    assert not record_qualifies(session, by_phone.id, "partner_sharing")


# --- revocation takes effect on the very next query ---------------------------------------------


@pytest.mark.parametrize("purpose", ["invites", "catalog", "partner_sharing"])
def test_removing_a_use_excludes_the_record_on_the_next_query(
    session: Session, store_card: StoreCard, uploader: Principal, purpose: str
) -> None:
    record = store_card(uploader, email=EMAIL, uses=set(Use))
    assert record_qualifies(session, record.id, purpose)
    set_uses(session, uploader, record, set(Use) - {_use_of(purpose)})
    assert not record_qualifies(session, record.id, purpose)


@pytest.mark.parametrize("purpose", ["invites", "catalog", "partner_sharing"])
def test_revoking_the_attestation_excludes_the_record_on_the_next_query(
    session: Session, store_card: StoreCard, uploader: Principal, purpose: str
) -> None:
    record = store_card(uploader, email=EMAIL, uses=set(Use))
    assert record_qualifies(session, record.id, purpose)
    set_attestation(session, uploader, record, None)
    assert not record_qualifies(session, record.id, purpose)


def test_a_revocation_committed_elsewhere_is_seen_by_the_next_query(
    engine: Engine, session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    """Another process (the API) revokes; a long-lived reader (an export) sees it at once."""
    record = store_card(uploader, email=EMAIL, uses=set(Use))
    with Session(engine) as reader:
        assert record_qualifies(reader, record.id, "partner_sharing")
        set_uses(session, uploader, record, {Use.catalog})
        session.commit()
        assert not record_qualifies(reader, record.id, "partner_sharing")
        set_attestation(session, uploader, record, None)
        session.commit()
        assert not record_qualifies(reader, record.id, "catalog")


def test_a_suppression_added_after_storing_excludes_the_record_on_the_next_query(
    session: Session, store_card: StoreCard, suppress: Callable[..., Suppression], uploader: Principal
) -> None:
    record = store_card(uploader, email=EMAIL, uses=set(Use))
    assert record_qualifies(session, record.id, "catalog")
    suppress(R.erased, email=EMAIL.upper())
    assert not record_qualifies(session, record.id, "catalog")


def test_revoking_leaves_the_attestation_row_as_evidence(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, email=EMAIL, uses=set(Use))
    set_attestation(session, uploader, record, None)
    rows = session.exec(select(Attestation).where(Attestation.record_id == record.id)).all()
    assert len(rows) == 1 and rows[0].revoked_at is not None


# --- visible fields --------------------------------------------------------------------------


def _value(field: str, type: str | None = None) -> FieldValue:
    return FieldValue(record_id=1, field=field, value=f"{field}:{type}", type=type)


PHONE_TYPES = ("work", "mobile", "fax", "other", None)
ALL_VALUES = [
    *(_value(f) for f in ("names", "job_titles", "departments", "companies", "emails", "websites")),
    *(_value("phones", t) for t in PHONE_TYPES),
    _value("addresses"),
    _value("social", "linkedin"),
]


def _seen(purpose: str) -> set[tuple[str, str | None]]:
    return {(v.field, v.type) for v in visible_fields(purpose, ALL_VALUES)}


def test_own_sees_every_value() -> None:
    assert visible_fields("own", ALL_VALUES) == ALL_VALUES


def test_invites_see_only_names_and_emails() -> None:
    assert _seen("invites") == {("names", None), ("emails", None)}


@pytest.mark.parametrize(
    ("field", "type"),
    [("names", None), ("emails", None), ("phones", "mobile"), ("phones", "other"), ("phones", None)],
    ids=["names", "emails", "mobile-phones", "other-phones", "untyped-phones"],
)
def test_catalog_never_sees_personal_contact_details(field: str, type: str | None) -> None:
    assert (field, type) not in _seen("catalog")


def test_catalog_sees_business_details_work_and_fax_phones() -> None:
    assert _seen("catalog") == {
        ("companies", None),
        ("websites", None),
        ("job_titles", None),
        ("departments", None),
        ("addresses", None),
        ("phones", "work"),
        ("phones", "fax"),
    }


def test_partner_sharing_sees_work_phones_but_not_mobiles() -> None:
    seen = _seen("partner_sharing")
    assert ("phones", "work") in seen
    assert not {("phones", "mobile"), ("phones", "other"), ("phones", None), ("phones", "fax")} & seen


def test_partner_sharing_sees_names_emails_and_business_details_but_not_social() -> None:
    fields = {f for f, _ in _seen("partner_sharing")}
    assert fields == {
        "names",
        "job_titles",
        "departments",
        "companies",
        "emails",
        "websites",
        "phones",
        "addresses",
    }


@pytest.mark.parametrize("purpose", PURPOSES)
def test_visible_field_names_match_visible_fields(purpose: str) -> None:
    assert set(visible_field_names(purpose)) == {v.field for v in visible_fields(purpose, ALL_VALUES)}


# --- the docstring table a privacy officer reads is the policy the code applies -----------------

#: The officer's words in the docstring table, and what they mean in POLICY.
FIELD_WORDS: dict[str, FieldRule] = {
    "names": FieldRule("names"),
    "e-mails": FieldRule("emails"),
    "job titles": FieldRule("job_titles"),
    "departments": FieldRule("departments"),
    "companies": FieldRule("companies"),
    "websites": FieldRule("websites"),
    "addresses": FieldRule("addresses"),
    "work phones": FieldRule("phones", frozenset({"work"})),
    "fax phones": FieldRule("phones", frozenset({"fax"})),
}
EXCLUSION_WORDS: dict[str, SuppressionReason | str] = {
    "opted out of invites": R.opt_out_invites,
    "opted out of partners": R.opt_out_partners,
    "erased": R.erased,
    "a child": R.child,
    "restricted": R.restricted,
}
USER_WORDS = "already a user"  # the "user" suppression and the subject's flag, both


def _docstring_rows() -> dict[str, dict[str, str]]:
    doc = policy.__doc__ or ""
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue  # the separator row
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def _words(cell: str) -> list[str]:
    return [w.strip() for w in re.split(r",| and ", cell) if w.strip()]


def test_the_docstring_table_has_one_row_per_purpose() -> None:
    assert list(_docstring_rows()) == list(POLICY)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_docstring_table_states_the_use_and_attestation(purpose: str) -> None:
    row, rule = _docstring_rows()[purpose], rule_for(purpose)
    if rule.uses is None:
        assert row["needs use"] == "(none)"
    elif rule.uses == frozenset(Use):
        assert row["needs use"] == "any"
    else:
        assert set(_words(row["needs use"])) == {u.value for u in rule.uses}
    assert row["needs attestation"] == ("yes" if rule.needs_attestation else "no")
    assert row["needs an identified person"] == ("yes" if rule.needs_identified_person else "no")
    assert row["needs a notice"] == rule.notice.value


@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_docstring_table_states_the_exclusions(purpose: str) -> None:
    row, rule = _docstring_rows()[purpose], rule_for(purpose)
    cell = row["excluded when the person is"]
    words = [] if cell.startswith("(never") else _words(cell)
    stated = {EXCLUSION_WORDS[w] for w in words if w != USER_WORDS}
    stated |= {R.user, "is_user"} if USER_WORDS in words else set()
    assert stated == set(rule.suppressed_by) | ({"is_user"} if rule.excludes_users else set())


@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_docstring_table_states_the_fields(purpose: str) -> None:
    row, rule = _docstring_rows()[purpose], rule_for(purpose)
    cell = row["fields it may see"]
    if rule.fields is None:
        assert cell == "everything"
        return
    stated: dict[str, set[str] | None] = {}
    for word in cell.split(", "):
        meant = FIELD_WORDS[word]
        if meant.phone_types is None:
            stated[meant.field] = None
        else:
            stated.setdefault(meant.field, set()).update(meant.phone_types)  # type: ignore[union-attr]
    coded = {f.field: (set(f.phone_types) if f.phone_types is not None else None) for f in rule.fields}
    assert stated == coded
