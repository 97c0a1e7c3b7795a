"""feed: newest posts per cell

Revision ID: 20261205_0016_feed
Revises: 20261205_0015
Create Date: 2026-12-05 09:00:00

The feed reads each home cell's newest published posts and merges them (issue 16):
``ix_feed_posts_coarse_cell_published_at_id`` on ``(coarse_cell, published_at, id)``
hands each cell's rows over in the feed's own order, ties included, so each cell's scan
stops after a page. On PostgreSQL it carries ``status`` and ``category`` as well, so the
scan tells published posts and the chosen categories apart without visiting the table.
It replaces ``ix_feed_posts_coarse_cell_published_at``, whose columns it starts with.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261205_0016_feed"
down_revision: str | None = "20261205_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feed_posts_coarse_cell_published_at_id"),
            ["coarse_cell", "published_at", "id"],
            unique=False,
            postgresql_include=["status", "category"],
        )
        batch_op.drop_index(batch_op.f("ix_feed_posts_coarse_cell_published_at"))


def downgrade() -> None:
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feed_posts_coarse_cell_published_at"),
            ["coarse_cell", "published_at"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_feed_posts_coarse_cell_published_at_id"))
