"""A person's rights over their data on other people's cards: opt-out, erasure, and a child's flag.

A person is named by an e-mail or a phone. Both are normalised and hashed with the
suppression salt (:mod:`services.subjects`), so the same hash finds their subject and
outlives them in ``Suppression`` — the only trace an erasure keeps, together with an audit
event that holds counts, never their data. Every function works inside the caller's session
and only flushes; the caller commits, so an opt-out or erasure is all or nothing.

Choices a privacy officer should know:

* Erasure deletes the person's disclosure and invite rows too: the log keeps no trace of an
  erased person (a Shine-the-Light request after erasure answers "nothing"). The audit log
  keeps its earlier events (ids and codes only, append-only) and gains one "erased" event
  with counts.
* An opt-out or erasure with no known subject still writes the suppression rows for the
  contact given, so the person's future uploads are suppressed from the first card.
* Suppression rows cover the contact given *and* every e-mail/phone key of the subjects it
  resolves to: opting out by e-mail also suppresses the phone on their cards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.blobs import BlobStore
from models.enums import SuppressionReason
from models.tables import ContactRecord, Principal
from services.audit import audit
from services.deletion import DeletionResult, after_commit, delete_records, finish_deletion
from services.subjects import resolve_contact, subject_keys, suppress

OPT_OUT_SCOPES: dict[str, SuppressionReason] = {
    "invites": SuppressionReason.opt_out_invites,
    "partners": SuppressionReason.opt_out_partners,
}


@dataclass
class OptOutResult:
    scopes: list[str]
    subject_ids: list[int]
    keys_suppressed: int  # distinct e-mail/phone hashes now suppressed for each scope
    rows_added: int  # suppression rows that did not exist before

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

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def counts(self) -> dict[str, int]:
        """What was erased, as numbers only: the shape of the audit event."""
        return {"keys_suppressed": self.keys_suppressed, **super().counts()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "found": self.found,
            "subject_ids": self.subject_ids,
            **self.counts(),
            "blobs_deleted": len(self.blobs_deleted),
        }


def opt_out(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    scopes: set[str],
    actor: Principal | None,
    salt: bytes,
    region: str | None = None,
) -> OptOutResult:
    """Stop invites and/or partner sharing for a person: every uploader's copy, now and for future cards.

    Policy reads suppression through the subject's keys, so suppressing the hashes is enough:
    no record is changed, and a card uploaded later resolves to keys that are already suppressed.
    """
    unknown = set(scopes) - set(OPT_OUT_SCOPES)
    if not scopes or unknown:
        raise BadArgumentsError(
            f"Opt-out scopes are {', '.join(OPT_OUT_SCOPES)}; got {', '.join(sorted(scopes)) or 'none'}."
        )
    given, subjects = resolve_contact(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    keys = given | subject_keys(session, subject_ids)
    added = sum(suppress(session, keys, OPT_OUT_SCOPES[scope]) for scope in sorted(scopes))
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
    return OptOutResult(sorted(scopes), subject_ids, len(keys), added)


def erase(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    reason: SuppressionReason = SuppressionReason.erased,
    region: str | None = None,
) -> ErasureResult:
    """Delete everything stored about a person; keep only suppression hashes and a counts-only audit event.

    Deleted: the subject's records with their values, corrections, attestations and uses; the
    sources they came from (with every record on them: the image shows the person) and their
    extraction runs (the OCR text); disclosure and invite rows; the subject and its keys. The
    image blobs no remaining source uses are deleted after the commit. Child rows are deleted
    explicitly rather than trusting ON DELETE CASCADE, which a hand-migrated schema may lack.
    """
    if reason not in (SuppressionReason.erased, SuppressionReason.child):
        raise BadArgumentsError("An erasure's reason is 'erased' or 'child'.")
    given, subjects = resolve_contact(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    keys = given | subject_keys(session, subject_ids)
    suppress(session, keys, reason)
    result = ErasureResult(reason=reason.value, subject_ids=subject_ids, keys_suppressed=len(keys))

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
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    region: str | None = None,
) -> ErasureResult:
    """A subject under 13: erase them, and refuse their cards from now on (``store_extraction`` checks)."""
    return erase(
        session,
        email=email,
        phone=phone,
        actor=actor,
        salt=salt,
        blobs=blobs,
        reason=SuppressionReason.child,
        region=region,
    )
