"""transparency: daily audit heads, agency statements, accountability datasets

Revision ID: 20261129_0005
Revises: 20261129_0004
Create Date: 2026-11-29 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import doorstep.db

revision: str = "20261129_0005"
down_revision: str | None = "20261129_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accountability_analyses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("since_years", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("participating_agencies", sa.Integer(), nullable=False),
        sa.Column("agencies_with_incidents", sa.Integer(), nullable=False),
        sa.Column("incidents_total", sa.Integer(), nullable=False),
        sa.Column("incidents_participating", sa.Integer(), nullable=False),
        sa.Column(
            "per_agency",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("computed_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accountability_analyses")),
    )
    with op.batch_alter_table("accountability_analyses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_accountability_analyses_kind_computed_at", ["kind", "computed_at"], unique=False
        )

    op.create_table(
        "accountability_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("imported_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_matched", sa.Integer(), nullable=False),
        sa.Column("rows_for_review", sa.Integer(), nullable=False),
        sa.Column("rows_already_loaded", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accountability_imports")),
    )
    op.create_table(
        "audit_daily_heads",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("published_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_audit_daily_heads")),
    )
    op.create_table(
        "accountability_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("agency_name", sa.String(length=300), nullable=False),
        sa.Column("state_text", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=True),
        sa.Column("created_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_accountability_records_agency_id_agencies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["accountability_imports.id"],
            name=op.f("fk_accountability_records_import_id_accountability_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accountability_records")),
        sa.UniqueConstraint("kind", "fingerprint", name=op.f("uq_accountability_records_kind")),
    )
    with op.batch_alter_table("accountability_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accountability_records_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index(
            "ix_accountability_records_kind_agency_id_occurred_on",
            ["kind", "agency_id", "occurred_on"],
            unique=False,
        )

    op.create_table(
        "agency_statements",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("acceptable_use", sa.Text(), nullable=False),
        sa.Column(
            "prohibited_uses",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", doorstep.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_statements_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_statements")),
    )


def downgrade() -> None:
    op.drop_table("agency_statements")
    with op.batch_alter_table("accountability_records", schema=None) as batch_op:
        batch_op.drop_index("ix_accountability_records_kind_agency_id_occurred_on")
        batch_op.drop_index(batch_op.f("ix_accountability_records_import_id"))

    op.drop_table("accountability_records")
    op.drop_table("audit_daily_heads")
    op.drop_table("accountability_imports")
    with op.batch_alter_table("accountability_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_accountability_analyses_kind_computed_at")

    op.drop_table("accountability_analyses")
