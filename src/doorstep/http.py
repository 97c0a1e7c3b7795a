"""Dependencies shared by every router: the runtime, one DB transaction per request (on
the primary, or on a read replica for a route that only reads), and the cursor parameter
of keyset-paginated lists."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from doorstep import paging, replicas
from doorstep.config import Settings
from doorstep.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


# Methods that change nothing by HTTP's rules: their bookkeeping writes (a token's last
# use) need no read-your-writes.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per HTTP request: commit on success, roll back on any error.

    The session is opened on the event loop (a session takes its connection at its first
    statement, so opening it blocks nothing) and ended in a worker thread (the commit
    does block). A plain generator would take a threadpool hop for each: this saves one
    per request. The end runs under a limiter of its own, as FastAPI does for a blocking
    dependency's exit, so that a commit never waits for a thread held by a request that
    waits for this connection.

    With read replicas, a request that may have written (not GET, HEAD or OPTIONS) leaves
    the primary's WAL position after its commit for the ``doorstep_read_after`` cookie,
    so that the caller's next reads wait for a replica that has replayed it."""
    runtime = get_runtime(request)
    unit = runtime.db.transaction()
    session = unit.__enter__()
    request.state.db_session = session
    async with _ended_in_a_thread(unit):
        yield session
    if runtime.replicas.configured and request.method not in _SAFE_METHODS:
        await fence_reads(request, runtime)


@asynccontextmanager
async def _ended_in_a_thread(unit: AbstractContextManager[Any]) -> AsyncIterator[None]:
    """Run the body, then ``unit.__exit__`` in a worker thread under a limiter of its own,
    shielded from cancellation, with the body's error if any (which it may handle)."""
    try:
        yield
    except BaseException:
        error = sys.exc_info()
        with anyio.CancelScope(shield=True):
            handled = await anyio.to_thread.run_sync(
                unit.__exit__, *error, limiter=anyio.CapacityLimiter(1)
            )
        if not handled:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                unit.__exit__, None, None, None, limiter=anyio.CapacityLimiter(1)
            )


async def fence_reads(request: Request, runtime: Runtime) -> None:
    """After a request's writes commit, with read replicas: leave the primary's WAL
    position for the ``doorstep_read_after`` cookie (the caller's next reads wait for a
    replica that has replayed it)."""
    position = await anyio.to_thread.run_sync(
        replicas.primary_position, runtime.db.engine, limiter=anyio.CapacityLimiter(1)
    )
    setattr(request.state, replicas.FENCE_STATE, position)


async def get_read_session(request: Request, primary: DbSession) -> AsyncIterator[Session]:
    """A transaction for a route that only reads: on a fit read replica (see
    ``doorstep.replicas``), else the request's own transaction on the primary, which is
    all there is when no replica is configured (then no thread is taken for it)."""
    runtime = get_runtime(request)
    if not runtime.replicas.configured:
        yield primary
        return
    after = replicas.parse_lsn(request.cookies.get(replicas.FENCE_COOKIE))
    unit = runtime.replicas.read(after=after)
    session = await anyio.to_thread.run_sync(unit.__enter__)
    async with _ended_in_a_thread(unit):
        yield primary if session is None else session


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit happens before the response is sent, so a failed
# commit is an error response, never a silent loss after a 200.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
# For routes that only read (the public portal, the feed, timelines, the request log).
ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]
ClientAddress = Annotated[str, Depends(client_address)]
# The opaque ``cursor`` query parameter of a keyset-paginated list: bounded here so that a
# text far longer than any cursor is a 422 before it reaches paging.decode_cursor.
PageCursor = Annotated[str | None, Query(max_length=paging.MAX_CURSOR_CHARS)]
