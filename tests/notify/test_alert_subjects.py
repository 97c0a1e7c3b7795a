"""Alerts answered by opening what they are about, "mark all read" in the API, and the
short line a footage-request alert shows in a list instead of its whole notice."""

from __future__ import annotations

import html
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from tests.factories import (
    HTML,
    make_camera,
    make_person,
    notifications,
    sample_clip,
    sign_in,
    upload_clip,
)
from tests.notify.footage_alerts import AGENCY, footage_alert

from doorstep.accounts.models import User
from doorstep.footage.models import FootageRequest
from doorstep.footage.notice import NO_CONSEQUENCE, WHAT_AGENCY_RECEIVES
from doorstep.runtime import Runtime

SUMMARY = re.compile(
    AGENCY + r" · burglary · [A-Z][a-z]{2} \d\d, \d\d:\d\d to ([A-Z][a-z]{2} \d\d, )?\d\d:\d\d UTC"
)


def unread_links(client: TestClient, headers: dict[str, str]) -> list[str]:
    r = client.get("/api/v1/notifications", params={"unread": True}, headers=headers)
    assert r.status_code == 200, r.text
    return [n["link"] for n in r.json()]


def test_a_footage_alert_is_a_short_line_in_the_list(client: TestClient, runtime: Runtime) -> None:
    alert = footage_alert(runtime, client)
    sign_in(client, alert.owner)
    page = html.unescape(client.get("/notifications", headers=HTML).text)
    assert SUMMARY.search(page), page
    assert f'href="{alert.link}"' in page
    # The notice in full is on the request's page, not repeated in the list.
    assert NO_CONSEQUENCE not in page and WHAT_AGENCY_RECEIVES not in page
    # The alert itself keeps the fixed notice (email, push and webhooks send it whole).
    (note,) = [n for n in notifications(runtime, alert.owner) if n.link == alert.link]
    assert NO_CONSEQUENCE in note.body

    listed = client.get("/api/v1/notifications", headers=alert.owner.headers).json()
    (item,) = [n for n in listed if n["link"] == alert.link]
    assert SUMMARY.fullmatch(item["summary"]) and NO_CONSEQUENCE in item["body"]
    assert all(n["summary"] is None for n in listed if n["link"] != alert.link)


def test_opening_the_request_marks_its_alert_read(client: TestClient, runtime: Runtime) -> None:
    alert = footage_alert(runtime, client)
    headers = alert.owner.headers
    assert alert.link in unread_links(client, headers)
    others = [link for link in unread_links(client, headers) if link != alert.link]
    sign_in(client, alert.owner)
    assert client.get(alert.link, headers=HTML).status_code == 200
    assert unread_links(client, headers) == others  # only the alert about this page
    (note,) = [n for n in notifications(runtime, alert.owner) if n.link == alert.link]
    assert note.read_at is not None


def test_a_page_opened_with_a_query_still_answers_its_alert(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    neighbour = make_person(runtime)
    for who in (person, neighbour):
        cam = make_camera(runtime, who.user, name="Porch")
        upload_clip(client, cam, sample_clip(tmp_path), kind="person")
    (link,) = unread_links(client, person.headers)
    sign_in(client, person)
    assert client.get(f"{link}?notice=saved", headers=HTML).status_code == 200
    assert unread_links(client, person.headers) == []
    assert len(unread_links(client, neighbour.headers)) == 1  # someone else's stays new


def test_mark_all_read_in_the_api(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    person = make_person(runtime)
    neighbour = make_person(runtime)
    for who in (person, person, neighbour):
        cam = make_camera(runtime, who.user)
        upload_clip(client, cam, sample_clip(tmp_path), kind="person")
    assert len(unread_links(client, person.headers)) == 2
    r = client.post("/api/v1/notifications/read", headers=person.headers)
    assert r.status_code == 200 and r.json() == {"marked": 2}
    assert unread_links(client, person.headers) == []
    again = client.post("/api/v1/notifications/read", headers=person.headers)
    assert again.json() == {"marked": 0}
    assert len(unread_links(client, neighbour.headers)) == 1
    assert client.post("/api/v1/notifications/read").status_code == 401


def test_the_short_line_shows_the_window_in_the_readers_zone(
    client: TestClient, runtime: Runtime
) -> None:
    alert = footage_alert(runtime, client)
    with runtime.db.transaction() as session:
        owner = session.get(User, alert.owner.user.id)
        assert owner is not None
        owner.time_zone = "Asia/Tokyo"  # UTC+9 all year
        request = session.get(FootageRequest, alert.request_id)
        assert request is not None
        start = request.window_start.astimezone(ZoneInfo("Asia/Tokyo"))
    listed = client.get("/api/v1/notifications", headers=alert.owner.headers).json()
    (item,) = [n for n in listed if n["link"] == alert.link]
    assert item["summary"].startswith(f"{AGENCY} · burglary · {start:%b %d, %H:%M} to ")
    assert item["summary"].endswith(" JST") and "UTC" not in item["summary"]
    sign_in(client, alert.owner)
    page = html.unescape(client.get("/notifications", headers=HTML).text)
    assert item["summary"] in page
