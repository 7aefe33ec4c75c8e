"""Schema migrations through Alembic's API, with the environment shipped in ``models/migrations``.

Why in code: an installed service (or ``cards db upgrade``) must migrate without an
``alembic.ini`` in the working directory, and the URL must come from the same settings as
everything else (``DATABASE_URL``): callers pass it explicitly.

Developer commands (run from the repository root)::

    python -m models.migrate upgrade [--url URL] [--revision head]
    python -m models.migrate current [--url URL]
    python -m models.migrate check [--url URL]        # exit 1 when models/tables.py and the migrations differ
    python -m models.migrate revision --autogenerate -m "add invite.channel"
    python -m models.migrate regenerate-initial       # rewrite 0001_initial.py from models/tables.py

``revision --autogenerate`` compares ``models/tables.py`` with a throwaway SQLite database
migrated to head (not with your own database), so the new revision holds exactly what the
models changed; pass ``--url`` to diff against PostgreSQL instead. Read what it wrote:
autogenerate misses renames (it sees a drop and an add) and server-side defaults.

``regenerate-initial`` is for while no database anywhere has been migrated for real: after
``models/tables.py`` changed, it deletes the one initial revision and writes it again from
an empty database. Once a database in use is stamped, add a revision instead.
``tests/models/test_migrations.py`` fails when the models and the migrations drift apart.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from core.errors import BadArgumentsError, InvalidConfigError
from models.db import make_engine
from models.errors import StorageError

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
INITIAL_REVISION = "0001"


def alembic_config(url: str) -> Config:
    """An Alembic config built in code: script location in the package, URL as an attribute."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = url
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # generated revisions come out ruff-clean (dev installs only)
        cfg.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
        for name, options in (("ruff_format", "format --quiet"), ("ruff_fix", "check --fix --quiet")):
            cfg.set_section_option("post_write_hooks", f"{name}.type", "exec")
            cfg.set_section_option("post_write_hooks", f"{name}.executable", str(ruff))
            cfg.set_section_option(
                "post_write_hooks", f"{name}.options", f"{options} REVISION_SCRIPT_FILENAME"
            )
    return cfg


@contextmanager
def _translated_errors(url: str) -> Iterator[None]:
    """Database and Alembic failures in the project's error vocabulary (the CLI prints them as JSON)."""
    try:
        yield
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InvalidConfigError(f"DATABASE_URL is not a usable database URL: {exc}.") from exc
    except CommandError as exc:
        raise BadArgumentsError(f"Migration failed: {exc}.", hint="Check the revision name.") from exc
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise StorageError(f"Migration failed on {_safe(url)}: {type(exc).__name__}: {first_line}.") from exc


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


def head() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with _translated_errors(url):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        finally:
            engine.dispose()


def upgrade(url: str, revision: str = "head") -> dict[str, str | None]:
    """Migrate the database to ``revision``; a no-op when it is there already. Returns from/to."""
    before = current(url)
    with _translated_errors(url):
        command.upgrade(alembic_config(url), revision)
    return {"from": before, "to": current(url), "head": head()}


def downgrade(url: str, revision: str = "-1") -> dict[str, str | None]:
    """Step back (developers only: a downgrade drops whatever the undone revisions created)."""
    before = current(url)
    with _translated_errors(url):
        command.downgrade(alembic_config(url), revision)
    return {"from": before, "to": current(url), "head": head()}


def pending_changes(url: str) -> list[Any]:
    """What ``models/tables.py`` has that the database lacks (or vice versa): empty when in step."""
    with _translated_errors(url):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
                )
                from sqlmodel import SQLModel

                import models.tables  # noqa: F401

                return list(compare_metadata(context, SQLModel.metadata))
        finally:
            engine.dispose()


@contextmanager
def _scratch_database(to_head: bool) -> Iterator[str]:
    """A throwaway SQLite database (at head, or empty) to autogenerate against."""
    folder = tempfile.mkdtemp(prefix="cards-migrate-")
    url = f"sqlite:///{folder}/scratch.db"
    try:
        if to_head and head() is not None:
            upgrade(url)
        yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _next_rev_id() -> str:
    """Sequential ids (0002, 0003…) so the versions folder reads in order."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()
    numbers = [int(s.revision) for s in scripts if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def revision(
    message: str, autogenerate: bool = True, url: str | None = None, rev_id: str | None = None
) -> Path:
    """Write a new revision script; with ``autogenerate`` it holds the models' changes since head."""
    rev_id = rev_id or _next_rev_id()
    if url is not None:
        script = command.revision(
            alembic_config(url), message=message, autogenerate=autogenerate, rev_id=rev_id
        )
    else:
        with _scratch_database(to_head=True) as scratch:
            script = command.revision(
                alembic_config(scratch), message=message, autogenerate=autogenerate, rev_id=rev_id
            )
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def regenerate_initial(force: bool = False) -> Path:
    """Rewrite the initial revision from ``models/tables.py`` (only while it is the only revision)."""
    scripts = sorted(p for p in VERSIONS_DIR.glob("*.py") if p.name != "__init__.py")
    later = [p for p in scripts if not p.name.startswith(f"{INITIAL_REVISION}_")]
    if later and not force:
        raise BadArgumentsError(
            f"There are revisions after the initial one ({', '.join(p.name for p in later)}).",
            hint="Add a revision with `python -m models.migrate revision --autogenerate -m ...` instead.",
        )
    for path in scripts:
        path.unlink()
    with _scratch_database(to_head=False) as scratch:
        script = command.revision(
            alembic_config(scratch), message="initial schema", autogenerate=True, rev_id=INITIAL_REVISION
        )
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.migrate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("upgrade", "downgrade", "current", "check"):
        p = sub.add_parser(name)
        p.add_argument("--url", help="database URL (default: DATABASE_URL)")
        if name in ("upgrade", "downgrade"):
            p.add_argument("--revision", default="head" if name == "upgrade" else "-1")
    p = sub.add_parser("revision", help="write a new revision script")
    p.add_argument("-m", "--message", required=True)
    p.add_argument("--autogenerate", action="store_true")
    p.add_argument("--url", help="diff against this database instead of a scratch SQLite at head")
    p = sub.add_parser("regenerate-initial", help="rewrite the initial revision from models/tables.py")
    p.add_argument("--force", action="store_true", help="even if later revisions exist (they are deleted)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if getattr(args, "url", None) is None and args.command in ("upgrade", "downgrade", "current", "check"):
        from core.settings import get_settings  # a front: it reads the settings once

        args.url = get_settings().database_url

    if args.command == "upgrade":
        print(upgrade(args.url, args.revision))
    elif args.command == "downgrade":
        print(downgrade(args.url, args.revision))
    elif args.command == "current":
        print(current(args.url))
    elif args.command == "check":
        changes = pending_changes(args.url)
        for change in changes:
            print(change)
        return 1 if changes else 0
    elif args.command == "revision":
        print(revision(args.message, autogenerate=args.autogenerate, url=args.url))
    elif args.command == "regenerate-initial":
        print(regenerate_initial(force=args.force))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
