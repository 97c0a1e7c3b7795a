"""The request log's kept answers (issue 16): the page and the API are kept per process
under the log's data version, and every writer that changes what the log shows raises
that version in its own transaction, so the very next request shows the change, through
this app or another one on the same database; and the kept answers stay in their bounds."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.factories import make_person, sign_in
from tests.transparency.portal import (
    LAT,
    LNG,
    agency_with_officer,
    decline,
    owner_with_event,
    send_request,
    set_policy,
    share,
)

from doorstep.accounts.models import Role
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency
from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.runtime import Runtime
from doorstep.transparency import request_log
from doorstep.web.kept import TOKEN_PLACEHOLDER
from doorstep.web.render import PRE_SESSION_CSRF_COOKIE

HTML = {"Accept": "text/html"}


def api_row(client: TestClient, request_id: str) -> dict[str, Any]:
    rows = client.get("/api/v1/transparency/requests").json()["requests"]
    return next(r for r in rows if r["id"] == request_id)


def page_row(client: TestClient, request_id: str) -> dict[str, str]:
    """The request's row of the log page, as {column label: text}."""
    html = client.get("/transparency/requests", headers=HTML).text
    found = re.search(rf'<tr data-request-id="{request_id}">(.*?)</tr>', html, re.S)
    assert found is not None
    cells = re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', found.group(1), re.S)
    return {label: re.sub(r"<[^>]+>", "", text).strip() for label, text in cells}


def counts(row: dict[str, str]) -> tuple[str, str, str]:
    return row["Asked"], row["Shared"], row["Declined"]


def test_every_writer_is_seen_on_the_next_request(client: TestClient, runtime: Runtime) -> None:
    set_policy(client, runtime, moderator_review=False)
    agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    first = owner_with_event(client, runtime, lat=39.9531, lng=-75.1652)
    second = owner_with_event(client, runtime, lat=39.9521, lng=-75.1646)
    empty = client.get("/api/v1/transparency/requests").json()
    assert empty["total"] == 0
    assert "No request has gone out yet" in client.get("/transparency/requests").text

    # A request becoming active.
    sent = send_request(client, officer, case_number="KEPT-1")
    row = api_row(client, sent.id)
    assert (row["status"], row["asked"], row["shared"], row["declined"]) == ("active", 2, 0, 0)
    assert counts(page_row(client, sent.id)) == ("2", "0", "0")
    # Asked again with nothing changed: the same bytes, from the kept answers.
    again = client.get("/api/v1/transparency/requests").content
    assert again == client.get("/api/v1/transparency/requests").content
    assert request_log.kept_log(client.app).entries >= 2

    # An owner shares, another declines.
    share(client, sent.id, first)
    assert api_row(client, sent.id)["shared"] == 1
    assert counts(page_row(client, sent.id)) == ("2", "1", "0")
    decline(client, sent.id, second)
    assert api_row(client, sent.id)["declined"] == 1
    assert counts(page_row(client, sent.id)) == ("2", "1", "1")

    # The public resolution of the agency's policy.
    assert api_row(client, sent.id)["cell_resolution"] == 8
    set_policy(client, runtime, agency_id=agency.id, public_h3_resolution=7)
    assert api_row(client, sent.id)["cell_resolution"] == 7

    # The agency renamed, then suspended.
    with runtime.db.transaction() as session:
        stored = session.get(Agency, agency.id)
        assert stored is not None
        stored.name = "Renamed Township PD"
    assert api_row(client, sent.id)["agency_name"] == "Renamed Township PD"
    assert page_row(client, sent.id)["Agency"] == "Renamed Township PD"

    # The request ended.
    r = client.post(
        f"/api/v1/requests/{sent.id}/close", headers=officer.headers, json={"reason": "resolved"}
    )
    assert r.status_code == 200, r.text
    assert api_row(client, sent.id)["status"] == "closed"
    assert page_row(client, sent.id)["Status"].startswith("closed")

    # The agency suspended: its rows show the same, but nothing kept from before is used.
    before = _version(runtime)
    admin = make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session:
        agency_service.change_status(
            session=session,
            actor=session.merge(admin.user),
            agency_id=agency.id,
            action="suspend",
            reason="test",
        )
    assert _version(runtime) > before


def _version(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return request_log.log_version(session)


def test_two_apps_on_one_database_see_each_others_changes(
    client: TestClient, runtime: Runtime, settings: Settings
) -> None:
    set_policy(client, runtime, moderator_review=False)
    _agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    owner = owner_with_event(client, runtime)
    other_runtime = Runtime(settings)
    try:
        with TestClient(create_app(other_runtime), base_url="https://testserver") as other:
            assert other.get("/api/v1/transparency/requests").json()["total"] == 0
            assert client.get("/api/v1/transparency/requests").json()["total"] == 0
            sent = send_request(client, officer, case_number="KEPT-2")  # through the first app
            assert api_row(other, sent.id)["asked"] == 1
            assert "KEPT-2" in other.get("/transparency/requests", headers=HTML).text
            assert counts(page_row(client, sent.id)) == ("1", "0", "0")
            share(other, sent.id, owner)  # through the second app
            assert api_row(client, sent.id)["shared"] == 1
            assert counts(page_row(client, sent.id)) == ("1", "1", "0")
            assert counts(page_row(other, sent.id)) == ("1", "1", "0")
    finally:
        other_runtime.close()


def test_kept_pages_stay_in_their_bounds(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_log, "KEPT_ENTRIES", 3)
    set_policy(client, runtime, moderator_review=False)
    _agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    send_request(client, officer, case_number="KEPT-3")
    sorts = ["activated", "agency", "case", "incident", "window", "asked"]
    for sort in sorts:
        assert "KEPT-3" in client.get(f"/transparency/requests?sort={sort}").text
    kept = request_log.kept_log(client.app)
    assert kept.entries == 3
    # The first sorts went out, least recently used first; asked again, they render anew.
    assert "KEPT-3" in client.get("/transparency/requests?sort=activated").text
    assert kept.entries == 3
    monkeypatch.setattr(kept, "max_bytes", kept.size_bytes // 2)
    client.get("/transparency/requests?sort=case")
    assert kept.size_bytes <= kept.max_bytes


def test_a_kept_page_gives_each_visitor_his_own_token(client: TestClient, runtime: Runtime) -> None:
    send_request_world(client, runtime)
    first = client.get("/transparency/requests")
    client.cookies.clear()
    second = client.get("/transparency/requests")  # kept
    one = first.cookies.get(PRE_SESSION_CSRF_COOKIE)
    two = second.cookies.get(PRE_SESSION_CSRF_COOKIE)
    assert one and two and one != two
    assert one not in second.text and TOKEN_PLACEHOLDER.decode() not in second.text
    assert first.text.replace(one, "") == second.text.replace(two, "")


def test_a_signed_in_visitor_gets_his_own_page(client: TestClient, runtime: Runtime) -> None:
    send_request_world(client, runtime)
    anonymous = client.get("/transparency/requests").text
    person = make_person(runtime)
    sign_in(client, person)
    signed_in = client.get("/transparency/requests").text
    assert "Sign out" in signed_in and "Sign out" not in anonymous
    client.cookies.clear()
    assert "Sign out" not in client.get("/transparency/requests").text


def send_request_world(client: TestClient, runtime: Runtime) -> str:
    set_policy(client, runtime, moderator_review=False)
    _agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    return send_request(client, officer, case_number=f"KEPT-{uuid.uuid4().hex[:6]}").id


def test_a_kept_answer_is_one_statement_and_no_transaction(
    client: TestClient, runtime: Runtime
) -> None:
    """With no read replica, a kept answer of the page or the API reads the version alone:
    one statement, on PostgreSQL in autocommit (no BEGIN or COMMIT round trips; SQLite's
    read-only transaction costs no round trip); the API's answer is the kept body, byte
    for byte."""
    seen: list[tuple[str, object]] = []

    def statement(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append((sql, conn.get_execution_options().get("isolation_level")))

    engine = runtime.db.engine
    for path in ("/api/v1/transparency/requests", "/transparency/requests"):
        first = client.get(path, headers=HTML)
        assert first.status_code == 200
        seen.clear()
        event.listen(engine, "before_cursor_execute", statement)
        try:
            kept = client.get(path, headers=HTML)
        finally:
            event.remove(engine, "before_cursor_execute", statement)
        assert kept.status_code == 200
        sql = [text for text, _level in seen if not text.startswith(("PRAGMA", "BEGIN", "COMMIT"))]
        assert len(sql) == 1
        assert "data_versions" in sql[0]
        if runtime.db.is_postgres:
            assert [level for _text, level in seen] == ["AUTOCOMMIT"]
        if path.startswith("/api"):
            assert kept.content == first.content
