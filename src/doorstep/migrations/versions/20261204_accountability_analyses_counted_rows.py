"""accountability analyses stored before incidents were counted are dropped

Revision ID: 20261204_0009
Revises: 20261204_0008
Create Date: 2026-12-04 08:30:00

An analysis stored by the first version counted dataset rows, not incidents (an
incident naming two agencies twice, a partner's name spelled differently as zero); the
agency pages showed the latest one. They are dropped: ``transparency analyze`` stores
the figures again, counted by incident, and the pages show per-dataset figures computed
from the stored incidents meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261204_0009"
down_revision: str | None = "20261204_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM accountability_analyses")


def downgrade() -> None:
    # What was dropped was wrong; nothing comes back.
    pass
