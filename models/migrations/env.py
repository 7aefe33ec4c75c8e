"""Alembic environment: migrates to ``SQLModel.metadata`` on SQLite and PostgreSQL.

Run through :mod:`models.migrate`, which puts the database URL in ``config.attributes["url"]``
(an attribute, not an ini option, so a ``%`` in a PostgreSQL URL needs no escaping).

SQLite cannot alter most of a table, so its migrations run in batch mode (copy, swap); with
foreign keys on, dropping the old copy of a table would fire ``ON DELETE CASCADE`` on its
children, so they are switched off for the migration and checked afterwards. On PostgreSQL
the whole upgrade is one transaction behind an advisory lock, so that several service
processes starting at once migrate once.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from models.db import make_engine
from models.migrations.ops import add_enum_drops

config = context.config
target_metadata = SQLModel.metadata
MIGRATION_LOCK = 7_310_422_311  # any constant: the pg_advisory_xact_lock key of this schema's migrations


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("run migrations through models.migrate, which passes the database URL")
    return str(url)


def _process_revision_directives(_context: Any, _revision: Any, directives: list[Any]) -> None:
    """Autogenerate hook: downgrades also drop the PostgreSQL ENUM types they orphan."""
    for script in directives:
        add_enum_drops(script, target_metadata)


def _options(dialect: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": dialect == "sqlite",
        "compare_type": True,
        "process_revision_directives": _process_revision_directives,
    }


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``), e.g. for a DBA to review."""
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.split(":", 1)[0].split("+", 1)[0]),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction
        connection.commit()
    context.configure(connection=connection, **_options(dialect))
    with context.begin_transaction():
        if dialect == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
    if dialect == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:5]}")


def run_online() -> None:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
