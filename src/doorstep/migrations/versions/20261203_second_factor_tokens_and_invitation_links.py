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

from doorstep.migrations import ddl

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
        ddl.uuid("id"),
        ddl.uuid("user_id"),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        ddl.timestamp("created_at"),
        ddl.timestamp("used_at", nullable=True),
        ddl.foreign_key("recovery_codes", "user_id", "users", ondelete="CASCADE"),
        ddl.primary_key("recovery_codes"),
        ddl.unique("recovery_codes", "code_hash"),
    )
    ddl.create_indexes("recovery_codes", ("ix_recovery_codes_user_id", ["user_id"]))

    with op.batch_alter_table("agency_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            ddl.str_enum(
                "email_status",
                "invitationemailstatus",
                ["queued", "sent", "retrying", "failed"],
                length=20,
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("email_error", sa.Text(), nullable=True))
        batch_op.add_column(ddl.timestamp("email_attempted_at", nullable=True))
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

    ddl.drop_table("recovery_codes", "ix_recovery_codes_user_id")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("with_second_factor")
