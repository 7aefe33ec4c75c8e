"""Who a card is about: subjects resolved from hashed contacts, and the suppressions they carry.

A person is recognised across uploaders by the salted hashes (:mod:`models.keys`) of their
normalised e-mails, E.164 phones, and full name with a company or web domain, kept as
:class:`SubjectKey` rows. A card whose keys meet two subjects proves they are one person:
the subjects are merged. Suppressions (:class:`Suppression`) are hashes too, so they outlive
the records and catch the person's future cards.

One rule for every path that sets an identifier — upload, import, async job, correction —
:func:`admit`: a child's card is refused wherever it comes from, and a correction that moves
a card to another person carries the first person's suppressions along (a changed e-mail
must not make an opted-out person usable again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import insert, update
from sqlmodel import Session, SQLModel, col, select

from core.errors import BadArgumentsError
from ingest.schema import Extraction
from models.enums import KeyKind, SuppressionReason
from models.keys import key_hash, name_org_keys, normalise_email, normalise_phone, values_keys
from models.tables import ContactRecord, Notice, Subject, SubjectKey, Suppression, utcnow
from services.audit import audit
from services.errors import SubjectSuppressedError
from services.values import record_values

#: The fields whose values make up a person's keys (a correction of one re-resolves the person).
IDENTIFYING_FIELDS = ("emails", "phones", "names", "companies", "websites")
#: Keys that identify a person well enough to write to them or tell a partner about them.
CONTACT_KINDS = (KeyKind.email.value, KeyKind.phone.value)

Keys = set[tuple[str, str]]  # {(kind, hash)}


class _Value(NamedTuple):
    field: str
    value: str


# --- keys of values -------------------------------------------------------------------------


def extraction_keys(extraction: Extraction, salt: bytes) -> Keys:
    """The subject keys a new card brings."""
    values = [_Value(name, v.value) for name, found in extraction.fields.items() for v in found]
    return values_keys(values, salt, extraction.region)


def record_keys(session: Session, record: ContactRecord, salt: bytes) -> Keys:
    """The subject keys a stored record's current values bring."""
    assert record.id is not None
    return values_keys(record_values(session, record.id), salt, record.region)


def contact_hashes(
    *,
    email: str | None,
    phone: str | None,
    salt: bytes,
    region: str | None = None,
    name: str | None = None,
    company: str | None = None,
) -> Keys:
    """``{(kind, hash)}`` of the contact given; refuses a missing or unparseable one (no silent no-op).

    A person is named by an e-mail, a phone, or a full name with their company (or its web
    domain): the last finds cards that carry neither e-mail nor phone.
    """
    has_name = bool((name or "").strip() and (company or "").strip())
    if not (email or "").strip() and not (phone or "").strip() and not has_name:
        raise BadArgumentsError("Give the person's e-mail address, phone number, or full name and company.")
    keys: Keys = set()
    if email and email.strip():
        normal = normalise_email(email)
        if normal is None:
            raise BadArgumentsError("The e-mail address given is not a valid address.")
        keys.add((KeyKind.email.value, key_hash("email", normal, salt)))
    if phone and phone.strip():
        normal = normalise_phone(phone, region)
        if normal is None:
            raise BadArgumentsError("The phone number given cannot be parsed; give it as +<country><number>.")
        keys.add((KeyKind.phone.value, key_hash("phone", normal, salt)))
    if has_name:
        assert name is not None and company is not None
        found = name_org_keys([name], [company], [company], salt)
        if not found:
            raise BadArgumentsError("Give the person's full name (given and family name) with the company.")
        keys |= found
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
    session: Session,
    *,
    email: str | None,
    phone: str | None,
    salt: bytes,
    region: str | None,
    name: str | None = None,
    company: str | None = None,
) -> tuple[Keys, list[Subject]]:
    """The keys of the contact given and the subjects they name."""
    given = contact_hashes(email=email, phone=phone, salt=salt, region=region, name=name, company=company)
    return given, subjects_for(session, {h for _, h in given})


def find_subject(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    salt: bytes,
    region: str | None = None,
    name: str | None = None,
    company: str | None = None,
) -> Subject | None:
    """The (oldest) subject known by this e-mail, phone or name and company, or None."""
    _, subjects = resolve_contact(
        session, email=email, phone=phone, salt=salt, region=region, name=name, company=company
    )
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
    return bool(reasons_in_force(session, hashes) & reasons)


def reasons_in_force(session: Session, hashes: set[str]) -> set[SuppressionReason]:
    """Every suppression reason that applies to any of these hashes."""
    if not hashes:
        return set()
    rows = session.exec(select(Suppression.reason).where(col(Suppression.key_hash).in_(hashes))).all()
    return {SuppressionReason(r) for r in rows}


def subject_reasons(session: Session, subject_id: int | None) -> set[SuppressionReason]:
    """The suppressions in force for a subject (through any of its keys)."""
    if subject_id is None:
        return set()
    return reasons_in_force(session, {h for _, h in subject_keys(session, [subject_id])})


def admit(session: Session, keys: Keys) -> set[SuppressionReason]:
    """The one check of every path that sets an identifier: refuse a child's card, else say what applies.

    The suppression may name another e-mail, phone or name of the same person, known from
    other cards, so the hashes of every subject the keys meet are checked too.
    """
    if not keys:
        return set()
    reasons = reasons_in_force(session, person_hashes(session, keys))
    if SuppressionReason.child in reasons:
        raise SubjectSuppressedError("This card belongs to a person whose data must not be kept.")
    return reasons


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
    _keep_one_notice(session, source_id, target_id)
    for model, column in _subject_references():
        session.exec(update(model).where(column == source_id).values({column.key: target_id}))
    session.flush()
    audit(session, "subjects_merged", None, subject_id=target_id, merged_subject_id=source_id)
    session.delete(source)
    session.flush()


def _keep_one_notice(session: Session, source_id: int, target_id: int) -> None:
    """A person owes one notice: keep the sent one, else the one due first."""
    notices = list(
        session.exec(select(Notice).where(col(Notice.subject_id).in_([source_id, target_id]))).all()
    )
    if len(notices) < 2:
        return
    notices.sort(key=lambda n: (n.sent_at is None, n.sent_at or n.due_at, n.due_at))
    for extra in notices[1:]:
        session.delete(extra)
    session.flush()


def _subject_references() -> list[tuple[type[SQLModel], Any]]:
    """``(table class, column)`` for every mapped column that is a foreign key to ``subject.id``."""
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # every table class, including ones added later
        for column in mapper.columns:
            if any(fk.column.table.name == "subject" for fk in column.foreign_keys):
                found.append((mapper.class_, getattr(mapper.class_, column.key)))
    return sorted(found, key=lambda pair: pair[0].__name__)


def refresh_subject(session: Session, record: ContactRecord, before: Keys, salt: bytes) -> None:
    """Re-resolve the record's person from its current values, after a correction changed its keys.

    The new keys go through :func:`admit` (a child's e-mail typed into a card is refused). A
    record left with no identifying value keeps its subject: a suppression of that person
    must keep applying to it. A record that moves to another person takes the suppressions
    of the first along. Keys the correction dropped are forgotten unless another card of the
    person still shows them.
    """
    session.flush()
    after = record_keys(session, record, salt)
    if after == before:
        return
    admit(session, after)
    previous = record.subject_id
    carried = subject_reasons(session, previous)
    record.subject_id = resolve_subject(session, after) or previous
    if record.subject_id != previous:
        for reason in sorted(carried):
            suppress(session, after, reason)
    if previous is not None:
        forget_unbacked_keys(session, before - after, previous, salt)


def forget_unbacked_keys(session: Session, dropped: Keys, subject_id: int, salt: bytes) -> None:
    """Drop keys a correction replaced unless another card of the person still shows them.

    A misreading left in the index would keep identifying the person: a stranger whose real
    address it is would be merged into them, with their suppressions and disclosures.
    """
    if not dropped:
        return
    backed = _backed_keys(session, subject_id, salt)
    for kind, hashed in dropped:
        key = session.exec(
            select(SubjectKey).where(SubjectKey.kind == kind, SubjectKey.key_hash == hashed)
        ).first()
        if key is not None and key.subject_id == subject_id and (kind, hashed) not in backed:
            session.delete(key)
    session.flush()


def _backed_keys(session: Session, subject_id: int, salt: bytes) -> Keys:
    """The keys that the current values of the subject's records produce."""
    keys: Keys = set()
    for record in session.exec(select(ContactRecord).where(ContactRecord.subject_id == subject_id)).all():
        keys |= record_keys(session, record, salt)
    return keys
