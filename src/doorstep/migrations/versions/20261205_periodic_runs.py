"""periodic runs shared by every worker

Revision ID: 20261205_0013
Revises: 20261205_0012_targeting
Create Date: 2026-12-05 10:00:00

``periodic_runs``: when each periodic task (retention sweeps, closing expired requests,
reminders, the audit's daily heads) is next due for the whole instance, so that two
``doorstep worker`` processes run it once per interval, not once each (issue 17).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261205_0013"
down_revision: str | None = "20261205_0012_targeting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=60), nullable=False),
        ddl.timestamp("due_at"),
        ddl.timestamp("last_started_at", nullable=True),
        sa.Column("last_run_by", sa.String(length=80), nullable=True),
        ddl.primary_key("periodic_runs", "name"),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")
