"""accountability releases, incidents with several agencies, agency identifiers

Revision ID: 20261204_0008
Revises: 20261203_0007
Create Date: 2026-12-04 07:33:05.758560

``agency_identifiers`` holds an agency's aliases and outside codes (Post agency id,
ORI). An accountability record becomes an incident: the agencies it names move to
``accountability_attributions`` (each existing record's one agency is copied there
before ``accountability_records.agency_id`` goes). ``accountability_imports`` become
releases: source URL, release date, the file's SHA-256, withdrawal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import ddl

revision: str = "20261204_0008"
down_revision: str | None = "20261203_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accountability_attributions",
        ddl.serial(),
        ddl.serial("record_id", autoincrement=False),
        sa.Column("agency_name", sa.String(length=300), nullable=False),
        sa.Column("state_text", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("source_agency_id", sa.String(length=40), nullable=True),
        sa.Column("ori_codes", sa.String(length=500), nullable=True),
        ddl.uuid("agency_id", nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=True),
        ddl.foreign_key(
            "accountability_attributions", "agency_id", "agencies", ondelete="SET NULL"
        ),
        ddl.foreign_key(
            "accountability_attributions", "record_id", "accountability_records", ondelete="CASCADE"
        ),
        ddl.primary_key("accountability_attributions"),
    )
    ddl.create_indexes(
        "accountability_attributions",
        ("ix_accountability_attributions_agency_id", ["agency_id"]),
        ("ix_accountability_attributions_record_id", ["record_id"]),
    )
    op.create_table(
        "agency_identifiers",
        ddl.uuid("id"),
        ddl.uuid("agency_id"),
        ddl.str_enum("scheme", "identifierscheme", ("alias", "wapo", "ori"), length=20),
        sa.Column("value", sa.String(length=200), nullable=False),
        ddl.timestamp("added_at"),
        ddl.uuid("added_by", nullable=True),
        ddl.foreign_key("agency_identifiers", "agency_id", "agencies", ondelete="CASCADE"),
        ddl.primary_key("agency_identifiers"),
        ddl.unique("agency_identifiers", "agency_id", "scheme", "value"),
    )
    with op.batch_alter_table("accountability_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_revised", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("released_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(ddl.timestamp("withdrawn_at", nullable=True))
        batch_op.add_column(sa.Column("withdrawn_reason", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_accountability_imports_sha256"), ["sha256"], unique=False
        )

    op.execute(
        "INSERT INTO accountability_attributions"
        " (record_id, agency_name, state_text, state, agency_id, review_note)"
        " SELECT id, agency_name, state_text, state, agency_id, review_note"
        " FROM accountability_records"
    )
    op.execute("UPDATE accountability_records SET review_note = NULL WHERE occurred_on IS NOT NULL")
    with op.batch_alter_table("accountability_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_text", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revised_import_id", sa.Uuid(), nullable=True))
        batch_op.add_column(ddl.json("previous", nullable=True))
        batch_op.drop_index(batch_op.f("ix_accountability_records_kind_agency_id_occurred_on"))
        batch_op.create_index(
            "ix_accountability_records_kind_occurred_on", ["kind", "occurred_on"], unique=False
        )
        batch_op.drop_constraint(
            batch_op.f("fk_accountability_records_agency_id_agencies"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_accountability_records_revised_import_id_accountability_imports"),
            "accountability_imports",
            ["revised_import_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_column("agency_id")


def downgrade() -> None:
    with op.batch_alter_table("accountability_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("fk_accountability_records_revised_import_id_accountability_imports"),
            type_="foreignkey",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_accountability_records_agency_id_agencies"),
            "agencies",
            ["agency_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_index("ix_accountability_records_kind_occurred_on")
        batch_op.create_index(
            batch_op.f("ix_accountability_records_kind_agency_id_occurred_on"),
            ["kind", "agency_id", "occurred_on"],
            unique=False,
        )
        batch_op.drop_column("previous")
        batch_op.drop_column("revised_import_id")
        batch_op.drop_column("content_hash")
        batch_op.drop_column("date_text")

    op.execute(
        "UPDATE accountability_records SET agency_id = (SELECT a.agency_id"
        " FROM accountability_attributions a WHERE a.record_id = accountability_records.id"
        " ORDER BY a.id LIMIT 1)"
    )
    with op.batch_alter_table("accountability_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accountability_imports_sha256"))
        batch_op.drop_column("withdrawn_reason")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("sha256")
        batch_op.drop_column("released_on")
        batch_op.drop_column("source_url")
        batch_op.drop_column("rows_revised")

    op.drop_table("agency_identifiers")
    ddl.drop_table(
        "accountability_attributions",
        "ix_accountability_attributions_record_id",
        "ix_accountability_attributions_agency_id",
    )
