"""camera event alerts coalesced per window

Revision ID: 20261205_0014_event_alerts
Revises: 20261205_0013
Create Date: 2026-12-04 16:00:00

``cameras.alerted_until`` is the end of the last window of a camera's local-first events
whose alert is queued: an event before it is counted in that window's alert (one outbox
job per window), so an event inside a window writes nothing for its alert.
"""

from collections.abc import Sequence

from alembic import op

from doorstep.migrations import ddl

revision: str = "20261205_0014_event_alerts"
down_revision: str | None = "20261205_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(ddl.timestamp("alerted_until", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("alerted_until")
