"""One settings object, read from the environment (prefix-free names, as in the FastAPI template)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default="sqlite:///./var/cards.db", alias="DATABASE_URL")
    blob_dir: Path = Field(default=Path("./var/blobs"), alias="CARDS_BLOB_DIR")
    # Keys the hashes of e-mails and phones in the suppression list and subject index. Losing it
    # means suppressed people can no longer be recognised: set it explicitly in production.
    suppression_salt: str = Field(default="", alias="CARDS_SUPPRESSION_SALT")
    default_region: str = Field(default="US", alias="CARDS_DEFAULT_REGION")
    attestation_version: str = Field(default="2026-11", alias="CARDS_ATTESTATION_VERSION")
    invite_cooldown_days: int = Field(default=90, alias="CARDS_INVITE_COOLDOWN_DAYS")

    def salt(self) -> bytes:
        """The configured salt, else one generated once and kept beside the embedded database."""
        if self.suppression_salt:
            return self.suppression_salt.encode()
        path = Path("./var/suppression.salt")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
