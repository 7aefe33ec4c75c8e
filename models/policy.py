"""The purpose policy: the one place that decides what a purpose may read.

A privacy officer reviews the table below, which states ``POLICY`` in words (a test keeps
the two in step). Every read path for a purpose goes through :func:`qualifying_records`
(or :func:`record_qualifies` at the moment of use) and :func:`visible_fields`; nothing else
reads records for a purpose. The uploader's own access is a purpose too (``own``).

| purpose         | needs use       | needs attestation | needs an identified person | needs a notice | excluded when the person is                                                  | fields it may see |
|-----------------|-----------------|-------------------|----------------------------|----------------|------------------------------------------------------------------------------|-------------------|
| own             | (none)          | no                | no                         | no             | (never: it is the uploader's own address book)                               | everything |
| invites         | invites         | yes               | yes                        | no             | opted out of invites, erased, a child, restricted, already a user             | names, e-mails |
| catalog         | catalog         | yes               | no                         | not overdue    | erased, a child, restricted                                                  | companies, websites, job titles, departments, addresses, work phones, fax phones |
| partner_sharing | partner_sharing | yes               | yes                        | sent           | opted out of partners, erased, a child, restricted                           | names, job titles, departments, companies, e-mails, websites, work phones, addresses |
| notices         | any             | yes               | yes                        | no             | erased, a child, restricted                                                  | names, e-mails |

How to read it:

- ``own`` lists only the reading uploader's own records, attested or not, whatever their uses.
- *needs use*: the uploader marked the record for that use (``any``: for invites, the
  catalog or partner sharing). *needs attestation*: the record has a current (not revoked)
  attestation. So a record without an attestation is usable by its uploader only,
  whatever its uses say.
- *who a person is*: the person behind a card is recognised, across every uploader's
  cards, by a hashed e-mail, a hashed E.164 phone, or a hashed full name together with the
  company name or its web domain (free-mail domains do not count). The last only links a
  card without e-mail or phone to the same person; it does not identify them.
- *an identified person*: the person has an e-mail or phone key (from this card or another
  card of theirs). Without one, an opt-out cannot be checked and nobody can be written to,
  so the purpose does not use the record (fail closed).
- *needs a notice*: ``sent``: the notice owed to the person (GDPR Art. 14, see
  ``services/notices.py``) has been sent; ``not overdue``: a notice is not past its deadline
  unsent (one month after the person's data was first usable beyond its uploader). A card
  with no person at all (no e-mail, phone, or name with a company) owes no notice.
- *excluded*: a suppression matches any key known for the person — e-mail, phone, or name
  with company — from any uploader's card, including cards stored after the suppression.
  *restricted* (GDPR Art. 18) is the one suppression a privacy admin can lift.
- Phones are typed work, mobile, fax or other (unlabelled). Mobiles and other phones never
  leave the uploader's address book; ``social`` handles neither.
- Nothing is cached: a use removed, an attestation revoked, a suppression added or a notice
  falling overdue applies to the very next query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, exists, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from ingest.schema import FIELD_NAMES
from models.enums import KeyKind, SuppressionReason, Use
from models.tables import (
    Attestation,
    ContactRecord,
    Notice,
    PermittedUse,
    Principal,
    Subject,
    SubjectKey,
    Suppression,
    utcnow,
)

Select = SelectOfScalar[ContactRecord]


class ValueLike(Protocol):
    """What the rules read of a value: a stored :class:`~models.tables.FieldValue`, or a row of its columns."""

    @property
    def field(self) -> str: ...

    @property
    def type(self) -> str | None: ...


V = TypeVar("V", bound=ValueLike)


class NoticeRule(StrEnum):
    """What a purpose needs of the notice owed to the person."""

    none = "no"
    sent = "sent"
    not_overdue = "not overdue"


@dataclass(frozen=True)
class FieldRule:
    """A field a purpose may see, optionally only some phone types."""

    field: str
    phone_types: frozenset[str] | None = None

    def allows(self, value: ValueLike) -> bool:
        return value.field == self.field and (
            self.phone_types is None or (value.type or "other") in self.phone_types
        )


@dataclass(frozen=True)
class PurposeRule:
    """What a record needs to qualify for one purpose, and which of its values the purpose sees."""

    purpose: str
    uses: frozenset[Use] | None  # any of these; None: no permitted use needed (the uploader's own records)
    needs_attestation: bool
    suppressed_by: frozenset[SuppressionReason]
    fields: tuple[FieldRule, ...] | None  # None: every field
    excludes_users: bool = False
    categories: tuple[str, ...] = ()  # data categories disclosed, for the disclosure log
    # Only records of an identified person (an e-mail or phone key): without one, opt-outs and
    # "already a user" cannot be checked, so the purpose must not use the record (fail closed).
    needs_identified_person: bool = False
    notice: NoticeRule = NoticeRule.none


ALL = None
_R = SuppressionReason
NOT_OWN = frozenset(Use)
POLICY: dict[str, PurposeRule] = {
    "own": PurposeRule("own", uses=None, needs_attestation=False, suppressed_by=frozenset(), fields=ALL),
    "invites": PurposeRule(
        "invites",
        uses=frozenset({Use.invites}),
        needs_attestation=True,
        suppressed_by=frozenset({_R.opt_out_invites, _R.erased, _R.child, _R.restricted, _R.user}),
        fields=(FieldRule("names"), FieldRule("emails")),
        excludes_users=True,
        needs_identified_person=True,
    ),
    "catalog": PurposeRule(
        "catalog",
        uses=frozenset({Use.catalog}),
        needs_attestation=True,
        suppressed_by=frozenset({_R.erased, _R.child, _R.restricted}),
        fields=(
            FieldRule("companies"),
            FieldRule("websites"),
            FieldRule("job_titles"),
            FieldRule("departments"),
            FieldRule("addresses"),
            FieldRule("phones", frozenset({"work", "fax"})),
        ),
        notice=NoticeRule.not_overdue,
    ),
    "partner_sharing": PurposeRule(
        "partner_sharing",
        uses=frozenset({Use.partner_sharing}),
        needs_attestation=True,
        suppressed_by=frozenset({_R.opt_out_partners, _R.erased, _R.child, _R.restricted}),
        fields=(
            FieldRule("names"),
            FieldRule("job_titles"),
            FieldRule("departments"),
            FieldRule("companies"),
            FieldRule("emails"),
            FieldRule("websites"),
            FieldRule("phones", frozenset({"work"})),
            FieldRule("addresses"),
        ),
        categories=("identifiers", "professional_information", "contact_information"),
        needs_identified_person=True,
        notice=NoticeRule.sent,
    ),
    "notices": PurposeRule(
        "notices",
        uses=NOT_OWN,
        needs_attestation=True,
        suppressed_by=frozenset({_R.erased, _R.child, _R.restricted}),
        fields=(FieldRule("names"), FieldRule("emails")),
        needs_identified_person=True,
    ),
}


class UnknownPurposeError(KeyError):
    """A purpose the policy does not know: refused rather than read with no rules."""


def rule_for(purpose: str) -> PurposeRule:
    """The rule of ``purpose``, or :class:`UnknownPurposeError`."""
    try:
        return POLICY[purpose]
    except KeyError as exc:
        raise UnknownPurposeError(purpose) from exc


def qualifying_records(purpose: str, *, principal: Principal | None = None) -> Select:
    """A SELECT of the ContactRecord rows ``purpose`` may use (add ordering and paging to it).

    ``own`` needs the principal: an uploader reads only its own records, attested or not.
    For every other purpose a record qualifies when one of its uses is permitted, it carries
    an unrevoked attestation, its person is not suppressed for the purpose (by any of the
    person's key hashes), and the person rules of the table hold. Each record appears once:
    conditions are EXISTS tests.
    """
    rule = rule_for(purpose)
    query = select(ContactRecord)
    if rule.uses is None:
        if principal is None or principal.id is None:
            raise ValueError("the 'own' purpose needs the reading principal")
        return query.where(ContactRecord.uploader_id == principal.id)
    record_id, subject_id = col(ContactRecord.id), col(ContactRecord.subject_id)
    query = query.where(
        exists().where(and_(col(PermittedUse.record_id) == record_id, col(PermittedUse.use).in_(rule.uses)))
    )
    if rule.needs_attestation:
        query = query.where(
            exists().where(and_(col(Attestation.record_id) == record_id, col(Attestation.revoked_at).is_(None)))
        )
    if rule.needs_identified_person:
        query = query.where(
            exists().where(
                and_(col(SubjectKey.subject_id) == subject_id, col(SubjectKey.kind).in_(_CONTACT_KINDS))
            )
        )
    if rule.suppressed_by:
        suppressed = exists().where(
            and_(
                col(SubjectKey.subject_id) == subject_id,
                col(Suppression.key_hash) == col(SubjectKey.key_hash),
                col(Suppression.reason).in_(list(rule.suppressed_by)),
            )
        )
        query = query.where(or_(subject_id.is_(None), ~suppressed))
    if rule.excludes_users:
        query = query.where(
            or_(
                subject_id.is_(None),
                ~exists().where(and_(col(Subject.id) == subject_id, col(Subject.is_user).is_(True))),
            )
        )
    if rule.notice is NoticeRule.sent:
        query = query.where(
            exists().where(and_(col(Notice.subject_id) == subject_id, col(Notice.sent_at).is_not(None)))
        )
    elif rule.notice is NoticeRule.not_overdue:
        overdue = exists().where(
            and_(
                col(Notice.subject_id) == subject_id,
                col(Notice.sent_at).is_(None),
                col(Notice.due_at) < utcnow(),
            )
        )
        query = query.where(or_(subject_id.is_(None), ~overdue))
    return query


_CONTACT_KINDS: list[Any] = [KeyKind.email.value, KeyKind.phone.value]


def record_qualifies(
    session: Session, record_id: int, purpose: str, *, principal: Principal | None = None
) -> bool:
    """Re-check one record at the moment of use (a use or attestation may have been revoked since)."""
    query = qualifying_records(purpose, principal=principal).where(ContactRecord.id == record_id)
    return session.exec(query).first() is not None


def visible_fields(purpose: str, values: Iterable[V]) -> list[V]:
    """Only the values ``purpose`` may see."""
    rule = rule_for(purpose)
    if rule.fields is None:
        return list(values)
    return [v for v in values if any(f.allows(v) for f in rule.fields)]


def visible_field_names(purpose: str) -> Sequence[str]:
    """The fields ``purpose`` may see some values of (phones may still be filtered by type)."""
    rule = rule_for(purpose)
    if rule.fields is None:
        return FIELD_NAMES
    return tuple(dict.fromkeys(f.field for f in rule.fields))
