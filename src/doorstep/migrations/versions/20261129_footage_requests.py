"""footage requests

Revision ID: 20261129_0003
Revises: 20261129_0002
Create Date: 2026-11-29 12:50:07.708894
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import doorstep.db

revision: str = "20261129_0003"
down_revision: str | None = "20261129_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owner_request_settings",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Boolean(), nullable=False),
        sa.Column("updated_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_owner_request_settings_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_owner_request_settings")),
    )
    op.create_table(
        "agency_mutes",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_mutes_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_agency_mutes_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "agency_id", name=op.f("pk_agency_mutes")),
    )
    op.create_table(
        "footage_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("case_number", sa.String(length=60), nullable=True),
        sa.Column(
            "incident_type",
            sa.Enum(
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
                name="incidenttype",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("investigator_contact", sa.String(length=300), nullable=False),
        sa.Column(
            "area",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "circle",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("area_sq_mi", sa.Float(), nullable=False),
        sa.Column(
            "public_cells",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("window_start", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "pending_approval",
                "pending_review",
                "active",
                "closed",
                "withdrawn",
                "rejected",
                name="requeststatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("activated_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closes_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.Column("asked_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_footage_requests_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_footage_requests_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footage_requests")),
    )
    with op.batch_alter_table("footage_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_footage_requests_agency_id_case_number", ["agency_id", "case_number"], unique=False
        )
        batch_op.create_index(
            "ix_footage_requests_agency_id_created_at", ["agency_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_footage_requests_status_closes_at", ["status", "closes_at"], unique=False
        )

    op.create_table(
        "footage_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "camera_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "shared",
                "declined",
                name="recipientstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("neighbor_number", sa.Integer(), nullable=False),
        sa.Column("reveal_identity", sa.Boolean(), nullable=False),
        sa.Column("answered_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("next_reminder_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_footage_recipients_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["footage_requests.id"],
            name=op.f("fk_footage_recipients_request_id_footage_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footage_recipients")),
        sa.UniqueConstraint(
            "request_id", "owner_id", name=op.f("uq_footage_recipients_request_id")
        ),
    )
    with op.batch_alter_table("footage_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_footage_recipients_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_footage_recipients_status_next_reminder_at",
            ["status", "next_reminder_at"],
            unique=False,
        )

    op.create_table(
        "evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("source_clip_id", sa.Uuid(), nullable=True),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_upload",
                "available",
                "withdrawn",
                "deleted",
                name="evidencestatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("shared_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_opened_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("held_for_case", sa.Boolean(), nullable=False),
        sa.Column("delete_after", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["footage_recipients.id"],
            name=op.f("fk_evidence_recipient_id_footage_recipients"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["footage_requests.id"],
            name=op.f("fk_evidence_request_id_footage_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(
            "ix_evidence_request_id_started_at", ["request_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_source_event_id"), ["source_event_id"], unique=False
        )
        batch_op.create_index(
            "ix_evidence_status_delete_after", ["status", "delete_after"], unique=False
        )

    op.create_table(
        "evidence_accesses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_evidence_accesses_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_accesses_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_evidence_accesses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_accesses")),
    )
    with op.batch_alter_table("evidence_accesses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_accesses_evidence_id_at", ["evidence_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_accesses", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_accesses_evidence_id_at")

    op.drop_table("evidence_accesses")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_status_delete_after")
        batch_op.drop_index(batch_op.f("ix_evidence_source_event_id"))
        batch_op.drop_index("ix_evidence_request_id_started_at")
        batch_op.drop_index(batch_op.f("ix_evidence_recipient_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("footage_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_footage_recipients_status_next_reminder_at")
        batch_op.drop_index("ix_footage_recipients_owner_id_created_at")

    op.drop_table("footage_recipients")
    with op.batch_alter_table("footage_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_footage_requests_status_closes_at")
        batch_op.drop_index("ix_footage_requests_agency_id_created_at")
        batch_op.drop_index("ix_footage_requests_agency_id_case_number")

    op.drop_table("footage_requests")
    op.drop_table("agency_mutes")
    op.drop_table("owner_request_settings")
