"""``op.drop_enum``: what a downgrade needs on PostgreSQL that autogenerate does not write.

Dropping a table leaves its native ENUM types behind on PostgreSQL, so downgrading and
upgrading again fails with ``type "role" already exists``. :func:`add_enum_drops` (hooked
into autogenerate by ``env.py``) appends ``op.drop_enum(name)`` to a downgrade for every
enum whose tables that downgrade drops and that no other table still uses; on SQLite an
enum is a plain VARCHAR and the operation does nothing.

Not covered (read the generated revision): an enum column added to an existing table, or
values added to an enum; write those by hand.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import MetaData


@Operations.register_operation("drop_enum")
class DropEnumOp(MigrateOperation):
    """Drop a named ENUM type if it exists."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def drop_enum(cls, operations: Operations, name: str) -> Any:
        return operations.invoke(cls(name))


@Operations.implementation_for(DropEnumOp)
def _drop_enum(operations: Operations, operation: DropEnumOp) -> None:
    sa.Enum(name=operation.name).drop(operations.get_bind(), checkfirst=True)


@renderers.dispatch_for(DropEnumOp)
def _render_drop_enum(_context: Any, operation: DropEnumOp) -> str:
    return f"op.drop_enum({operation.name!r})"


def _enum_names(columns: list[Any]) -> set[str]:
    enums = (c.type for c in columns if isinstance(c, sa.Column) and isinstance(c.type, sa.Enum))
    return {t.name for t in enums if t.name}


def add_enum_drops(script: ops.MigrationScript, metadata: MetaData) -> None:
    """Append ``op.drop_enum`` to the downgrade for enums only the tables it drops were using."""
    upgrade, downgrade = script.upgrade_ops, script.downgrade_ops
    if upgrade is None or downgrade is None:
        return
    created = {o.table_name: o for o in upgrade.ops if isinstance(o, ops.CreateTableOp)}
    dropped = [o.table_name for o in downgrade.ops if isinstance(o, ops.DropTableOp)]
    candidates: set[str] = set()
    for name in dropped:
        if name in created:
            candidates |= _enum_names(list(created[name].columns))
    still_used: set[str] = set()
    for table in metadata.tables.values():
        if table.name not in dropped:
            still_used |= _enum_names(list(table.columns))
    for name in sorted(candidates - still_used):
        downgrade.ops.append(DropEnumOp(name))
