"""Columns, constraints and indexes as the revisions write them, built in one place.

Every table repeats the same few pieces: UUID columns, UTC times, JSON documents, string
enums, a surrogate integer key, constraints named by the metadata's naming convention, and
the batch block that adds (or drops) a table's indexes. The revisions build them here.

Revisions that already ran on real deployments call these builders, so what each one emits
is frozen: never change a builder's output (``alembic upgrade head --sql`` must stay the
same to the byte); a new shape gets a new builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import doorstep.db


def uuid(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Uuid(), nullable=nullable)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """An aware UTC time (``timestamptz`` on PostgreSQL)."""
    return sa.Column(name, doorstep.db.UTCDateTime(timezone=True), nullable=nullable)


def json(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    """A JSON document: JSONB on PostgreSQL, JSON elsewhere."""
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    return sa.Column(name, json_type, nullable=nullable)


def serial(name: str = "id", *, autoincrement: bool = True) -> sa.Column[Any]:
    """A 64-bit integer key (SQLite's INTEGER, so that it is the rowid there)."""
    key_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column(name, key_type, autoincrement=autoincrement, nullable=False)


def str_enum(
    name: str, type_name: str, values: Sequence[str], *, length: int, nullable: bool = False
) -> sa.Column[Any]:
    """A string enum stored as VARCHAR (no native enum type), as ``db.str_enum`` maps it."""
    enum_type = sa.Enum(*values, name=type_name, native_enum=False, length=length)
    return sa.Column(name, enum_type, nullable=nullable)


def foreign_key(
    table: str, column: str, referred: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """``table.column`` references ``referred.id``, named as the naming convention names it."""
    return sa.ForeignKeyConstraint(
        [column],
        [f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """The key of ``table``: its ``id`` column unless other columns are given."""
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{columns[0]}"))


def create_indexes(table: str, *indexes: tuple[str, list[str]]) -> None:
    """Add ``(name, columns)`` plain indexes to ``table``, in the order given.

    Names are given in full: the naming convention never rewrites an explicit index name.
    """
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, columns in indexes:
            batch_op.create_index(batch_op.f(name), columns, unique=False)


def drop_table(table: str, *indexes: str) -> None:
    """Drop the named indexes of ``table`` (in the order given), then the table."""
    if indexes:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(batch_op.f(name))
    op.drop_table(table)


def create_partial_index(table: str, name: str, columns: list[str], *, where: str) -> None:
    """Add the plain index ``name`` on ``columns`` of ``table``, over the rows ``where`` (an
    SQL condition) holds, on SQLite and PostgreSQL alike."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(name),
            columns,
            unique=False,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


# The cameras' exact positions as PostGIS points (revision 20261205_0012); the benchmark
# builds it the same way on databases it may not migrate.
POSTGIS_POSITION_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_cameras_exact_position ON cameras USING gist"
    " ((ST_SetSRID(ST_MakePoint(exact_longitude, exact_latitude), 4326)))"
    " INCLUDE (id, owner_id, exact_longitude, exact_latitude) WHERE accepts_requests"
)


def execute_where_postgis(statement: str) -> None:
    """Run ``statement`` where the database is PostgreSQL with the PostGIS extension;
    elsewhere nothing. Decided by the server (a ``DO`` block), so ``--sql`` output does
    the same."""
    if op.get_context().dialect.name != "postgresql":
        return
    quoted = statement.replace("'", "''")
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_extension WHERE extname = 'postgis')"
        f" THEN EXECUTE '{quoted}'; END IF; END $$"
    )
