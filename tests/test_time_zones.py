"""Time zones (issue 15, item 1): storage stays UTC; pages show times in the viewer's zone
(his preference, else his browser's, else the instance's) and name it; the officer types
a request's window in the zone shown; notices use the recipient's zone; the public log
uses the instance's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from doorstep.accounts.models import User
from doorstep.app import create_app
from doorstep.footage.models import FootageRequest
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime
from doorstep.timezones import from_local, zone_named
from tests.conftest import make_settings
from tests.factories import (
    HTML,
    browser,
    form_error,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    run_jobs,
    sample_clip,
    send_request,
    set_policy,
    sign_in,
    square,
    upload_clip,
)

LAT, LNG = 39.9526, -75.1652
# 12:15 UTC on a December day: 07:15 in Philadelphia (EST), 13:15 in Berlin (CET).
THEFT = datetime(2026, 12, 1, 12, 15, tzinfo=UTC)


def _set_zone(runtime: Runtime, user: User, name: str | None) -> None:
    with runtime.db.transaction() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.time_zone = name


def test_pages_show_times_in_the_viewers_zone_and_name_it(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, latitude=LAT, longitude=LNG)
    event = upload_clip(client, cam, sample_clip(tmp_path), started_at=THEFT).json()
    page = browser(client)
    sign_in(page, person, runtime)
    url = f"/events/{event['id']}"
    assert "2026-12-01 12:15:00 UTC" in page.get(url, headers=HTML).text  # instance: UTC

    page.cookies.set("doorstep_tz", "Europe/Berlin")
    assert "2026-12-01 13:15:00 CET" in page.get(url, headers=HTML).text  # his browser's
    page.cookies.set("doorstep_tz", "Mars/Olympus_Mons")
    assert "2026-12-01 12:15:00 UTC" in page.get(url, headers=HTML).text  # not a zone

    _set_zone(runtime, person.user, "America/New_York")  # his preference wins
    shown = page.get(url, headers=HTML).text
    assert "2026-12-01 07:15:00 EST" in shown and "12:15:00 UTC" not in shown
    timeline = page.get("/timeline", headers=HTML).text
    assert "2026-12-01 07:15:00 EST" in timeline
    # The API stays UTC, with its offset.
    api = client.get(f"/api/v1/events/{event['id']}", headers=person.headers).json()
    assert datetime.fromisoformat(api["started_at"]) == THEFT


def test_the_preference_through_the_account_page_and_the_api(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    page = browser(client)
    csrf = sign_in(page, person, runtime)
    account = page.get("/account", headers=HTML).text
    assert f'name="csrf_token" value="{csrf}"' in account  # the form carries its token
    assert 'name="time_zone"' in account and '<option value="America/Chicago"' in account
    r = page.post("/account/time-zone", data={"csrf_token": csrf, "time_zone": "Nowhere/Else"})
    assert r.status_code == 400 and "Choose a time zone" in form_error(r.text)
    r = page.post(
        "/account/time-zone",
        data={"csrf_token": csrf, "time_zone": "America/Chicago"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert '<option value="America/Chicago" selected>' in page.get("/account", headers=HTML).text

    put = client.put(
        "/api/v1/users/me/time-zone", headers=person.headers, json={"time_zone": "Asia/Tokyo"}
    )
    assert put.status_code == 200 and put.json()["time_zone"] == "Asia/Tokyo"
    bad = client.put(
        "/api/v1/users/me/time-zone", headers=person.headers, json={"time_zone": "Tokyo"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_time_zone"
    cleared = client.put(
        "/api/v1/users/me/time-zone", headers=person.headers, json={"time_zone": None}
    )
    assert cleared.json()["time_zone"] is None


def test_the_officer_types_the_window_in_his_zone_and_owners_read_theirs(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    _set_zone(runtime, officer.user, "America/Chicago")
    owner = make_person(runtime)
    _set_zone(runtime, owner.user, "America/New_York")
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    set_policy(runtime, moderator_review=False)
    now_chicago = (
        datetime.now(UTC).astimezone(zone_named("America/Chicago")).replace(second=0, microsecond=0)
    )
    start_local = (now_chicago - timedelta(hours=3)).replace(tzinfo=None)
    end_local = (now_chicago - timedelta(hours=1)).replace(tzinfo=None)
    upload_clip(
        client, cam, sample_clip(tmp_path), started_at=datetime.now(UTC) - timedelta(hours=2)
    )

    page = browser(client)
    csrf = sign_in(page, officer, runtime)
    form = page.get("/agency/requests/new", headers=HTML).text
    assert "Window start (America/Chicago)" in form and "(UTC)" not in form
    r = page.post(
        "/agency/requests/new",
        data={
            "csrf_token": csrf,
            "shape": "polygon",
            "area": json.dumps(square(LAT, LNG, 300)),
            "window_start": start_local.strftime("%Y-%m-%dT%H:%M"),
            "window_end": end_local.strftime("%Y-%m-%dT%H:%M"),
            "case_number": "2026-7",
            "incident_type": "burglary",
            "investigator_contact": "Det. Rivera",
            "message": "A bicycle was taken from a porch on this block in the afternoon.",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, form_error(r.text)
    with runtime.db.read_only() as session:
        stored = session.scalars(select(FootageRequest)).one()
        zone = zone_named("America/Chicago")
        assert zone is not None
        assert stored.window_start == from_local(start_local, zone)  # kept in UTC
        request_id = stored.id
    r = page.post(f"/agency/requests/{request_id}/submit", data={"csrf_token": csrf})
    assert r.status_code == 200, form_error(r.text)
    run_jobs(runtime)
    with runtime.db.read_only() as session:
        note = session.scalars(
            select(Notification).where(
                Notification.user_id == owner.user.id, Notification.topic == "footage_request"
            )
        ).one()
    new_york = zone_named("America/New_York")
    assert new_york is not None
    expected = from_local(start_local, zone).astimezone(new_york).strftime("%Y-%m-%d %H:%M")
    assert f"When: {expected} to " in note.body and " EST" in note.body


def test_the_public_log_uses_the_instance_zone(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, time_zone="America/Los_Angeles")
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(runtime), base_url="https://testserver") as client:
            agency = make_agency(runtime, lat=LAT, lng=LNG)
            officer = make_officer(runtime, agency)
            set_policy(runtime, moderator_review=False)
            send_request(client, officer, lat=LAT, lng=LNG)
            viewer = make_person(runtime)
            _set_zone(runtime, viewer.user, "Asia/Tokyo")
            page = browser(client)
            sign_in(page, viewer, runtime)
            log = page.get("/transparency/requests", headers=HTML).text
            assert " PST" in log and " JST" not in log
    finally:
        runtime.close()


def test_an_unknown_instance_zone_is_refused_at_start(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(ValidationError, match="not a time zone"):
        make_settings(tmp_path, database_url, time_zone="Atlantis/Capital")
