"""initial schema

Revision ID: 20261129_0001
Revises:
Create Date: 2026-11-29 12:36:47.910321
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261129_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        ddl.serial("seq", autoincrement=False),
        ddl.timestamp("at"),
        ddl.uuid("actor_id", nullable=True),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        ddl.json("details"),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        ddl.primary_key("audit_records", "seq"),
        ddl.unique("audit_records", "hash"),
    )
    ddl.create_indexes(
        "audit_records",
        ("ix_audit_records_action", ["action"]),
        ("ix_audit_records_actor_id", ["actor_id"]),
        ("ix_audit_records_subject", ["subject_type", "subject_id"]),
    )

    op.create_table(
        "outbox_jobs",
        ddl.serial(),
        sa.Column("kind", sa.String(length=60), nullable=False),
        ddl.json("payload"),
        ddl.str_enum("status", "jobstatus", ["pending", "done", "failed"], length=10),
        ddl.timestamp("run_after"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        ddl.timestamp("locked_until", nullable=True),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        ddl.timestamp("created_at"),
        ddl.timestamp("done_at", nullable=True),
        ddl.primary_key("outbox_jobs"),
    )
    ddl.create_indexes("outbox_jobs", ("ix_outbox_jobs_status_run_after", ["status", "run_after"]))

    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        ddl.timestamp("at"),
        ddl.primary_key("sign_in_attempts"),
    )
    ddl.create_indexes(
        "sign_in_attempts",
        ("ix_sign_in_attempts_email_at", ["email", "at"]),
        ("ix_sign_in_attempts_ip_at", ["ip_address", "at"]),
    )

    op.create_table(
        "users",
        ddl.uuid("id"),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        ddl.str_enum(
            "role", "role", ["resident", "agency_member", "moderator", "admin"], length=20
        ),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        ddl.timestamp("created_at"),
        ddl.primary_key("users"),
        ddl.unique("users", "email"),
    )
    op.create_table(
        "api_tokens",
        ddl.uuid("id"),
        ddl.uuid("user_id"),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        ddl.timestamp("created_at"),
        ddl.timestamp("last_used_at", nullable=True),
        ddl.timestamp("revoked_at", nullable=True),
        ddl.foreign_key("api_tokens", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("api_tokens"),
        ddl.unique("api_tokens", "token_hash"),
    )
    ddl.create_indexes("api_tokens", ("ix_api_tokens_user_id", ["user_id"]))

    op.create_table(
        "cameras",
        ddl.uuid("id"),
        ddl.uuid("owner_id"),
        sa.Column("name", sa.String(length=80), nullable=False),
        ddl.str_enum(
            "kind", "camerakind", ["doorbell", "floodlight", "indoor", "other"], length=20
        ),
        sa.Column("exact_latitude", sa.Float(), nullable=False),
        sa.Column("exact_longitude", sa.Float(), nullable=False),
        sa.Column("index_cell", sa.BigInteger(), nullable=False),
        sa.Column("coarse_cell", sa.BigInteger(), nullable=False),
        sa.Column("accepts_requests", sa.Boolean(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=16), nullable=True),
        ddl.timestamp("token_created_at", nullable=True),
        ddl.timestamp("created_at"),
        ddl.foreign_key("cameras", "owner_id", "users", ondelete="CASCADE"),
        ddl.primary_key("cameras"),
        ddl.unique("cameras", "token_hash"),
    )
    ddl.create_indexes(
        "cameras",
        ("ix_cameras_coarse_cell", ["coarse_cell"]),
        ("ix_cameras_index_cell", ["index_cell"]),
        ("ix_cameras_owner_id", ["owner_id"]),
    )

    op.create_table(
        "notification_preferences",
        ddl.uuid("user_id"),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        ddl.json("event_kinds"),
        ddl.foreign_key("notification_preferences", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("notification_preferences", "user_id"),
    )
    op.create_table(
        "notifications",
        ddl.uuid("id"),
        ddl.uuid("user_id"),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("in_inbox", sa.Boolean(), nullable=False),
        ddl.timestamp("created_at"),
        ddl.timestamp("read_at", nullable=True),
        ddl.foreign_key("notifications", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("notifications"),
    )
    ddl.create_indexes(
        "notifications", ("ix_notifications_user_id_created_at", ["user_id", "created_at"])
    )

    op.create_table(
        "push_subscriptions",
        ddl.uuid("id"),
        ddl.uuid("user_id"),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        ddl.timestamp("created_at"),
        ddl.foreign_key("push_subscriptions", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("push_subscriptions"),
        ddl.unique("push_subscriptions", "endpoint"),
    )
    ddl.create_indexes("push_subscriptions", ("ix_push_subscriptions_user_id", ["user_id"]))

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        ddl.uuid("user_id"),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("awaiting_second_factor", sa.Boolean(), nullable=False),
        ddl.timestamp("created_at"),
        ddl.timestamp("expires_at"),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        ddl.foreign_key("web_sessions", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("web_sessions"),
    )
    ddl.create_indexes("web_sessions", ("ix_web_sessions_user_id", ["user_id"]))

    op.create_table(
        "webhooks",
        ddl.uuid("id"),
        ddl.uuid("user_id"),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        ddl.timestamp("created_at"),
        ddl.foreign_key("webhooks", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("webhooks"),
    )
    ddl.create_indexes("webhooks", ("ix_webhooks_user_id", ["user_id"]))

    op.create_table(
        "clips",
        ddl.uuid("id"),
        ddl.uuid("camera_id"),
        ddl.uuid("owner_id"),
        ddl.timestamp("started_at"),
        ddl.timestamp("ended_at"),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("codec", sa.String(length=20), nullable=False),
        ddl.timestamp("created_at"),
        ddl.timestamp("deleted_at", nullable=True),
        sa.Column("deleted_reason", sa.String(length=20), nullable=True),
        ddl.foreign_key("clips", "camera_id", "cameras", ondelete="CASCADE"),
        ddl.foreign_key("clips", "owner_id", "users", ondelete="CASCADE"),
        ddl.primary_key("clips"),
    )
    ddl.create_indexes(
        "clips",
        ("ix_clips_camera_id_started_at", ["camera_id", "started_at"]),
        ("ix_clips_owner_id", ["owner_id"]),
    )

    op.create_table(
        "motion_events",
        ddl.uuid("id"),
        ddl.uuid("camera_id"),
        ddl.uuid("owner_id"),
        ddl.str_enum(
            "kind",
            "eventkind",
            ["motion", "ding", "person", "vehicle", "package", "other"],
            length=20,
        ),
        ddl.timestamp("started_at"),
        ddl.timestamp("ended_at"),
        sa.Column("on_device", sa.Boolean(), nullable=False),
        sa.Column("device_ref", sa.String(length=200), nullable=True),
        ddl.uuid("clip_id", nullable=True),
        ddl.timestamp("created_at"),
        ddl.foreign_key("motion_events", "camera_id", "cameras", ondelete="CASCADE"),
        ddl.foreign_key("motion_events", "clip_id", "clips", ondelete="SET NULL"),
        ddl.foreign_key("motion_events", "owner_id", "users", ondelete="CASCADE"),
        ddl.primary_key("motion_events"),
        ddl.unique("motion_events", "clip_id"),
    )
    with op.batch_alter_table("motion_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_motion_events_camera_id_started_at", ["camera_id", "started_at"], unique=False
        )
        batch_op.create_index(
            "ix_motion_events_owner_id_started_at", ["owner_id", "started_at"], unique=False
        )
        batch_op.create_index(
            "uq_motion_events_camera_id_device_ref",
            ["camera_id", "device_ref"],
            unique=True,
            sqlite_where=sa.text("device_ref IS NOT NULL"),
            postgresql_where=sa.text("device_ref IS NOT NULL"),
        )


def downgrade() -> None:
    ddl.drop_table(
        "motion_events",
        "uq_motion_events_camera_id_device_ref",
        "ix_motion_events_owner_id_started_at",
        "ix_motion_events_camera_id_started_at",
    )
    ddl.drop_table("clips", "ix_clips_owner_id", "ix_clips_camera_id_started_at")
    ddl.drop_table("webhooks", "ix_webhooks_user_id")
    ddl.drop_table("web_sessions", "ix_web_sessions_user_id")
    ddl.drop_table("push_subscriptions", "ix_push_subscriptions_user_id")
    ddl.drop_table("notifications", "ix_notifications_user_id_created_at")
    op.drop_table("notification_preferences")
    ddl.drop_table(
        "cameras", "ix_cameras_owner_id", "ix_cameras_index_cell", "ix_cameras_coarse_cell"
    )
    ddl.drop_table("api_tokens", "ix_api_tokens_user_id")
    op.drop_table("users")
    ddl.drop_table("sign_in_attempts", "ix_sign_in_attempts_ip_at", "ix_sign_in_attempts_email_at")
    ddl.drop_table("outbox_jobs", "ix_outbox_jobs_status_run_after")
    ddl.drop_table(
        "audit_records",
        "ix_audit_records_subject",
        "ix_audit_records_actor_id",
        "ix_audit_records_action",
    )
