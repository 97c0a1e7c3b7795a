"""feed: homes, posts, comments, reports, tips, alert digests, feed settings

Revision ID: 20261129_0004
Revises: 20261129_0003
Create Date: 2026-11-29 12:55:31.327377
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261129_0004"
down_revision: str | None = "20261129_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hold_new_posts", sa.Boolean(), nullable=False),
        ddl.timestamp("updated_at"),
        ddl.uuid("updated_by", nullable=True),
        ddl.primary_key("feed_settings"),
    )
    op.create_table(
        "feed_homes",
        ddl.uuid("user_id"),
        sa.Column("exact_latitude", sa.Float(), nullable=False),
        sa.Column("exact_longitude", sa.Float(), nullable=False),
        sa.Column("coarse_cell", sa.BigInteger(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        ddl.json("alert_categories"),
        ddl.timestamp("last_alert_at", nullable=True),
        ddl.timestamp("digest_due_at", nullable=True),
        ddl.timestamp("updated_at"),
        ddl.foreign_key("feed_homes", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("feed_homes", "user_id"),
    )
    ddl.create_indexes("feed_homes", ("ix_feed_homes_coarse_cell", ["coarse_cell"]))

    op.create_table(
        "feed_posts",
        ddl.uuid("id"),
        ddl.uuid("author_id"),
        ddl.uuid("agency_id", nullable=True),
        ddl.str_enum(
            "category",
            "category",
            ["crime", "safety", "unexpected_activity", "lost_found_pet", "community"],
            length=30,
        ),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        ddl.json("person", nullable=True),
        sa.Column("coarse_cell", sa.BigInteger(), nullable=False),
        ddl.uuid("clip_id", nullable=True),
        ddl.uuid("footage_request_id", nullable=True),
        ddl.str_enum(
            "status", "poststatus", ["pending", "published", "rejected", "hidden"], length=30
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        ddl.timestamp("created_at"),
        ddl.timestamp("published_at", nullable=True),
        ddl.timestamp("edited_at", nullable=True),
        ddl.foreign_key("feed_posts", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.foreign_key("feed_posts", "author_id", "users", ondelete="CASCADE"),
        ddl.foreign_key("feed_posts", "clip_id", "clips", ondelete="SET NULL"),
        ddl.foreign_key("feed_posts", "footage_request_id", "footage_requests", ondelete="CASCADE"),
        ddl.unique("feed_posts", "footage_request_id"),
        ddl.primary_key("feed_posts"),
    )
    ddl.create_indexes(
        "feed_posts",
        ("ix_feed_posts_agency_id", ["agency_id"]),
        ("ix_feed_posts_author_id", ["author_id"]),
        ("ix_feed_posts_clip_id", ["clip_id"]),
        ("ix_feed_posts_coarse_cell_published_at", ["coarse_cell", "published_at"]),
        ("ix_feed_posts_status_created_at", ["status", "created_at"]),
    )

    op.create_table(
        "feed_comments",
        ddl.uuid("id"),
        ddl.uuid("post_id"),
        ddl.uuid("author_id"),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        ddl.timestamp("created_at"),
        ddl.timestamp("edited_at", nullable=True),
        ddl.foreign_key("feed_comments", "author_id", "users", ondelete="CASCADE"),
        ddl.foreign_key("feed_comments", "post_id", "feed_posts", ondelete="CASCADE"),
        ddl.primary_key("feed_comments"),
    )
    ddl.create_indexes(
        "feed_comments",
        ("ix_feed_comments_author_id", ["author_id"]),
        ("ix_feed_comments_post_id_created_at", ["post_id", "created_at"]),
    )

    op.create_table(
        "feed_digest_items",
        ddl.serial(),
        ddl.uuid("user_id"),
        ddl.uuid("post_id"),
        ddl.timestamp("created_at"),
        ddl.foreign_key("feed_digest_items", "post_id", "feed_posts", ondelete="CASCADE"),
        ddl.foreign_key("feed_digest_items", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("feed_digest_items"),
        ddl.unique("feed_digest_items", "user_id", "post_id"),
    )
    ddl.create_indexes("feed_digest_items", ("ix_feed_digest_items_post_id", ["post_id"]))

    op.create_table(
        "feed_tips",
        ddl.uuid("id"),
        ddl.uuid("agency_id"),
        ddl.uuid("post_id", nullable=True),
        ddl.uuid("sender_id", nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        ddl.timestamp("created_at"),
        ddl.foreign_key("feed_tips", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.foreign_key("feed_tips", "post_id", "feed_posts", ondelete="SET NULL"),
        ddl.foreign_key("feed_tips", "sender_id", "users", ondelete="SET NULL"),
        ddl.primary_key("feed_tips"),
    )
    ddl.create_indexes(
        "feed_tips", ("ix_feed_tips_agency_id_created_at", ["agency_id", "created_at"])
    )

    op.create_table(
        "feed_reports",
        ddl.uuid("id"),
        ddl.uuid("post_id"),
        ddl.uuid("comment_id", nullable=True),
        ddl.uuid("reporter_id"),
        ddl.str_enum(
            "reason",
            "reportreason",
            [
                "profiling",
                "false_information",
                "harassment",
                "private_information",
                "spam",
                "other",
            ],
            length=30,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        ddl.timestamp("created_at"),
        ddl.timestamp("resolved_at", nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        ddl.foreign_key("feed_reports", "comment_id", "feed_comments", ondelete="CASCADE"),
        ddl.foreign_key("feed_reports", "post_id", "feed_posts", ondelete="CASCADE"),
        ddl.foreign_key("feed_reports", "reporter_id", "users", ondelete="CASCADE"),
        ddl.primary_key("feed_reports"),
    )
    ddl.create_indexes(
        "feed_reports",
        ("ix_feed_reports_comment_id", ["comment_id"]),
        ("ix_feed_reports_post_id", ["post_id"]),
        ("ix_feed_reports_reporter_id", ["reporter_id"]),
        ("ix_feed_reports_resolved_at_created_at", ["resolved_at", "created_at"]),
    )


def downgrade() -> None:
    ddl.drop_table(
        "feed_reports",
        "ix_feed_reports_resolved_at_created_at",
        "ix_feed_reports_reporter_id",
        "ix_feed_reports_post_id",
        "ix_feed_reports_comment_id",
    )
    ddl.drop_table("feed_tips", "ix_feed_tips_agency_id_created_at")
    ddl.drop_table("feed_digest_items", "ix_feed_digest_items_post_id")
    ddl.drop_table(
        "feed_comments", "ix_feed_comments_post_id_created_at", "ix_feed_comments_author_id"
    )
    ddl.drop_table(
        "feed_posts",
        "ix_feed_posts_status_created_at",
        "ix_feed_posts_coarse_cell_published_at",
        "ix_feed_posts_clip_id",
        "ix_feed_posts_author_id",
        "ix_feed_posts_agency_id",
    )
    ddl.drop_table("feed_homes", "ix_feed_homes_coarse_cell")
    op.drop_table("feed_settings")
