"""second factor on API tokens, recovery codes, invitation links and email status

Revision ID: 20261203_0007
Revises: 20261129_0006
Create Date: 2026-12-03 21:00:00.000000

``api_tokens.with_second_factor`` records whether a token was issued against a second
factor; every token that exists before this revision counts as password-only (the
server default), so none of them keeps agency powers. ``recovery_codes`` holds the
hashed one-time codes. ``agency_invitations`` gains the hash of the link an agency admin
copies, and where its email stands (NULL for invitations made before this revision:
their email was never tracked).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.db

revision: str = "20261203_0007"
down_revision: str | None = "20261129_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("with_second_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", doorstep.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("agency_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "email_status",
                sa.Enum(
                    "queued",
                    "sent",
                    "retrying",
                    "failed",
                    name="invitationemailstatus",
                    native_enum=False,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("email_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("email_attempted_at", doorstep.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_agency_invitations_link_token_hash"), ["link_token_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("agency_invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_agency_invitations_link_token_hash"), type_="unique"
        )
        batch_op.drop_column("email_attempted_at")
        batch_op.drop_column("email_error")
        batch_op.drop_column("email_status")
        batch_op.drop_column("link_token_hash")

    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("with_second_factor")
