"""Who a card is about: subjects resolved from hashed e-mails and phones, and their suppressions.

A person is recognised across uploaders by the salted hashes of their normalised e-mails
and E.164 phones (:mod:`models.keys`), kept as :class:`SubjectKey` rows. A card whose keys
meet two subjects proves they are one person: the subjects are merged. Suppressions
(:class:`Suppression`) are hashes too, so they outlive the records and catch the person's
future cards. One rule for every path that sets an identifier: :func:`identifying_keys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, SQLModel, col, select

from core.errors import BadArgumentsError
from ingest.schema import Extraction
from models.enums import SuppressionReason
from models.keys import contact_keys, key_hash, normalise_email, normalise_phone
from models.tables import ContactRecord, FieldValue, Subject, SubjectKey, Suppression, utcnow
from services.audit import audit
from services.values import record_values

#: The fields whose values identify a person across cards (hashed into :class:`SubjectKey`).
IDENTIFYING_FIELDS = ("emails", "phones")

Keys = set[tuple[str, str]]  # {(kind, hash)}


# --- keys of values -------------------------------------------------------------------------


def identifying_keys(
    emails: Iterable[str], phones: Iterable[str], salt: bytes, region: str | None = None
) -> Keys:
    """The subject keys of a record's e-mails and phones: one rule for storing and for correcting.

    Only E.164 phones (a leading ``+``) count: a digit run that OCR could not place in a
    country would be hashed under a guessed one, and could link two strangers.
    """
    return contact_keys(list(emails), [p for p in phones if p.strip().startswith("+")], salt, region)


def extraction_keys(extraction: Extraction, salt: bytes) -> Keys:
    """The subject keys a new card brings."""
    return identifying_keys(
        (v.value for v in extraction.fields.get("emails", [])),
        (v.value for v in extraction.fields.get("phones", [])),
        salt,
        extraction.region,
    )


def values_keys(values: Iterable[FieldValue], salt: bytes, region: str | None) -> Keys:
    """The subject keys a stored record's current values bring."""
    values = list(values)
    return identifying_keys(
        (v.value for v in values if v.field == "emails"),
        (v.value for v in values if v.field == "phones"),
        salt,
        region,
    )


def contact_hashes(*, email: str | None, phone: str | None, salt: bytes, region: str | None = None) -> Keys:
    """``{(kind, hash)}`` of the contact given; refuses a missing or unparseable one (no silent no-op)."""
    if not (email or "").strip() and not (phone or "").strip():
        raise BadArgumentsError("Give the person's e-mail address or phone number.")
    keys: Keys = set()
    if email and email.strip():
        normal = normalise_email(email)
        if normal is None:
            raise BadArgumentsError("The e-mail address given is not a valid address.")
        keys.add(("email", key_hash("email", normal, salt)))
    if phone and phone.strip():
        normal = normalise_phone(phone, region)
        if normal is None:
            raise BadArgumentsError("The phone number given cannot be parsed; give it as +<country><number>.")
        keys.add(("phone", key_hash("phone", normal, salt)))
    return keys


# --- finding people -------------------------------------------------------------------------


def subjects_for(session: Session, hashes: Iterable[str]) -> list[Subject]:
    """Every subject owning one of the hashes (an e-mail and a phone may still be two subjects)."""
    wanted = set(hashes)
    if not wanted:
        return []
    ids = select(SubjectKey.subject_id).where(col(SubjectKey.key_hash).in_(wanted))
    return list(session.exec(select(Subject).where(col(Subject.id).in_(ids)).order_by(col(Subject.id))).all())


def resolve_contact(
    session: Session, *, email: str | None, phone: str | None, salt: bytes, region: str | None
) -> tuple[Keys, list[Subject]]:
    """The keys of the contact given and the subjects they name."""
    given = contact_hashes(email=email, phone=phone, salt=salt, region=region)
    return given, subjects_for(session, {h for _, h in given})


def find_subject(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    salt: bytes,
    region: str | None = None,
) -> Subject | None:
    """The (oldest) subject known by this e-mail or phone, or None."""
    _, subjects = resolve_contact(session, email=email, phone=phone, salt=salt, region=region)
    return subjects[0] if subjects else None


def subject_keys(session: Session, subject_ids: Sequence[int]) -> Keys:
    """Every key of these subjects."""
    if not subject_ids:
        return set()
    rows = session.exec(select(SubjectKey).where(col(SubjectKey.subject_id).in_(list(subject_ids)))).all()
    return {(k.kind, k.key_hash) for k in rows}


def person_hashes(session: Session, keys: Keys) -> set[str]:
    """These key hashes and every other hash of the subjects that own any of them."""
    hashes = {h for _, h in keys}
    owners = select(SubjectKey.subject_id).where(col(SubjectKey.key_hash).in_(hashes))
    known = session.exec(select(SubjectKey.key_hash).where(col(SubjectKey.subject_id).in_(owners))).all()
    return hashes | set(known)


# --- suppressions ---------------------------------------------------------------------------


def is_suppressed(session: Session, hashes: set[str], reasons: set[SuppressionReason]) -> bool:
    """Whether any of these hashes is suppressed for any of these reasons."""
    query = select(Suppression.id).where(
        col(Suppression.key_hash).in_(hashes), col(Suppression.reason).in_(list(reasons))
    )
    return session.exec(query).first() is not None


def suppress(session: Session, keys: Keys, reason: SuppressionReason) -> int:
    """Insert the missing (hash, reason) rows; idempotent, and safe against a concurrent same request."""
    if not keys:
        return 0
    existing = set(
        session.exec(
            select(Suppression.key_hash).where(
                col(Suppression.key_hash).in_({h for _, h in keys}), Suppression.reason == reason
            )
        ).all()
    )
    rows = [
        {"key_hash": h, "kind": kind, "reason": reason, "created_at": utcnow()}
        for kind, h in sorted(keys)
        if h not in existing
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(Suppression).on_conflict_do_nothing(index_elements=["key_hash", "reason"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Suppression).on_conflict_do_nothing(index_elements=["key_hash", "reason"])
    else:
        stmt = insert(Suppression)
    session.exec(stmt.values(rows))
    return len(rows)


# --- resolving and merging ------------------------------------------------------------------


def resolve_subject(session: Session, keys: Keys) -> int | None:
    """The subject owning any of these keys (merging subjects the keys prove are one), or a new one."""
    if not keys:
        return None
    hashes = {h for _, h in keys}
    existing = session.exec(select(SubjectKey).where(col(SubjectKey.key_hash).in_(hashes))).all()
    subject_ids = sorted({k.subject_id for k in existing})
    if not subject_ids:
        subject = Subject()
        session.add(subject)
        session.flush()
        assert subject.id is not None
        subject_id = subject.id
    else:
        subject_id = subject_ids[0]
        for other in subject_ids[1:]:  # the same person was two subjects until this card linked them
            _merge_subject(session, other, subject_id)
    known = {(k.kind, k.key_hash) for k in existing}
    for kind, hashed in keys - known:
        session.add(SubjectKey(subject_id=subject_id, kind=kind, key_hash=hashed))
    session.flush()
    return subject_id


def _merge_subject(session: Session, source_id: int, target_id: int) -> None:
    """Fold subject ``source_id`` into ``target_id``: everything that points at the person moves.

    Every table with a foreign key to ``subject`` is repointed before the source row is
    deleted, so no ``ON DELETE CASCADE`` (invites: the invite cooldown) or ``SET NULL``
    (disclosures: the disclosure log) silently drops the person's history, including tables
    added after this function was written. "Already a user" survives from either side.
    """
    source, target = session.get(Subject, source_id), session.get(Subject, target_id)
    assert source is not None and target is not None
    target.is_user = target.is_user or source.is_user
    for model, column in _subject_references():
        session.exec(update(model).where(column == source_id).values({column.key: target_id}))
    session.flush()
    audit(session, "subjects_merged", None, subject_id=target_id, merged_subject_id=source_id)
    session.delete(source)
    session.flush()


def _subject_references() -> list[tuple[type[SQLModel], Any]]:
    """``(table class, column)`` for every mapped column that is a foreign key to ``subject.id``."""
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # every table class, including ones added later
        for column in mapper.columns:
            if any(fk.column.table.name == "subject" for fk in column.foreign_keys):
                found.append((mapper.class_, getattr(mapper.class_, column.key)))
    return sorted(found, key=lambda pair: pair[0].__name__)


def refresh_subject(session: Session, record: ContactRecord, salt: bytes) -> None:
    """Re-resolve the record's person from its current e-mails and phones (after a correction).

    A record left with no identifying value keeps its subject: a suppression of that person
    must keep applying to it.
    """
    assert record.id is not None
    session.flush()
    keys = values_keys(record_values(session, record.id), salt, record.region)
    record.subject_id = resolve_subject(session, keys) or record.subject_id


def forget_unbacked_keys(
    session: Session, field: str, old_value: str, salt: bytes, region: str | None
) -> None:
    """Drop the key of a replaced e-mail or phone unless another card of the person still shows it.

    A misreading left in the index would keep identifying the person: a stranger whose real
    address it is would be merged into them, with their suppressions and disclosures.
    """
    dropped = identifying_keys(
        [old_value] if field == "emails" else [], [old_value] if field == "phones" else [], salt, region
    )
    for kind, hashed in dropped:
        key = session.exec(
            select(SubjectKey).where(SubjectKey.kind == kind, SubjectKey.key_hash == hashed)
        ).first()
        if key is not None and (kind, hashed) not in _backed_keys(session, key.subject_id, salt):
            session.delete(key)
    session.flush()


def _backed_keys(session: Session, subject_id: int, salt: bytes) -> Keys:
    """The keys that the current values of the subject's records produce."""
    keys: Keys = set()
    for record in session.exec(select(ContactRecord).where(ContactRecord.subject_id == subject_id)).all():
        assert record.id is not None
        keys |= values_keys(record_values(session, record.id), salt, record.region)
    return keys
