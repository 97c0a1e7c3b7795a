"""agencies and policy

Revision ID: 20261129_0002
Revises: 20261129_0001
Create Date: 2026-11-29 12:45:34.415181
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261129_0002"
down_revision: str | None = "20261129_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        ddl.serial(),
        ddl.uuid("agency_id", nullable=True),
        ddl.json("settings"),
        ddl.json("changed"),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        ddl.timestamp("changed_at"),
        ddl.uuid("changed_by", nullable=True),
        ddl.primary_key("policy_versions"),
    )
    ddl.create_indexes("policy_versions", ("ix_policy_versions_agency_id", ["agency_id"]))

    op.create_table(
        "agencies",
        ddl.uuid("id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        ddl.str_enum(
            "agency_type", "agencytype", ["police", "sheriff", "fire", "other"], length=20
        ),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        ddl.json("jurisdiction"),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        ddl.str_enum(
            "status",
            "agencystatus",
            ["applied", "verified", "rejected", "suspended", "ended"],
            length=20,
        ),
        ddl.uuid("applied_by"),
        ddl.timestamp("applied_at"),
        ddl.timestamp("verified_at", nullable=True),
        ddl.timestamp("suspended_at", nullable=True),
        ddl.timestamp("ended_at", nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        ddl.foreign_key("agencies", "applied_by", "users"),
        ddl.primary_key("agencies"),
    )
    ddl.create_indexes("agencies", ("ix_agencies_state", ["state"]))

    op.create_table(
        "agency_invitations",
        ddl.uuid("id"),
        ddl.uuid("agency_id"),
        sa.Column("email", sa.String(length=320), nullable=False),
        ddl.str_enum("role", "memberrole", ["officer", "supervisor", "agency_admin"], length=20),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        ddl.uuid("invited_by"),
        ddl.timestamp("created_at"),
        ddl.timestamp("expires_at"),
        ddl.timestamp("accepted_at", nullable=True),
        ddl.foreign_key("agency_invitations", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.foreign_key("agency_invitations", "invited_by", "users"),
        ddl.primary_key("agency_invitations"),
        ddl.unique("agency_invitations", "token_hash"),
    )
    ddl.create_indexes(
        "agency_invitations", ("ix_agency_invitations_agency_id_email", ["agency_id", "email"])
    )

    op.create_table(
        "agency_memberships",
        ddl.uuid("id"),
        ddl.uuid("agency_id"),
        ddl.uuid("user_id"),
        ddl.str_enum("role", "memberrole", ["officer", "supervisor", "agency_admin"], length=20),
        ddl.timestamp("created_at"),
        ddl.foreign_key("agency_memberships", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.foreign_key("agency_memberships", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("agency_memberships"),
        ddl.unique("agency_memberships", "agency_id", "user_id"),
    )
    ddl.create_indexes("agency_memberships", ("ix_agency_memberships_user_id", ["user_id"]))

    op.create_table(
        "policies",
        ddl.uuid("id"),
        ddl.uuid("agency_id", nullable=True),
        ddl.json("settings"),
        ddl.timestamp("updated_at"),
        ddl.uuid("updated_by", nullable=True),
        ddl.foreign_key("policies", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.primary_key("policies"),
        ddl.unique("policies", "agency_id"),
    )


def downgrade() -> None:
    op.drop_table("policies")
    ddl.drop_table("agency_memberships", "ix_agency_memberships_user_id")
    ddl.drop_table("agency_invitations", "ix_agency_invitations_agency_id_email")
    ddl.drop_table("agencies", "ix_agencies_state")
    ddl.drop_table("policy_versions", "ix_policy_versions_agency_id")
