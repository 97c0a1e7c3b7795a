"""feed: homes, posts, comments, reports, tips, alert digests, feed settings

Revision ID: 20261129_0004
Revises: 20261129_0003
Create Date: 2026-11-29 12:55:31.327377
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import doorstep.db

revision: str = "20261129_0004"
down_revision: str | None = "20261129_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hold_new_posts", sa.Boolean(), nullable=False),
        sa.Column("updated_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_settings")),
    )
    op.create_table(
        "feed_homes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("exact_latitude", sa.Float(), nullable=False),
        sa.Column("exact_longitude", sa.Float(), nullable=False),
        sa.Column("coarse_cell", sa.BigInteger(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column(
            "alert_categories",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_alert_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("digest_due_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_feed_homes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_feed_homes")),
    )
    with op.batch_alter_table("feed_homes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feed_homes_coarse_cell"), ["coarse_cell"], unique=False
        )

    op.create_table(
        "feed_posts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column(
            "category",
            sa.Enum(
                "crime",
                "safety",
                "unexpected_activity",
                "lost_found_pet",
                "community",
                name="category",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "person",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("coarse_cell", sa.BigInteger(), nullable=False),
        sa.Column("clip_id", sa.Uuid(), nullable=True),
        sa.Column("footage_request_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "published",
                "rejected",
                "hidden",
                name="poststatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("edited_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_feed_posts_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_feed_posts_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_feed_posts_clip_id_clips"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["footage_request_id"],
            ["footage_requests.id"],
            name=op.f("fk_feed_posts_footage_request_id_footage_requests"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("footage_request_id", name=op.f("uq_feed_posts_footage_request_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_posts")),
    )
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_posts_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_posts_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_posts_clip_id"), ["clip_id"], unique=False)
        batch_op.create_index(
            "ix_feed_posts_coarse_cell_published_at", ["coarse_cell", "published_at"], unique=False
        )
        batch_op.create_index(
            "ix_feed_posts_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "feed_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_feed_comments_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["feed_posts.id"],
            name=op.f("fk_feed_comments_post_id_feed_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_comments")),
    )
    with op.batch_alter_table("feed_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_comments_author_id"), ["author_id"], unique=False)
        batch_op.create_index(
            "ix_feed_comments_post_id_created_at", ["post_id", "created_at"], unique=False
        )

    op.create_table(
        "feed_digest_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["feed_posts.id"],
            name=op.f("fk_feed_digest_items_post_id_feed_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feed_digest_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_digest_items")),
        sa.UniqueConstraint("user_id", "post_id", name=op.f("uq_feed_digest_items_user_id")),
    )
    with op.batch_alter_table("feed_digest_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_digest_items_post_id"), ["post_id"], unique=False)

    op.create_table(
        "feed_tips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_feed_tips_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["feed_posts.id"],
            name=op.f("fk_feed_tips_post_id_feed_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["users.id"],
            name=op.f("fk_feed_tips_sender_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_tips")),
    )
    with op.batch_alter_table("feed_tips", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feed_tips_agency_id_created_at", ["agency_id", "created_at"], unique=False
        )

    op.create_table(
        "feed_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("reporter_id", sa.Uuid(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "profiling",
                "false_information",
                "harassment",
                "private_information",
                "spam",
                "other",
                name="reportreason",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["feed_comments.id"],
            name=op.f("fk_feed_reports_comment_id_feed_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["feed_posts.id"],
            name=op.f("fk_feed_reports_post_id_feed_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_feed_reports_reporter_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_reports")),
    )
    with op.batch_alter_table("feed_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feed_reports_comment_id"), ["comment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_feed_reports_post_id"), ["post_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feed_reports_reporter_id"), ["reporter_id"], unique=False
        )
        batch_op.create_index(
            "ix_feed_reports_resolved_at_created_at", ["resolved_at", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_reports_resolved_at_created_at")
        batch_op.drop_index(batch_op.f("ix_feed_reports_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_feed_reports_post_id"))
        batch_op.drop_index(batch_op.f("ix_feed_reports_comment_id"))

    op.drop_table("feed_reports")
    with op.batch_alter_table("feed_tips", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_tips_agency_id_created_at")

    op.drop_table("feed_tips")
    with op.batch_alter_table("feed_digest_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_digest_items_post_id"))

    op.drop_table("feed_digest_items")
    with op.batch_alter_table("feed_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_comments_post_id_created_at")
        batch_op.drop_index(batch_op.f("ix_feed_comments_author_id"))

    op.drop_table("feed_comments")
    with op.batch_alter_table("feed_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_posts_status_created_at")
        batch_op.drop_index("ix_feed_posts_coarse_cell_published_at")
        batch_op.drop_index(batch_op.f("ix_feed_posts_clip_id"))
        batch_op.drop_index(batch_op.f("ix_feed_posts_author_id"))
        batch_op.drop_index(batch_op.f("ix_feed_posts_agency_id"))

    op.drop_table("feed_posts")
    with op.batch_alter_table("feed_homes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_homes_coarse_cell"))

    op.drop_table("feed_homes")
    op.drop_table("feed_settings")
