"""Dependencies shared by every router: the runtime, one DB transaction per request, and
the cursor parameter of keyset-paginated lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

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


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per HTTP request: commit on success, roll back on any error."""
    with get_runtime(request).db.transaction() as session:
        request.state.db_session = session
        yield session


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
