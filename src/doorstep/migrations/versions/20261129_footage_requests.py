"""footage requests

Revision ID: 20261129_0003
Revises: 20261129_0002
Create Date: 2026-11-29 12:50:07.708894
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261129_0003"
down_revision: str | None = "20261129_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owner_request_settings",
        ddl.uuid("owner_id"),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Boolean(), nullable=False),
        ddl.timestamp("updated_at"),
        ddl.foreign_key("owner_request_settings", "owner_id", "users", ondelete="CASCADE"),
        ddl.primary_key("owner_request_settings", "owner_id"),
    )
    op.create_table(
        "agency_mutes",
        ddl.uuid("owner_id"),
        ddl.uuid("agency_id"),
        ddl.timestamp("created_at"),
        ddl.foreign_key("agency_mutes", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.foreign_key("agency_mutes", "owner_id", "users", ondelete="CASCADE"),
        ddl.primary_key("agency_mutes", "owner_id", "agency_id"),
    )
    op.create_table(
        "footage_requests",
        ddl.uuid("id"),
        ddl.uuid("agency_id"),
        ddl.uuid("created_by"),
        sa.Column("case_number", sa.String(length=60), nullable=True),
        ddl.str_enum(
            "incident_type",
            "incidenttype",
            [
                "burglary",
                "robbery",
                "assault",
                "homicide",
                "shooting",
                "vehicle_theft",
                "vehicle_break_in",
                "package_theft",
                "vandalism",
                "arson",
                "hit_and_run",
                "missing_person",
                "fraud",
                "other_crime",
                "first_amendment_activity",
                "immigration_enforcement",
                "general_announcement",
            ],
            length=30,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("investigator_contact", sa.String(length=300), nullable=False),
        ddl.json("area"),
        ddl.json("circle", nullable=True),
        sa.Column("area_sq_mi", sa.Float(), nullable=False),
        ddl.json("public_cells"),
        ddl.timestamp("window_start"),
        ddl.timestamp("window_end"),
        ddl.str_enum(
            "status",
            "requeststatus",
            [
                "draft",
                "pending_approval",
                "pending_review",
                "active",
                "closed",
                "withdrawn",
                "rejected",
            ],
            length=30,
        ),
        ddl.timestamp("created_at"),
        ddl.timestamp("submitted_at", nullable=True),
        ddl.uuid("approved_by", nullable=True),
        ddl.timestamp("approved_at", nullable=True),
        ddl.uuid("reviewed_by", nullable=True),
        ddl.timestamp("reviewed_at", nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        ddl.timestamp("activated_at", nullable=True),
        ddl.timestamp("closes_at", nullable=True),
        ddl.timestamp("closed_at", nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.Column("asked_count", sa.Integer(), nullable=False),
        ddl.foreign_key("footage_requests", "agency_id", "agencies"),
        ddl.foreign_key("footage_requests", "created_by", "users"),
        ddl.primary_key("footage_requests"),
    )
    ddl.create_indexes(
        "footage_requests",
        ("ix_footage_requests_agency_id_case_number", ["agency_id", "case_number"]),
        ("ix_footage_requests_agency_id_created_at", ["agency_id", "created_at"]),
        ("ix_footage_requests_status_closes_at", ["status", "closes_at"]),
    )

    op.create_table(
        "footage_recipients",
        ddl.uuid("id"),
        ddl.uuid("request_id"),
        ddl.uuid("owner_id"),
        ddl.json("camera_ids"),
        ddl.str_enum("status", "recipientstatus", ["pending", "shared", "declined"], length=30),
        sa.Column("neighbor_number", sa.Integer(), nullable=False),
        sa.Column("reveal_identity", sa.Boolean(), nullable=False),
        ddl.timestamp("answered_at", nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        ddl.timestamp("next_reminder_at", nullable=True),
        ddl.timestamp("created_at"),
        ddl.foreign_key("footage_recipients", "owner_id", "users", ondelete="CASCADE"),
        ddl.foreign_key("footage_recipients", "request_id", "footage_requests", ondelete="CASCADE"),
        ddl.primary_key("footage_recipients"),
        ddl.unique("footage_recipients", "request_id", "owner_id"),
    )
    ddl.create_indexes(
        "footage_recipients",
        ("ix_footage_recipients_owner_id_created_at", ["owner_id", "created_at"]),
        ("ix_footage_recipients_status_next_reminder_at", ["status", "next_reminder_at"]),
    )

    op.create_table(
        "evidence",
        ddl.uuid("id"),
        ddl.uuid("request_id"),
        ddl.uuid("recipient_id"),
        ddl.uuid("source_clip_id", nullable=True),
        ddl.uuid("source_event_id", nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        ddl.timestamp("started_at"),
        ddl.timestamp("ended_at"),
        ddl.str_enum(
            "status",
            "evidencestatus",
            ["pending_upload", "available", "withdrawn", "deleted"],
            length=30,
        ),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        ddl.timestamp("shared_at"),
        ddl.timestamp("uploaded_at", nullable=True),
        ddl.timestamp("first_opened_at", nullable=True),
        ddl.timestamp("withdrawn_at", nullable=True),
        sa.Column("held_for_case", sa.Boolean(), nullable=False),
        ddl.timestamp("delete_after", nullable=True),
        ddl.timestamp("deleted_at", nullable=True),
        ddl.foreign_key("evidence", "recipient_id", "footage_recipients"),
        ddl.foreign_key("evidence", "request_id", "footage_requests"),
        ddl.primary_key("evidence"),
    )
    ddl.create_indexes(
        "evidence",
        ("ix_evidence_recipient_id", ["recipient_id"]),
        ("ix_evidence_request_id_started_at", ["request_id", "started_at"]),
        ("ix_evidence_source_event_id", ["source_event_id"]),
        ("ix_evidence_status_delete_after", ["status", "delete_after"]),
    )

    op.create_table(
        "evidence_accesses",
        ddl.serial(),
        ddl.uuid("evidence_id"),
        ddl.uuid("user_id"),
        ddl.uuid("agency_id"),
        sa.Column("action", sa.String(length=20), nullable=False),
        ddl.timestamp("at"),
        ddl.foreign_key("evidence_accesses", "agency_id", "agencies"),
        ddl.foreign_key("evidence_accesses", "evidence_id", "evidence", ondelete="CASCADE"),
        ddl.foreign_key("evidence_accesses", "user_id", "users"),
        ddl.primary_key("evidence_accesses"),
    )
    ddl.create_indexes(
        "evidence_accesses", ("ix_evidence_accesses_evidence_id_at", ["evidence_id", "at"])
    )


def downgrade() -> None:
    ddl.drop_table("evidence_accesses", "ix_evidence_accesses_evidence_id_at")
    ddl.drop_table(
        "evidence",
        "ix_evidence_status_delete_after",
        "ix_evidence_source_event_id",
        "ix_evidence_request_id_started_at",
        "ix_evidence_recipient_id",
    )
    ddl.drop_table(
        "footage_recipients",
        "ix_footage_recipients_status_next_reminder_at",
        "ix_footage_recipients_owner_id_created_at",
    )
    ddl.drop_table(
        "footage_requests",
        "ix_footage_requests_status_closes_at",
        "ix_footage_requests_agency_id_created_at",
        "ix_footage_requests_agency_id_case_number",
    )
    op.drop_table("agency_mutes")
    op.drop_table("owner_request_settings")
