"""Dependencies shared by every router: the runtime, one DB transaction per request, and
the cursor parameter of keyset-paginated lists."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from doorstep import paging
from doorstep.config import Settings
from doorstep.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per HTTP request: commit on success, roll back on any error.

    The session is opened on the event loop (a session takes its connection at its first
    statement, so opening it blocks nothing) and ended in a worker thread (the commit
    does block). A plain generator would take a threadpool hop for each: this saves one
    per request. The end runs under a limiter of its own, as FastAPI does for a blocking
    dependency's exit, so that a commit never waits for a thread held by a request that
    waits for this connection."""
    unit = get_runtime(request).db.transaction()
    session = unit.__enter__()
    request.state.db_session = session
    try:
        yield session
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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit happens before the response is sent, so a failed
# commit is an error response, never a silent loss after a 200.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
ClientAddress = Annotated[str, Depends(client_address)]
# The opaque ``cursor`` query parameter of a keyset-paginated list: bounded here so that a
# text far longer than any cursor is a 422 before it reaches paging.decode_cursor.
PageCursor = Annotated[str | None, Query(max_length=paging.MAX_CURSOR_CHARS)]
