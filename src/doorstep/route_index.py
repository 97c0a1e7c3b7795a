"""Route lookup that does not grow with the number of routers: a dispatch on the first
segments of the path.

Starlette matches a request against the app's routes one after the other, and FastAPI
keeps each included router as one entry that scans its own routes the same way: behind
about 30 routers and 240 routes, matching was most of the time of a trivial request
(a profile of ``/bench/bare``: 90% of it in route matching).

:class:`RouteIndex` sorts the app's top-level entries (each included router, mount and
route) by the literal segments their paths begin with, up to ``DEPTH`` segments
(``/api/v1/feed/{post_id}`` begins with ``api``, ``v1``, ``feed``). A request is matched
by FastAPI's own router as before, but against a view of it holding only the entries
that have a route whose literal beginning is a beginning of the request's path, in
their original order. An entry left out cannot match the request, so the first match is
the same route as before: every URL, its path parameters, the 405 of a known path,
``url_for`` (the request's ``router`` stays the app's) and the OpenAPI document (built
from the app's routes) are unchanged. When the view matches nothing, the full router
answers (the 404, or the redirect to the path with or without its trailing slash).

The index is rebuilt when the app's list of entries changes (a route added after the
app was made, as the benchmarks do). Routes added to a router after it was included
are not seen by it; ``routes.include_all`` includes complete routers.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

# Segments of the path that select the candidates: ``/api/v1/<resource>`` tells the
# API's routers apart, one or two segments the pages'.
DEPTH = 3


def literal_start(path: str) -> tuple[str, ...]:
    """The segments a route's path begins with before its first parameter, at most
    ``DEPTH`` of them: every path the route matches begins with these segments."""
    start: list[str] = []
    for segment in path.split("/")[1 : DEPTH + 1]:
        if "{" in segment:
            break
        start.append(segment)
    return tuple(start)


def request_start(scope: Scope) -> tuple[str, ...]:
    """The first ``DEPTH`` segments of the request's path (below the app's root path)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return tuple(path.split("/", DEPTH + 1)[1 : DEPTH + 1])


def _entry_starts(entry: BaseRoute) -> set[tuple[str, ...]]:
    """The literal beginnings of the routes of one top-level entry. An entry without a
    path (a host route) begins with nothing, so it is a candidate for every path."""
    starts = set()
    for context in iter_route_contexts([entry]):
        path = context.path
        starts.add(literal_start(path) if isinstance(path, str) else ())
    return starts or {()}


class RouteIndex:
    """For each known beginning of a path, a view of the router with the entries that
    may match a path beginning so, in the router's order."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.full_app: ASGIApp = router.app
        self.built_for: tuple[int, int] | None = None
        self.views: dict[tuple[str, ...], Router] = {}

    def _signature(self) -> tuple[int, int]:
        routes = self.router.routes
        return len(routes), id(routes[-1]) if routes else 0

    def _view(self, entries: Sequence[BaseRoute]) -> Router:
        view = copy.copy(self.router)
        view.routes = list(entries)
        # No entry of the view matched: the full router answers (404, slash redirect).
        view.default = self.full_app
        return view

    def _build(self) -> None:
        entries = [(entry, _entry_starts(entry)) for entry in self.router.routes]
        # Every beginning of a known beginning is a key: a request is looked up by the
        # longest of its beginnings that is a key.
        keys = {start[:n] for _, starts in entries for start in starts for n in range(DEPTH + 1)}
        self.views = {
            key: self._view(
                [entry for entry, starts in entries if any(key[: len(s)] == s for s in starts)]
            )
            for key in keys
        }
        self.built_for = self._signature()

    def view_for(self, scope: Scope) -> Router:
        if self.built_for != self._signature():
            self._build()
        start = request_start(scope)
        for n in range(len(start), -1, -1):
            view = self.views.get(start[:n])
            if view is not None:
                return view
        return self.router  # unreachable: the empty beginning is always a key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.full_app(scope, receive, send)
            return
        # url_for and the rest of the request see the app's router, not the view.
        scope.setdefault("router", self.router)
        await self.view_for(scope).app(scope, receive, send)


def install(app: FastAPI) -> RouteIndex:
    """Put the index in front of the app's router: every request the router gets is
    matched against the view of its path."""
    index = RouteIndex(app.router)
    app.router.middleware_stack = index
    return index
