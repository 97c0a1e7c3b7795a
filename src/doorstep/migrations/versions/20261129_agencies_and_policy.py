"""agencies and policy

Revision ID: 20261129_0002
Revises: 20261129_0001
Create Date: 2026-11-29 12:45:34.415181
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import doorstep.db

revision: str = "20261129_0002"
down_revision: str | None = "20261129_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "changed",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("changed_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
    )
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_versions_agency_id"), ["agency_id"], unique=False
        )

    op.create_table(
        "agencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "agency_type",
            sa.Enum(
                "police",
                "sheriff",
                "fire",
                "other",
                name="agencytype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column(
            "jurisdiction",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "applied",
                "verified",
                "rejected",
                "suspended",
                "ended",
                name="agencystatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("applied_by", sa.Uuid(), nullable=False),
        sa.Column("applied_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["applied_by"], ["users.id"], name=op.f("fk_agencies_applied_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agencies_state"), ["state"], unique=False)

    op.create_table(
        "agency_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "officer",
                "supervisor",
                "agency_admin",
                name="memberrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_invitations_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_agency_invitations_invited_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agency_invitations_token_hash")),
    )
    with op.batch_alter_table("agency_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agency_invitations_agency_id_email", ["agency_id", "email"], unique=False
        )

    op.create_table(
        "agency_memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "officer",
                "supervisor",
                "agency_admin",
                name="memberrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_memberships_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agency_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_memberships")),
        sa.UniqueConstraint("agency_id", "user_id", name=op.f("uq_agency_memberships_agency_id")),
    )
    with op.batch_alter_table("agency_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agency_memberships_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_policies_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_policies_agency_id")),
    )


def downgrade() -> None:
    op.drop_table("policies")
    with op.batch_alter_table("agency_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_memberships_user_id"))

    op.drop_table("agency_memberships")
    with op.batch_alter_table("agency_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_agency_invitations_agency_id_email")

    op.drop_table("agency_invitations")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agencies_state"))

    op.drop_table("agencies")
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_versions_agency_id"))

    op.drop_table("policy_versions")
