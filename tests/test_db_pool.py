"""The PostgreSQL pool without pre-ping: no round trip at checkout, and a connection the
server closed while it sat in the pool is refused and replaced, not handed to a request."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, text

from doorstep.db import POOL_RECYCLE_S, Database


@pytest.mark.parametrize("db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.engine.pool._pre_ping is False
        assert db.engine.pool._recycle == POOL_RECYCLE_S
        statements: list[str] = []
        event.listen(
            db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
        )
        with db.transaction() as session:
            first = session.scalar(text("SELECT pg_backend_pid()"))
        # The server ends the pooled connection (a restart or an idle timeout does too).
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        time.sleep(0.2)  # the server's farewell reaches the pooled socket
        statements.clear()
        with db.transaction() as session:
            second = session.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        # No ping was sent: the request's own statement was the only one.
        assert statements == ["SELECT pg_backend_pid()"]
    finally:
        db.dispose()
