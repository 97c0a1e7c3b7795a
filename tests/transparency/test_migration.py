"""The transparency migration goes down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from tests.conftest import PG_ADMIN_URL, _pg_connect

from doorstep.migrate import downgrade, upgrade

TABLES = {
    "audit_daily_heads",
    "agency_statements",
    "accountability_imports",
    "accountability_records",
    "accountability_analyses",
}


@pytest.fixture
def fresh_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the shared test database stays at head)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    name = f"doorstep_migrate_{uuid.uuid4().hex[:8]}"
    with _pg_connect(PG_ADMIN_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _pg_connect(PG_ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_transparency_migration_downgrades_and_upgrades(fresh_url: str) -> None:
    upgrade(fresh_url, "20261129_0005")
    assert _tables(fresh_url) >= TABLES
    engine = create_engine(fresh_url)
    try:
        indexes = {i["name"] for i in inspect(engine).get_indexes("accountability_records")}
    finally:
        engine.dispose()
    assert "ix_accountability_records_kind_agency_id_occurred_on" in indexes
    downgrade(fresh_url, "20261129_0004")
    remaining = _tables(fresh_url)
    assert not remaining & TABLES and "audit_records" in remaining
    upgrade(fresh_url, "20261129_0005")
    assert _tables(fresh_url) >= TABLES
