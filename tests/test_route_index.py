"""The route index (doorstep.route_index): a request is matched against the entries that
can match its path only, and the answer is the one the full router gives."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match

from doorstep import route_index
from doorstep.app import create_app
from doorstep.runtime import Runtime

_PARAMETER = re.compile(r"\{([^}:]+)(:[^}]+)?\}")


def _sample_path(template: str) -> str:
    """A concrete path for a route template: every parameter filled with a plausible id."""
    return _PARAMETER.sub("0b7e2c5e-8f1a-4d3c-9a6b-2f4e5d6c7b8a", template)


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def _first_match(routes: list[Any], scope: dict[str, Any]) -> Any:
    """The entry the router would hand the request to: the first full match, else the
    first partial one (a known path, another method)."""
    partial = None
    for entry in routes:
        match, _ = entry.matches(dict(scope))
        if match is Match.FULL:
            return entry
        if match is Match.PARTIAL and partial is None:
            partial = entry
    return partial


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


def test_literal_starts_stop_at_the_first_parameter() -> None:
    assert route_index.literal_start("/api/v1/feed") == ("api", "v1", "feed")
    assert route_index.literal_start("/api/v1/cameras/{camera_id}/clips") == (
        "api",
        "v1",
        "cameras",
    )
    assert route_index.literal_start("/posts/{post_id}") == ("posts",)
    assert route_index.literal_start("/") == ("",)
    assert route_index.literal_start("/{anything:path}") == ()
    assert route_index.request_start(_scope("/api/v1/feed/a/b")) == ("api", "v1", "feed")
    scope = {**_scope("/prefix/feed"), "root_path": "/prefix"}
    assert route_index.request_start(scope) == ("feed",)


def test_every_route_of_the_app_is_found_through_its_view(app: FastAPI) -> None:
    index = route_index.RouteIndex(app.router)
    checked = 0
    for entry in app.router.routes:
        for context in iter_route_contexts([entry]):
            template = context.path
            if not isinstance(template, str):
                continue
            path = _sample_path(template) + ("/app.css" if context.path == "/static" else "")
            for method in sorted(getattr(context, "methods", None) or {"GET"}):
                scope = _scope(path, method)
                view = index.view_for(scope)
                # The view holds the entry, and picks what the full router picks.
                assert entry in view.routes, (template, method)
                assert _first_match(view.routes, scope) is _first_match(app.router.routes, scope), (
                    template,
                    method,
                )
                checked += 1
    assert checked > 150
    # The API's views hold a few routers, not all of them.
    assert len(index.view_for(_scope("/api/v1/feed")).routes) < len(app.router.routes) // 4


def test_answers_do_not_change(client: TestClient) -> None:
    # A known path, a parameter, a 405 with the full Allow list, a 404, a mount.
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/transparency/requests").status_code == 200
    refused = client.put("/api/v1/transparency/requests")
    assert refused.status_code == 405 and "GET" in refused.headers["allow"]
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/static/no-such-file.css").status_code == 404
    assert client.get("/api/v1/openapi.json").status_code == 200
    # The slash redirect still comes from the full router.
    slashed = client.get("/transparency/requests/", follow_redirects=False)
    assert slashed.status_code in (307, 404)


def test_a_route_added_after_the_app_was_made_is_found(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/healthz").status_code == 200  # the index is built

    async def late() -> dict[str, bool]:
        return {"late": True}

    app.add_api_route("/late/route", late, methods=["GET"])
    assert client.get("/late/route").json() == {"late": True}


def test_url_for_sees_every_route(app: FastAPI) -> None:
    # The request's router is the app's, not the view it was matched in.
    async def endpoint(request: Request) -> dict[str, str]:
        return {"healthz": str(request.url_for("healthz"))}

    app.add_api_route("/probe/url-for", endpoint, methods=["GET"])
    answer = TestClient(app).get("/probe/url-for").json()
    assert answer["healthz"].endswith("/healthz")
