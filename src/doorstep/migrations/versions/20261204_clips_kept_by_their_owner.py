"""clips kept by their owner past their camera's retention

Revision ID: 20261204_0010
Revises: 20261204_0009
Create Date: 2026-12-04 09:00:00

``clips.kept_at`` is set while the owner keeps a clip: the retention sweep leaves it. The
sweep reads its clips through ``ix_clips_retention_due`` (live clips nobody keeps, per
camera and by age); ``ix_clips_owner_id_kept`` counts an owner's kept clips against the
instance's maximum.
"""

from collections.abc import Sequence

from alembic import op

from doorstep.migrations import ddl

revision: str = "20261204_0010"
down_revision: str | None = "20261204_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.add_column(ddl.timestamp("kept_at", nullable=True))
    ddl.create_partial_index(
        "clips",
        "ix_clips_retention_due",
        ["camera_id", "started_at"],
        where="deleted_at IS NULL AND kept_at IS NULL",
    )
    ddl.create_partial_index(
        "clips", "ix_clips_owner_id_kept", ["owner_id"], where="kept_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clips_owner_id_kept"))
        batch_op.drop_index(batch_op.f("ix_clips_retention_due"))
        batch_op.drop_column("kept_at")
