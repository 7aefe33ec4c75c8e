"""Key hashing: how a person is recognised without storing their contact twice, and how API keys are kept.

* A person's subject keys are salted hashes (HMAC-SHA256) of their normalised e-mails,
  E.164 phones, and full name with a company or web domain. The subject index and the
  suppression list recognise a person by them without holding the contact; without the
  salt they are useless. E-mail and phone keys *identify* a person (an invitation or a
  partner needs one); a name + company key only links a card that has neither to the same
  person, so that opt-outs and erasure reach it too.
* Partners are told of erasures and opt-outs with plain SHA-256 hashes of the normalised
  e-mail or phone they were sent (:func:`identifier_sha256`): they hold the value already,
  and our salted hashes would mean nothing to them.
* API keys are stored as a plain SHA-256: a key is 256 random bits, not a password a person
  chose, and one indexed lookup finds its principal.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from models.enums import KeyKind

LEGAL_WORDS = {
    "inc", "llc", "ltd", "limited", "co", "corp", "corporation", "company", "gmbh", "ag", "sa", "sarl", "srl",
    "bv", "nv", "plc", "pte", "pty", "kk", "llp", "lp", "spa", "ab", "as", "oy", "kg", "the", "sas", "se",
    "sl", "ltda", "pvt", "oyj",
}  # fmt: skip
# Mail hosts that do not say where a person works: no name + domain key from them.
FREE_MAIL = {
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "mail.ru",
    "yandex.ru", "qq.com", "163.com", "126.com", "proton.me", "protonmail.com", "zoho.com", "naver.com",
}  # fmt: skip
POSTNOMINALS = re.compile(r",?\s*\b(?:ph\.?\s?d|m\.?\s?d|mba|msc|bsc|cpa|pe|esq|jr|sr|ii|iii)\b\.?", re.I)
KEY_FILE = "suppression.salt"


class ValueLike(Protocol):
    @property
    def field(self) -> str: ...

    @property
    def value(self) -> str: ...


# --- normalisation --------------------------------------------------------------------------


def normalise_email(email: str) -> str | None:
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.casefold()


def normalise_phone(phone: str, region: str | None = None) -> str | None:
    """E.164, or None when the text is not a parseable number."""
    try:
        parsed = phonenumbers.parse(phone, region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def normalise_company(name: str) -> str:
    """Case, accents, punctuation and legal suffixes do not make another company.

    Letters of any script count (a name in kana or Cyrillic has a key too); only the Latin
    legal suffixes in :data:`LEGAL_WORDS` are dropped. Dots and apostrophes join rather
    than split, so ``S.A.`` is ``sa`` and ``McDonald's`` is ``mcdonalds``.
    """
    text = re.sub(r"[.'’]", "", _fold(name))
    words = [w for w in re.findall(r"[^\W_]+", text) if w not in LEGAL_WORDS]
    return " ".join(words)


def normalise_name(name: str) -> str | None:
    """A person's full name as a key: case, accents, punctuation, titles after it do not count.

    None for fewer than two words: a single given name would link strangers.
    """
    words = re.findall(r"[^\W\d_]+", _fold(POSTNOMINALS.sub("", name)))
    return " ".join(words) if len(words) >= 2 else None


def web_domain(value: str) -> str | None:
    """``https://www.Acme.com:443/about`` → ``acme.com``: the host that identifies a company."""
    host = re.sub(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\d?\.)?", "", value.strip().casefold())
    host = re.split(r"[/?#]", host, maxsplit=1)[0].rsplit("@", 1)[-1].split(":")[0].strip(".")
    return host if re.fullmatch(r"[\w.-]+", host) else None  # no spaces, controls or NULs


# --- hashing --------------------------------------------------------------------------------


def hash_api_key(key: str) -> str:
    """The stored form of an API key (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_hash(kind: str, normalised: str, salt: bytes) -> str:
    """HMAC-SHA256 of ``kind:value``: equal for the same person, useless without the salt."""
    return hmac.new(salt, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def identifier_sha256(normalised: str) -> str:
    """The hash a partner can compute from what it was sent: SHA-256 of the normalised e-mail or E.164."""
    return hashlib.sha256(normalised.encode()).hexdigest()


def key_check(salt: bytes) -> str:
    """A fingerprint of the salt, stored with the database to refuse any other salt at start-up."""
    return hmac.new(salt, b"cardvault suppression key check v1", hashlib.sha256).hexdigest()


def contact_keys(
    emails: list[str], phones: list[str], salt: bytes, region: str | None = None
) -> set[tuple[str, str]]:
    """``{(kind, hash)}`` for every normalisable e-mail and phone."""
    keys: set[tuple[str, str]] = set()
    for email in emails:
        normal = normalise_email(email)
        if normal:
            keys.add((KeyKind.email.value, key_hash("email", normal, salt)))
    for phone in phones:
        normal = normalise_phone(phone, region)
        if normal:
            keys.add((KeyKind.phone.value, key_hash("phone", normal, salt)))
    return keys


def name_org_keys(
    names: Iterable[str], companies: Iterable[str], domains: Iterable[str], salt: bytes
) -> set[tuple[str, str]]:
    """``{(name_org, hash)}`` of each full name with each company name and each work web/e-mail domain."""
    orgs = {f"company:{key}" for key in (normalise_company(c) for c in companies) if key}
    orgs |= {f"domain:{d}" for d in (web_domain(v) for v in domains) if d and d not in FREE_MAIL}
    keys: set[tuple[str, str]] = set()
    for name in names:
        person = normalise_name(name)
        if person:
            keys |= {(KeyKind.name_org.value, key_hash("name_org", f"{person}|{org}", salt)) for org in orgs}
    return keys


def values_keys(values: Iterable[ValueLike], salt: bytes, region: str | None) -> set[tuple[str, str]]:
    """The subject keys a card's values bring: one rule for storing, correcting and matching.

    Only E.164 phones (a leading ``+``) count: a digit run that OCR could not place in a
    country would be hashed under a guessed one, and could link two strangers.
    """
    by_field: dict[str, list[str]] = {}
    for v in values:
        by_field.setdefault(v.field, []).append(v.value)
    emails = by_field.get("emails", [])
    phones = [p for p in by_field.get("phones", []) if p.strip().startswith("+")]
    keys = contact_keys(emails, phones, salt, region)
    domains = [*by_field.get("websites", []), *(e.rsplit("@", 1)[-1] for e in emails if "@" in e)]
    return keys | name_org_keys(by_field.get("names", []), by_field.get("companies", []), domains, salt)


# --- the salt -------------------------------------------------------------------------------


def key_file_for(database_url: str) -> Path | None:
    """Where the embedded (SQLite) database keeps its generated salt: beside the database file.

    None for a database that is not a local file (PostgreSQL, in-memory SQLite): there the
    salt is a secret that must be configured.
    """
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent / KEY_FILE


def read_key_file(path: Path) -> bytes | None:
    """The salt kept in ``path``, or None when there is none."""
    try:
        return path.read_text().strip().encode() or None
    except FileNotFoundError:
        return None


def write_key_file(path: Path) -> bytes:
    """Create ``path`` with a new random salt, readable by its owner only (never overwrites one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(os.urandom(32).hex())
    key = read_key_file(path)
    assert key is not None
    return key
