"""transparency: daily audit heads, agency statements, accountability datasets

Revision ID: 20261129_0005
Revises: 20261129_0004
Create Date: 2026-11-29 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261129_0005"
down_revision: str | None = "20261129_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accountability_analyses",
        ddl.uuid("id"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("since_years", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("participating_agencies", sa.Integer(), nullable=False),
        sa.Column("agencies_with_incidents", sa.Integer(), nullable=False),
        sa.Column("incidents_total", sa.Integer(), nullable=False),
        sa.Column("incidents_participating", sa.Integer(), nullable=False),
        ddl.json("per_agency"),
        ddl.timestamp("computed_at"),
        ddl.primary_key("accountability_analyses"),
    )
    ddl.create_indexes(
        "accountability_analyses",
        ("ix_accountability_analyses_kind_computed_at", ["kind", "computed_at"]),
    )

    op.create_table(
        "accountability_imports",
        ddl.uuid("id"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        ddl.timestamp("imported_at"),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_matched", sa.Integer(), nullable=False),
        sa.Column("rows_for_review", sa.Integer(), nullable=False),
        sa.Column("rows_already_loaded", sa.Integer(), nullable=False),
        ddl.primary_key("accountability_imports"),
    )
    op.create_table(
        "audit_daily_heads",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        ddl.timestamp("published_at"),
        ddl.primary_key("audit_daily_heads", "day"),
    )
    op.create_table(
        "accountability_records",
        ddl.serial(),
        ddl.uuid("import_id"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("agency_name", sa.String(length=300), nullable=False),
        sa.Column("state_text", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        ddl.uuid("agency_id", nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=True),
        ddl.timestamp("created_at"),
        ddl.foreign_key("accountability_records", "agency_id", "agencies", ondelete="SET NULL"),
        ddl.foreign_key(
            "accountability_records", "import_id", "accountability_imports", ondelete="CASCADE"
        ),
        ddl.primary_key("accountability_records"),
        ddl.unique("accountability_records", "kind", "fingerprint"),
    )
    ddl.create_indexes(
        "accountability_records",
        ("ix_accountability_records_import_id", ["import_id"]),
        (
            "ix_accountability_records_kind_agency_id_occurred_on",
            ["kind", "agency_id", "occurred_on"],
        ),
    )

    op.create_table(
        "agency_statements",
        ddl.uuid("agency_id"),
        sa.Column("acceptable_use", sa.Text(), nullable=False),
        ddl.json("prohibited_uses"),
        ddl.timestamp("updated_at"),
        ddl.uuid("updated_by", nullable=True),
        ddl.foreign_key("agency_statements", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.primary_key("agency_statements", "agency_id"),
    )


def downgrade() -> None:
    op.drop_table("agency_statements")
    ddl.drop_table(
        "accountability_records",
        "ix_accountability_records_kind_agency_id_occurred_on",
        "ix_accountability_records_import_id",
    )
    op.drop_table("audit_daily_heads")
    op.drop_table("accountability_imports")
    ddl.drop_table("accountability_analyses", "ix_accountability_analyses_kind_computed_at")
