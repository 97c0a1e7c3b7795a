"""redacted copies and privacy zones

Revision ID: 20261204_0011
Revises: 20261204_0010
Create Date: 2026-12-04 12:40:00

Every copy that leaves an owner is a redacted copy (issue 13):

- ``cameras.privacy_zones``: the owner's zones of a camera, polygons in the coordinates
  of a frame of the stated size (``{"width", "height", "polygons"}``); null when none.
  ``cameras.zones_at_ingest``: fill the zones before a clip is stored at all.
- ``evidence``: the owner's choices for the copy (``redaction_request``), the job's
  progress and error, the original's hash, and the manifest of what was done
  (``redaction``). Evidence waits in ``redacting`` until its copy exists.
- ``feed_posts``: the redacted copy of the post's clip that neighbours see, its state
  and its manifest.

And, for the logs (issue 17): ``outbox_jobs.request_id``, the HTTP request that queued a
job, so that the worker's log lines name it; for time zones (issue 15):
``users.time_zone``, the zone a person reads times in.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261204_0011"
down_revision: str | None = "20261204_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(ddl.json("privacy_zones", nullable=True))
        batch_op.add_column(
            sa.Column("zones_at_ingest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(ddl.json("redaction_request", nullable=True))
        batch_op.add_column(ddl.json("redaction", nullable=True))
        batch_op.add_column(sa.Column("redaction_progress", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("redaction_error", sa.Text(), nullable=True))
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clip_copy_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("clip_copy_status", sa.String(length=20), nullable=True))
        batch_op.add_column(ddl.json("clip_copy_redaction", nullable=True))
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.drop_column("clip_copy_redaction")
        batch_op.drop_column("clip_copy_status")
        batch_op.drop_column("clip_copy_key")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("redaction_error")
        batch_op.drop_column("redaction_progress")
        batch_op.drop_column("redaction")
        batch_op.drop_column("redaction_request")
        batch_op.drop_column("original_sha256")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("zones_at_ingest")
        batch_op.drop_column("privacy_zones")
