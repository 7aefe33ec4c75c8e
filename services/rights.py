"""A person's rights over their data on other people's cards: opt-out, restriction, erasure, a child's flag.

A person is named by an e-mail, a phone, or a full name with their company. Each is
normalised and hashed with the suppression salt (:mod:`services.subjects`), so the same hash
finds their subject and outlives them in ``Suppression`` — the trace an erasure keeps,
together with the disclosure ledger and an audit event that holds counts, never their data.
Every function works inside the caller's session and only flushes; the caller commits, so
a request is all or nothing.

Choices a privacy officer should know (README, "Privacy operations"):

* Erasure deletes the person's records, images, OCR text, invites and notices. Their
  disclosures become ledger rows (partner, time, categories; keyed by their hashes) and every
  partner that received their data finds their identifiers in its suppression feed
  (:mod:`services.recipients`), so Shine-the-Light still answers and recipients are told.
* An opt-out, restriction or erasure with no known subject still writes the suppression rows
  for the contact given, so the person's future uploads are suppressed from the first card.
* Suppression rows cover the contact given *and* every key of the subjects it resolves to:
  opting out by e-mail also suppresses the phone and the name + company on their cards.
* A restriction (GDPR Art. 18) keeps the data, visible to its uploaders, used for nothing
  else until a privacy admin lifts it; it is the only suppression that can be lifted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.blobs import BlobStore
from models.enums import SuppressionReason
from models.tables import ContactRecord, Principal, Suppression
from services import recipients
from services.audit import audit
from services.deletion import DeletionResult, after_commit, delete_records, finish_deletion
from services.invites import release_claims_of
from services.subjects import Keys, resolve_contact, subject_keys, suppress

OPT_OUT_SCOPES: dict[str, SuppressionReason] = {
    "invites": SuppressionReason.opt_out_invites,
    "partners": SuppressionReason.opt_out_partners,
}


@dataclass(frozen=True)
class Person:
    """How a request names a person: an e-mail, a phone, or a full name with the company."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    company: str | None = None
    region: str | None = None


@dataclass
class OptOutResult:
    scopes: list[str]
    subject_ids: list[int]
    keys_suppressed: int  # distinct hashes now suppressed for each scope
    rows_added: int  # suppression rows that did not exist before
    recipients_told: int = 0  # partners whose suppression feed got the person's identifiers

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "found": self.found}


@dataclass(kw_only=True)
class ErasureResult(DeletionResult):
    reason: str
    subject_ids: list[int]
    keys_suppressed: int
    ledger_rows: int = 0
    recipients_told: int = 0

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def counts(self) -> dict[str, int]:
        """What was erased, as numbers only: the shape of the audit event."""
        return {
            "keys_suppressed": self.keys_suppressed,
            "ledger_rows": self.ledger_rows,
            "recipients_told": self.recipients_told,
            **super().counts(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "found": self.found,
            "subject_ids": self.subject_ids,
            **self.counts(),
            "blobs_deleted": len(self.blobs_deleted),
        }


@dataclass
class RestrictionResult:
    restricted: bool
    subject_ids: list[int]
    keys: int

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "found": self.found}


def _person_keys(session: Session, person: Person, salt: bytes) -> tuple[Keys, list[int]]:
    """The keys of the person given and of every subject they resolve to, and those subjects."""
    given, subjects = resolve_contact(
        session,
        email=person.email,
        phone=person.phone,
        salt=salt,
        region=person.region,
        name=person.name,
        company=person.company,
    )
    subject_ids = [s.id for s in subjects if s.id is not None]
    return given | subject_keys(session, subject_ids), subject_ids


def opt_out(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    scopes: set[str],
    actor: Principal | None,
    salt: bytes,
    region: str | None = None,
) -> OptOutResult:
    """Stop invites and/or partner sharing for a person: every uploader's copy, now and for future cards.

    Policy reads suppression through the subject's keys, so suppressing the hashes is enough:
    no record is changed, and a card uploaded later resolves to keys that are already
    suppressed. An opt-out of partners is put in the feed of every partner that had the data.
    """
    unknown = set(scopes) - set(OPT_OUT_SCOPES)
    if not scopes or unknown:
        raise BadArgumentsError(
            f"Opt-out scopes are {', '.join(OPT_OUT_SCOPES)}; got {', '.join(sorted(scopes)) or 'none'}."
        )
    person = Person(email, phone, name, company, region)
    keys, subject_ids = _person_keys(session, person, salt)
    added = sum(suppress(session, keys, OPT_OUT_SCOPES[scope]) for scope in sorted(scopes))
    if "invites" in scopes:
        release_claims_of(session, subject_ids)  # a mailer holding one must not send now
    told = 0
    if "partners" in scopes:
        told = _tell_recipients(session, actor, person, subject_ids, keys, SuppressionReason.opt_out_partners)
    audit(
        session,
        "opted_out",
        actor,
        subject_id=subject_ids[0] if len(subject_ids) == 1 else None,
        scopes=sorted(scopes),
        subject_ids=subject_ids,
        keys=len(keys),
    )
    session.flush()
    return OptOutResult(sorted(scopes), subject_ids, len(keys), added, told)


def _tell_recipients(
    session: Session,
    actor: Principal | None,
    person: Person,
    subject_ids: list[int],
    keys: Keys,
    reason: SuppressionReason,
) -> int:
    partners = recipients.recipients(session, subject_ids, {h for _, h in keys})
    identifiers = recipients.identifiers_of(
        session, subject_ids, email=person.email, phone=person.phone, region=person.region
    )
    recipients.notify(session, actor, partners=partners, identifiers=identifiers, reason=reason)
    return len(partners) if identifiers else 0


def restrict(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    actor: Principal | None,
    salt: bytes,
    region: str | None = None,
) -> RestrictionResult:
    """Restrict a person (Art. 18): their cards stay, visible to their uploaders, used for nothing else."""
    keys, subject_ids = _person_keys(session, Person(email, phone, name, company, region), salt)
    suppress(session, keys, SuppressionReason.restricted)
    release_claims_of(session, subject_ids)
    audit(session, "restricted", actor, subject_ids=subject_ids, keys=len(keys))
    session.flush()
    return RestrictionResult(True, subject_ids, len(keys))


def lift_restriction(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    actor: Principal | None,
    salt: bytes,
    region: str | None = None,
) -> RestrictionResult:
    """Lift a restriction: the person's cards qualify again as their uses and attestations say."""
    keys, subject_ids = _person_keys(session, Person(email, phone, name, company, region), salt)
    session.execute(
        delete(Suppression).where(
            col(Suppression.key_hash).in_({h for _, h in keys}),
            col(Suppression.reason) == SuppressionReason.restricted,
        )
    )
    audit(session, "restriction_lifted", actor, subject_ids=subject_ids, keys=len(keys))
    session.flush()
    return RestrictionResult(False, subject_ids, len(keys))


def erase(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    reason: SuppressionReason = SuppressionReason.erased,
    region: str | None = None,
) -> ErasureResult:
    """Delete everything stored about a person; keep the suppression hashes, the ledger, a counts-only event.

    Deleted: the subject's records with their values, corrections, attestations and uses; the
    sources they came from (with every record on them: the image shows the person) and their
    extraction runs (the OCR text); invites and notices; the subject and its keys. Their
    disclosures become ledger rows first and every recipient is told. The image blobs no
    remaining source uses are deleted after the commit. Child rows are deleted explicitly
    rather than trusting ON DELETE CASCADE, which a hand-migrated schema may lack.
    """
    if reason not in (SuppressionReason.erased, SuppressionReason.child):
        raise BadArgumentsError("An erasure's reason is 'erased' or 'child'.")
    person = Person(email, phone, name, company, region)
    keys, subject_ids = _person_keys(session, person, salt)
    suppress(session, keys, reason)
    result = ErasureResult(reason=reason.value, subject_ids=subject_ids, keys_suppressed=len(keys))
    result.recipients_told = _tell_recipients(session, actor, person, subject_ids, keys, reason)
    result.ledger_rows = recipients.keep_ledger(session, subject_ids, {h for _, h in keys})

    if subject_ids:
        own = select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids))
        delete_records(
            session,
            [r for r in session.exec(own).all() if r is not None],
            actor=actor,
            blobs=blobs,
            subject_ids=subject_ids,
            result=result,
            audit_action=None,  # one "erased" event below, with the counts
        )
    else:
        # Nothing to delete, but the WAL may still hold pages of earlier deletions.
        after_commit(session, lambda engine: finish_deletion(engine, blobs, result))

    audit(session, "erased", actor, reason=reason.value, **result.counts())
    session.flush()
    return result


def flag_child(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    region: str | None = None,
) -> ErasureResult:
    """A subject under 13: erase them, and refuse their cards from now on (every path that stores checks)."""
    return erase(
        session,
        email=email,
        phone=phone,
        name=name,
        company=company,
        actor=actor,
        salt=salt,
        blobs=blobs,
        reason=SuppressionReason.child,
        region=region,
    )
