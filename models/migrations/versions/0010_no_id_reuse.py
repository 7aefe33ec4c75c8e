"""no id reuse: SQLite AUTOINCREMENT on every table with an id; the shared rate-limit counter

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:20:00

Without AUTOINCREMENT SQLite gives a deleted row's id to the next row, so an Idempotency-Key's
stored answer, a partner's copy or a client's cache would point at someone else's card or
contact. SQLite cannot add AUTOINCREMENT to a table: each is rebuilt in batch mode (copied
with its rows, indexes and constraints; the environment switches foreign keys off for it, so
the old copy's drop cascades nowhere). PostgreSQL sequences never hand out an id twice: there
the upgrade only adds the rate-limit table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table whose primary key is an integer id (partnerprofile and keycheck have natural keys).
ID_TABLES = (
    "principal",
    "source",
    "extractionrun",
    "subject",
    "subjectkey",
    "contactrecord",
    "fieldvalue",
    "fieldcorrection",
    "attestation",
    "permitteduse",
    "suppression",
    "disclosure",
    "invite",
    "auditevent",
    "catalogcompany",
    "cataloglink",
    "idempotencykey",
    "uploadjob",
    "disclosureledger",
    "partnersuppression",
    "notice",
    "inviteclaim",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in ID_TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    op.create_table(
        "ratelimithit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratelimithit")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("ratelimithit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratelimithit_at"), ["at"], unique=False)
        batch_op.create_index("ix_ratelimithit_client_at", ["client_hash", "at"], unique=False)
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
    with op.batch_alter_table("ratelimithit", schema=None) as batch_op:
        batch_op.drop_index("ix_ratelimithit_client_at")
        batch_op.drop_index(batch_op.f("ix_ratelimithit_at"))
    op.drop_table("ratelimithit")
