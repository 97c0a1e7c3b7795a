"""The benchmarks' own PostgreSQL databases: made fresh on a server, dropped at the end.

Each run names its database ``doorstep_bench_<benchmark>_<random>`` (or what ``--database``
says), so two runs on one server never share or drop each other's database."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session


def conninfo(url: str, database: str | None = None) -> str:
    """A libpq URL for ``url`` (any SQLAlchemy URL on the server), or for ``database``
    on the same server."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def database_url(url: str, database: str) -> str:
    """The SQLAlchemy URL (psycopg driver) of ``database`` on the server of ``url``."""
    return conninfo(url, database).replace("postgresql://", "postgresql+psycopg://", 1)


def recreate(url: str, database: str) -> None:
    """Drop ``database`` on the server of ``url`` if it is there, and create it empty."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def drop(url: str, database: str) -> None:
    """Drop ``database`` on the server of ``url``, closing its connections."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def scratch_name(benchmark: str) -> str:
    """A database name of its own for one run of ``benchmark``."""
    return f"doorstep_bench_{benchmark}_{uuid.uuid4().hex[:8]}"


def add_options(parser: argparse.ArgumentParser, benchmark: str) -> None:
    """The ``--database NAME`` and ``--keep`` options every benchmark with a scratch
    database takes."""
    parser.add_argument(
        "--database",
        help=f"name of the run's own database (default doorstep_bench_{benchmark}_<random>)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's database at the end")


@contextmanager
def scratch_postgres(url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """Database ``name`` made fresh on the PostgreSQL server of ``url``, as a SQLAlchemy
    URL; dropped when the block ends unless ``keep``."""
    recreate(url, name)
    try:
        yield database_url(url, name)
    finally:
        if not keep:
            drop(url, name)


@contextmanager
def scratch_database(
    kind: str, *, folder: Path, pg_url: str, name: str, keep: bool = False
) -> Iterator[str]:
    """A fresh database for one run, as a SQLAlchemy URL: the SQLite file
    ``folder/doorstep.db`` when ``kind`` is ``sqlite``, else database ``name`` made on the
    PostgreSQL server of ``pg_url`` and dropped when the block ends unless ``keep``."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'doorstep.db'}"
        return
    with scratch_postgres(pg_url, name, keep=keep) as url:
        yield url


def server_version(session: Session) -> str | None:
    """The version of the database server ``session`` talks to (PostgreSQL or SQLite)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = "SHOW server_version" if postgresql else "SELECT sqlite_version()"
    version: str | None = session.scalar(text(query))
    return version
