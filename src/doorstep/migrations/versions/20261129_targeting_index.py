"""targeting index: cameras' cell, acceptance, owner and position in one index

Revision ID: 20261129_0006
Revises: 20261129_0005
Create Date: 2026-11-29 19:00:00.000000

Targeting reads, for the cells of a request's area, each camera's id, owner, acceptance
and position. With all of them in one index PostgreSQL answers from the index alone
(an index-only scan) instead of visiting a scattered table row per camera; the targeting
benchmark measured it (BENCHMARKS.md). The index leads with ``index_cell``, so it serves
every lookup the old single-column index did.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261129_0006"
down_revision: str | None = "20261129_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["index_cell", "accepts_requests", "owner_id", "exact_longitude", "exact_latitude", "id"]


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index("ix_cameras_targeting", COLUMNS, unique=False)
        batch_op.drop_index("ix_cameras_index_cell")


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index("ix_cameras_index_cell", ["index_cell"], unique=False)
        batch_op.drop_index("ix_cameras_targeting")
