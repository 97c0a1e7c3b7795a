"""Request bodies keep the input rules: no control characters in text, one-line fields are one
line, and JSON scalars are what they claim to be (``false`` is not a longitude, ``0`` is not
a boolean, ``0.5`` is not a time). Every refusal is a 422 naming the field, and saves nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select

from doorstep.agencies.models import Agency
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import utcnow
from doorstep.feed.models import Comment, Post
from doorstep.footage.models import FootageRequest
from doorstep.inputs import (
    Flag,
    Line,
    Moment,
    Number,
    OptionalLine,
    OptionalNumber,
    Text,
    WholeNumber,
)
from doorstep.runtime import Runtime
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    request_body,
    set_home,
)

LAT, LNG = 39.9526, -75.1652
CAMERA = {"name": "Front door", "kind": "doorbell", "latitude": LAT, "longitude": LNG}


def _count(runtime: Runtime, model: type[Any]) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _refused(response: Any, field: str) -> str:
    """The refusal's message, after checking it is a 422 that names ``field``."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"].startswith(f"{field}: "), error["message"]
    return str(error["message"])


# ---------------------------------------------------------------- control characters


@pytest.mark.parametrize("char", ["\x00", "\x07"])
def test_control_characters_refused_in_every_kind_of_text(
    client: TestClient, runtime: Runtime, char: str
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    agencies_before = _count(runtime, Agency)

    # A one-line name.
    r = client.post("/api/v1/cameras", headers=person.headers, json={**CAMERA, "name": f"a{char}b"})
    message = _refused(r, "name")
    assert ("NUL" if char == "\x00" else "U+0007") in message
    assert _count(runtime, Camera) == 0

    # A post's title (one line) and body (free text).
    post = {"category": "safety", "title": "Fence down", "body": "Watch the boards."}
    for field in ("title", "body"):
        r = client.post("/api/v1/posts", headers=person.headers, json={**post, field: f"x{char}yz"})
        _refused(r, field)
    assert _count(runtime, Post) == 0

    # A footage request's case number (optional, one line) and message (free text).
    for field in ("case_number", "message"):
        body = request_body(LAT, LNG, **{field: f"2026{char}1"})
        _refused(client.post("/api/v1/requests", headers=officer.headers, json=body), field)
    assert _count(runtime, FootageRequest) == 0

    # An agency's city, nested in an application.
    application = {
        "name": "Riverside Police Department",
        "agency_type": "police",
        "city": f"River{char}side",
        "state": "PA",
        "jurisdiction": request_body(LAT, LNG)["area"],
        "contact_email": "chief@riverside.example.org",
        "website": "https://riverside.example.org",
    }
    r = client.post("/api/v1/agencies", headers=person.headers, json=application)
    _refused(r, "city")
    assert _count(runtime, Agency) == agencies_before


def test_newline_refused_in_one_line_fields_and_kept_in_free_text(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)

    r = client.post(
        "/api/v1/cameras", headers=person.headers, json={**CAMERA, "name": "Front\ndoor"}
    )
    assert "U+000A" in _refused(r, "name")
    r = client.post(
        "/api/v1/posts",
        headers=person.headers,
        json={"category": "safety", "title": "Fence\ndown", "body": "Watch the boards."},
    )
    _refused(r, "title")
    assert _count(runtime, Camera) == 0 and _count(runtime, Post) == 0

    body = "Someone drove into the fence.\r\n\tWatch the boards on the path."
    r = client.post(
        "/api/v1/posts",
        headers=person.headers,
        json={"category": "safety", "title": "Fence down", "body": body},
    )
    assert r.status_code == 201, r.text
    assert r.json()["body"] == body.strip()
    post_id = r.json()["id"]
    r = client.post(
        f"/api/v1/posts/{post_id}/comments",
        headers=person.headers,
        json={"body": "Fixed now.\nThanks to whoever called."},
    )
    assert r.status_code == 201, r.text
    assert _count(runtime, Comment) == 1


# ---------------------------------------------------------------- strict JSON scalars


def test_false_is_not_a_longitude(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    r = client.post("/api/v1/cameras", headers=person.headers, json={**CAMERA, "longitude": False})
    assert "not false" in _refused(r, "longitude")
    r = client.post("/api/v1/cameras", headers=person.headers, json={**CAMERA, "latitude": True})
    _refused(r, "latitude")
    r = client.put(
        "/api/v1/feed/home", headers=person.headers, json={"latitude": LAT, "longitude": False}
    )
    _refused(r, "longitude")
    assert _count(runtime, Camera) == 0
    # A whole number is still a longitude.
    r = client.post("/api/v1/cameras", headers=person.headers, json={**CAMERA, "longitude": -75})
    assert r.status_code == 201, r.text


def test_zero_is_not_a_boolean(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    r = client.post(
        "/api/v1/cameras", headers=person.headers, json={**CAMERA, "accepts_requests": 0}
    )
    assert "true or false" in _refused(r, "accepts_requests")
    r = client.post(
        "/api/v1/cameras", headers=person.headers, json={**CAMERA, "accepts_requests": "false"}
    )
    _refused(r, "accepts_requests")
    assert _count(runtime, Camera) == 0
    r = client.patch(
        "/api/v1/users/me/notification-preferences", headers=person.headers, json={"email": 1}
    )
    _refused(r, "email")
    r = client.post(
        "/api/v1/cameras", headers=person.headers, json={**CAMERA, "accepts_requests": False}
    )
    assert r.status_code == 201 and r.json()["accepts_requests"] is False


def test_a_number_is_not_a_time(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    path = f"/api/v1/cameras/{cam.camera.id}/events"
    for started_at in (0.5, "0.5", 1_700_000_000):
        r = client.post(
            path, headers=cam.headers, json={"kind": "motion", "started_at": started_at}
        )
        assert "ISO-8601" in _refused(r, "started_at")
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    r = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG, window_end=0.5)
    )
    _refused(r, "window_end")
    assert _count(runtime, MotionEvent) == 0 and _count(runtime, FootageRequest) == 0

    # ISO-8601 text, UUID text and enum values are what JSON carries, and still pass.
    started_at = (utcnow() - timedelta(minutes=5)).isoformat()
    r = client.post(path, headers=cam.headers, json={"kind": "person", "started_at": started_at})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG))
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/requests/{r.json()['id']}/hold", headers=officer.headers, json={"held": 1}
    )
    _refused(r, "held")


def test_policy_changes_take_json_kinds(client: TestClient, runtime: Runtime) -> None:
    from doorstep.accounts.models import Role

    admin = make_person(runtime, role=Role.admin)
    for changes, setting in (
        ({"case_number_required": 0}, "case_number_required"),
        ({"min_window_minutes": True}, "min_window_minutes"),
        ({"reminder_days": [1, False]}, "reminder_days"),
    ):
        r = client.patch(
            "/api/v1/policy", headers=admin.headers, json={"changes": changes, "reason": "Test"}
        )
        assert f"changes: {setting}:" in _refused(r, "changes")
    r = client.patch(
        "/api/v1/policy",
        headers=admin.headers,
        json={"changes": {"case_number_required": False}, "reason": "Test"},
    )
    assert r.status_code == 200 and r.json()["case_number_required"] is False


def test_nan_literal_is_not_a_number(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    # Python's JSON decoder reads the NaN literal that some encoders write.
    raw = json.dumps({**CAMERA, "latitude": float("nan")})
    r = client.post(
        "/api/v1/cameras",
        headers={**person.headers, "content-type": "application/json"},
        content=raw,
    )
    assert "finite" in _refused(r, "latitude")
    assert _count(runtime, Camera) == 0


# ---------------------------------------------------------------- the types themselves


class _Sample(BaseModel):
    line: Line = Field(default="x", max_length=5)
    note: OptionalLine = Field(default=None, max_length=5)
    text: Text = ""
    flag: Flag = False
    number: Number = Field(default=0, ge=-90, le=90)
    maybe: OptionalNumber = Field(default=None, ge=-90, le=90)
    whole: WholeNumber = 1
    moment: Moment | None = None


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("line", "a\tb", "U+0009"),
        ("note", "a\rb", "U+000D"),
        ("note", "abcdefg", "at most 5 characters"),
        ("text", "a\x1bb", "U+001B"),
        ("flag", 1, "true or false"),
        ("flag", "true", "true or false"),
        ("number", False, "not false"),
        ("number", float("inf"), "finite"),
        ("number", "NaN", "finite"),
        ("number", 10**400, "finite"),
        ("maybe", 91, "less than or equal to 90"),
        ("maybe", True, "not true"),
        ("whole", True, "not true"),
        ("whole", 2.5, "not a fraction"),
        ("moment", 0.5, "ISO-8601"),
        ("moment", "1700000000", "ISO-8601"),
        ("moment", False, "ISO-8601"),
        ("moment", "2026-11-29T12:00:00", "time zone"),
        ("moment", "0001-01-01T00:00:00+01:00", "between the years 1 and 9999"),
    ],
)
def test_each_type_refuses_with_a_message(field: str, value: object, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _Sample.model_validate({field: value})
    (error,) = refused.value.errors()
    assert error["loc"] == (field,)
    assert problem in error["msg"]


def test_each_type_takes_what_json_and_forms_send() -> None:
    sample = _Sample.model_validate(
        {
            "line": "Front",
            "note": None,
            "text": "two\nlines",
            "flag": True,
            "number": "39.95",  # forms send text
            "maybe": -75,
            "whole": 5.0,
            "moment": "2026-11-29T12:00:00+01:00",
        }
    )
    assert sample.number == 39.95 and sample.maybe == -75.0 and sample.whole == 5
    assert sample.moment is not None and sample.moment.utcoffset() is not None


def test_a_time_without_zone_or_utc_equivalent_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    owner = make_person(runtime)
    set_home(runtime, owner)
    cam = make_camera(runtime, owner.user)
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00"):
        r = client.post(
            f"/api/v1/cameras/{cam.camera.id}/events",
            headers=cam.headers,
            json={"kind": "motion", "started_at": moment},
        )
        message = _refused(r, "started_at")
        assert "time zone" in message or "between the years 1 and 9999" in message
        for path, param in (("/api/v1/events", "since"), ("/api/v1/feed", "until")):
            r = client.get(path, headers=owner.headers, params={param: moment})
            _refused(r, param)
    assert _count(runtime, MotionEvent) == 0
