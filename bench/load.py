"""Bulk loading for the generator: COPY on PostgreSQL, executemany on SQLite.

Rows arrive as tuples of text (``None`` for NULL) already in the database's own
notation (``timestamp``, ``true``/``false``), so the hot loop does no per-value
conversion. Both loaders bypass the ORM on purpose: at 100M rows the ORM's unit of
work would take hours. Loading skips foreign-key checks (the generator builds
consistent rows) and builds a table's secondary indexes once at the end instead of
row by row; the indexes are the migration's own, read back from the catalogue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import psycopg
from sqlalchemy.engine import make_url

from bench.country import FloatArray

Row = Sequence[str | None]
COPY_CHUNK_ROWS = 50_000


def _iso_us(epoch_s: FloatArray) -> list[str]:
    stamps = (np.asarray(epoch_s) * 1e6).astype(np.int64).astype("datetime64[us]")
    result: list[str] = np.datetime_as_string(stamps, unit="us").tolist()
    return result


class PostgresLoader:
    dialect = "postgresql"
    true = "t"
    false = "f"

    def __init__(self, url: str) -> None:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(conninfo)
        self.conn.execute("SET synchronous_commit = off")
        self.conn.execute("SET maintenance_work_mem = '1GB'")
        self.conn.commit()
        try:
            # Skips the foreign-key triggers; needs a superuser, so only where allowed.
            self.conn.execute("SET session_replication_role = replica")
            self.conn.commit()
        except psycopg.errors.InsufficientPrivilege:
            self.conn.rollback()

    def timestamps(self, epoch_s: FloatArray) -> list[str]:
        return [s + "+00" for s in _iso_us(epoch_s)]

    def load(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for i in range(0, len(rows), COPY_CHUNK_ROWS):
                copy.write(
                    "".join(
                        "\t".join(r"\N" if v is None else v for v in row) + "\n"
                        for row in rows[i : i + COPY_CHUNK_ROWS]
                    )
                )
        self.conn.commit()

    @contextmanager
    def without_secondary_indexes(self, table: str) -> Iterator[None]:
        """Load ``table`` with none of its indexes, then build them once, in bulk.

        Besides the plain indexes, this drops the primary key and unique constraints (and
        any foreign key in another table that points at them): a primary key of random
        UUIDs outgrows memory at tens of millions of rows and slows COPY to a crawl, while
        one sorted build at the end takes minutes. Everything comes back from the
        catalogue's own definitions, so the table ends as the migration made it.
        """
        indexes = self.conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = current_schema()"
            " AND tablename = %s AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (table,),
        ).fetchall()
        constraints = self.conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype",
            (table,),
        ).fetchall()
        references = self.conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
            (table,),
        ).fetchall()
        for other, name, _ in references:
            self.conn.execute(f'ALTER TABLE {other} DROP CONSTRAINT "{name}"')
        for name, _ in constraints:
            self.conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        self.conn.commit()
        try:
            yield
        finally:
            self.conn.rollback()
            for name, definition in constraints:
                self.conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _, definition in indexes:
                # A partitioned table's index is listed "ON ONLY" the parent; built on the
                # parent, it is built on every partition too (motion_events on PostgreSQL).
                self.conn.execute(definition.replace(" ON ONLY ", " ON ", 1))
            for other, name, definition in references:
                self.conn.execute(f'ALTER TABLE {other} ADD CONSTRAINT "{name}" {definition}')
            self.conn.commit()

    def analyze(self, tables: Sequence[str]) -> None:
        # VACUUM sets the visibility map, so index-only scans work as on a settled table.
        self.conn.autocommit = True
        try:
            for table in tables:
                self.conn.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            self.conn.autocommit = False

    def close(self) -> None:
        self.conn.close()


class SQLiteLoader:
    dialect = "sqlite"
    true = "1"
    false = "0"

    def __init__(self, url: str) -> None:
        path = make_url(url).database
        if not path:
            raise ValueError("a SQLite URL with a file path is needed")
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode = WAL",
            "synchronous = OFF",
            "foreign_keys = OFF",
            "cache_size = -262144",
            "temp_store = MEMORY",
        ):
            self.conn.execute(f"PRAGMA {pragma}")

    def timestamps(self, epoch_s: FloatArray) -> list[str]:
        # SQLAlchemy's SQLite DATETIME text form; queries compare these strings.
        return [s.replace("T", " ") for s in _iso_us(epoch_s)]

    def load(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        # Text goes into typed columns through SQLite's affinity: '1' becomes 1, '40.7' 40.7.
        # The table and column names are the generator's constants, never input.
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany(statement, rows)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def without_secondary_indexes(self, table: str) -> Iterator[None]:
        definitions = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            (table,),
        ).fetchall()
        for name, _ in definitions:
            self.conn.execute(f'DROP INDEX "{name}"')
        try:
            yield
        finally:
            for _, definition in definitions:
                self.conn.execute(definition)

    def analyze(self, tables: Sequence[str]) -> None:
        for table in tables:
            self.conn.execute(f"ANALYZE {table}")

    def close(self) -> None:
        self.conn.close()


BulkLoader = PostgresLoader | SQLiteLoader


def open_loader(url: str) -> BulkLoader:
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return PostgresLoader(url)
    if backend == "sqlite":
        return SQLiteLoader(url)
    raise ValueError(f"unsupported database: {backend}")
