"""Paging parameters are bounded: an offset, page or cursor a client makes up answers a 4xx
naming it, never a 500, on both databases; the pages that follow next_cursor still work."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from doorstep import paging
from doorstep.db import utcnow
from doorstep.runtime import Runtime
from tests.factories import HTML, make_camera, make_person, make_post, set_home, sign_in


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors no page ever gave out; the first two reached SQL or crashed the decoder before.
FORGED_CURSORS = [
    _b64(b'["2026-11-29T12:00:00+00:00", 5]'),  # an id that is not text
    _b64(b'["2026-11-29T12:00:00", "00000000-0000-0000-0000-000000000000"]'),  # naive time
    _b64(b"[" * 140),  # deeply nested
    _b64(b'{"at": 1, "id": 2}'),
    _b64(b"[1, 2]"),
    _b64(b"\xff\xfe"),
    "not base64 at all!",
    "A" * 5000,
]


def test_offset_past_the_database_limit_is_refused(client: TestClient) -> None:
    for offset in ("9223372036854775808", str(paging.MAX_OFFSET + 1), "-1", "1e3"):
        r = client.get("/api/v1/transparency/requests", params={"offset": offset})
        assert r.status_code == 422, (offset, r.text)
        assert r.json()["error"]["message"].startswith("offset: ")
    r = client.get("/api/v1/transparency/requests", params={"offset": paging.MAX_OFFSET})
    assert r.status_code == 200 and r.json()["requests"] == []


def test_page_past_the_last_is_a_400_page(client: TestClient) -> None:
    for page in ("9223372036854775808", "9" * 5000, "-3", "two"):
        r = client.get("/transparency/requests", params={"page": page}, headers=HTML)
        assert r.status_code == 400, (page[:30], r.status_code)
        assert "text/html" in r.headers["content-type"]
        assert "pages are numbered 1 to" in r.text
    r = client.get("/transparency/requests", params={"page": "2"}, headers=HTML)
    assert r.status_code == 200


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_forged_cursors_are_refused_by_the_api(
    client: TestClient, runtime: Runtime, cursor: str
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    make_camera(runtime, person.user)
    for path in ("/api/v1/events", "/api/v1/feed", "/api/v1/feed/map"):
        r = client.get(path, headers=person.headers, params={"cursor": cursor})
        assert r.status_code in (400, 422), (path, r.text)
        error: dict[str, Any] = r.json()["error"]
        assert error["code"] in ("invalid_cursor", "validation_failed")
        assert "cursor" in error["message"]


def test_forged_cursors_are_refused_by_the_pages(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    sign_in(client, person.user.email)
    for cursor in FORGED_CURSORS:
        for path in ("/timeline", "/feed", "/feed/map"):
            r = client.get(path, params={"cursor": cursor}, headers=HTML)
            assert r.status_code == 400, (path, cursor[:30], r.status_code)
            assert "page cursor is not valid" in r.text


def test_cursors_given_out_still_lead_to_the_next_page(
    client: TestClient, runtime: Runtime
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    posts = [make_post(runtime, author, title=f"Post number {i}") for i in range(3)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/feed", headers=author.headers, params=params).json()
        seen += [p["id"] for p in page["posts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(cursor) <= paging.MAX_CURSOR_CHARS
    assert sorted(seen) == sorted(str(p.id) for p in posts)

    cam = make_camera(runtime, author.user)
    for minutes in (3, 2):
        started = (utcnow() - timedelta(minutes=minutes)).isoformat()
        r = client.post(
            f"/api/v1/cameras/{cam.camera.id}/events",
            headers=cam.headers,
            json={"kind": "motion", "started_at": started},
        )
        assert r.status_code == 201, r.text
    first = client.get("/api/v1/events", headers=author.headers, params={"limit": 1}).json()
    assert first["next_cursor"]
    second = client.get(
        "/api/v1/events",
        headers=author.headers,
        params={"limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert [e["id"] for e in second["events"]] != [e["id"] for e in first["events"]]
    assert len(second["events"]) == 1


def test_filter_days_at_the_end_of_the_calendar_are_a_400_page(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    sign_in(client, person.user.email)
    for path in ("/timeline", "/feed"):
        r = client.get(path, params={"to": "9999-12-31"}, headers=HTML)
        assert r.status_code == 400, (path, r.status_code)
        assert "leave it empty" in r.text
        r = client.get(path, params={"from": "0001-01-01", "to": "9999-12-30"}, headers=HTML)
        assert r.status_code == 200, (path, r.status_code)
