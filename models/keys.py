"""Key hashing: how a person is recognised without storing their e-mail twice, and how API keys are kept.

* E-mails and phones are normalised and hashed with a secret salt (HMAC-SHA256), so the
  subject index and the suppression list recognise a person without holding the contact.
* API keys are stored as a plain SHA-256: a key is 256 random bits, not a password a person
  chose, and one indexed lookup finds its principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email


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


def hash_api_key(key: str) -> str:
    """The stored form of an API key (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


def suppression_salt(configured: str, key_file: Path = Path("./var/suppression.salt")) -> bytes:
    """The configured salt, else one generated once and kept beside the embedded database."""
    if configured:
        return configured.encode()
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
    return key_file.read_text().strip().encode()


def key_hash(kind: str, normalised: str, salt: bytes) -> str:
    """HMAC-SHA256 of ``kind:value``: equal for the same person, useless without the salt."""
    return hmac.new(salt, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def contact_keys(
    emails: list[str], phones: list[str], salt: bytes, region: str | None = None
) -> set[tuple[str, str]]:
    """``{(kind, hash)}`` for every normalisable e-mail and phone."""
    keys: set[tuple[str, str]] = set()
    for email in emails:
        normal = normalise_email(email)
        if normal:
            keys.add(("email", key_hash("email", normal, salt)))
    for phone in phones:
        normal = normalise_phone(phone, region)
        if normal:
            keys.add(("phone", key_hash("phone", normal, salt)))
    return keys
