"""Responses kept in the process, each under the data version it was made at
(``doorstep.versions``): a request reads the version (one tiny query) and gets the kept
body when it was made at that very version, so a kept body is never older than the
database; anything else renders anew. Bounded in entries and in bytes, least recently
used out first.

Pages are kept for signed-out visitors only, and without their CSRF token: the kept page
holds a placeholder, and each visitor gets his own token (and, for a new one, its cookie).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from doorstep import versions
from doorstep.db import Database
from doorstep.runtime import Runtime
from doorstep.web.render import Page, csrf_token, give_pre_session_token

# Stands in a kept page for the visitor's CSRF token (never sent: always replaced).
TOKEN_PLACEHOLDER = b"@@doorstep-csrf-token@@"


class VersionedCache:
    """Bodies by key, each under its data version; thread-safe, LRU, bounded."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable, version: int) -> bytes | None:
        """The body kept under ``key`` if it was made at ``version``, else None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version:
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, version: int, body: bytes) -> None:
        """Keep ``body`` under ``key`` as made at ``version`` (a body made at a newer
        version already kept stays); then drop the least recently used to the bounds."""
        if len(body) > self.max_bytes or self.max_entries < 1:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
                if old[0] > version:
                    version, body = old
            self._entries[key] = (version, body)
            self._bytes += len(body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _key, (_version, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)


_made = threading.Lock()


def app_cache(app: Any, name: str, *, max_entries: int, max_bytes: int) -> VersionedCache:
    """The app's cache called ``name`` (made at its first use): one per app, so two apps
    in one process, on one database or not, never share a body."""
    caches: dict[str, VersionedCache] | None = getattr(app.state, "kept_responses", None)
    if caches is None or name not in caches:
        with _made:
            caches = getattr(app.state, "kept_responses", None)
            if caches is None:
                caches = app.state.kept_responses = {}
            if name not in caches:
                caches[name] = VersionedCache(max_entries=max_entries, max_bytes=max_bytes)
    return caches[name]


def kept_now(db: Database, cache: VersionedCache, key: Hashable, view: str) -> bytes | None:
    """The body kept under ``key`` at ``view``'s current data version, or None. The
    version is read in autocommit (``Database.standalone_reads``: no BEGIN or COMMIT
    round trip), so a hit costs one tiny statement. Blocking: a route's one threadpool
    hop. On the primary: with read replicas a route reads the version where it reads the
    rows (``read_kept``)."""
    with db.standalone_reads() as connection:
        return cache.get(key, versions.current(connection, view))


def read_kept(
    runtime: Runtime,
    read_after: int | None,
    cache: VersionedCache,
    key: Hashable,
    view: str,
    render: Callable[[Session], bytes],
) -> bytes:
    """In one read transaction (on a fit read replica when there are some, see
    ``doorstep.replicas``; else on the primary): ``view``'s version, then the body kept
    under ``key`` at it, or ``render(session)`` kept at it. Blocking."""
    if runtime.replicas.configured:
        with runtime.replicas.read(after=read_after) as replica:
            if replica is not None:
                return _kept_or_made(replica, cache, key, view, render)
    with runtime.db.read_only() as session:
        return _kept_or_made(session, cache, key, view, render)


def _kept_or_made(
    session: Session,
    cache: VersionedCache,
    key: Hashable,
    view: str,
    render: Callable[[Session], bytes],
) -> bytes:
    version = versions.current(session, view)
    body = cache.get(key, version)
    if body is None:
        body = render(session)
        cache.put(key, version, body)
    return body


def kept_page(
    page: Page, cache: VersionedCache, key: Hashable, version: int, show: Callable[[], Response]
) -> Response:
    """``show()``, or for a signed-out visitor the page kept under ``key`` at ``version``
    (kept once shown with status 200)."""
    if not keeps_for(page):
        return show()
    body = cache.get(key, version)
    if body is None:
        token, _new = csrf_token(page.request, page.visitor)
        response = show()
        if response.status_code == 200 and isinstance(response, HTMLResponse):
            cache.put(key, version, bytes(response.body).replace(token.encode(), TOKEN_PLACEHOLDER))
        return response
    return kept_response(page, body)


def keeps_for(page: Page) -> bool:
    """Whether this visitor may be given a kept page: signed out, and no form error."""
    return page.visitor.user is None and page.error is None


def kept_response(page: Page, body: bytes) -> Response:
    """A kept page with this visitor's own CSRF token (and, for a new one, its cookie)."""
    token, new = csrf_token(page.request, page.visitor)
    response = HTMLResponse(body.replace(TOKEN_PLACEHOLDER, token.encode()))
    if new:
        give_pre_session_token(
            response, token, secure=page.request.app.state.runtime.settings.cookie_secure
        )
    return response
