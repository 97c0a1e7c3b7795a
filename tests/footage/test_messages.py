"""Refusals say what is wrong and what to do, not something true of another mistake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import make_agency, make_camera, make_officer, make_person, request_body

from doorstep.footage.models import FootageRequest
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


@pytest.fixture
def officer(client: TestClient, runtime: Runtime) -> Any:
    return make_officer(runtime, make_agency(runtime, lat=LAT, lng=LNG))


def _nothing_saved(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FootageRequest)) == 0


def _circle_body(**circle: Any) -> dict[str, Any]:
    body = request_body(LAT, LNG)
    del body["area"]
    body["circle"] = {"latitude": LAT, "longitude": LNG, "radius_m": 300, **circle}
    return body


def test_nan_circle_centre_is_called_not_a_number(
    client: TestClient, runtime: Runtime, officer: Any
) -> None:
    # As the NaN literal (Python's JSON decoder reads it) and as text.
    raw = json.dumps(_circle_body(latitude=float("nan")))
    for r in (
        client.post(
            "/api/v1/requests",
            headers={**officer.headers, "content-type": "application/json"},
            content=raw,
        ),
        client.post("/api/v1/requests", headers=officer.headers, json=_circle_body(latitude="NaN")),
    ):
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert message.startswith("circle.latitude: ")
        assert "finite number" in message and "90" not in message
    _nothing_saved(runtime)


def test_neither_area_nor_circle_asks_for_one(
    client: TestClient, runtime: Runtime, officer: Any
) -> None:
    body = request_body(LAT, LNG)
    del body["area"]
    r = client.post("/api/v1/requests", headers=officer.headers, json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "area_required"
    assert "not both" not in error["message"]
    assert "'area'" in error["message"] and "'circle'" in error["message"]
    _nothing_saved(runtime)


def test_area_across_the_antimeridian_is_called_so(
    client: TestClient, runtime: Runtime, officer: Any
) -> None:
    # A square of about 400 m on a side, astride 180° longitude (Taveuni, Fiji).
    square = {
        "type": "Polygon",
        "coordinates": [
            [[179.998, -16.8], [-179.998, -16.8], [-179.998, -16.796], [179.998, -16.796],
             [179.998, -16.8]]
        ],
    }  # fmt: skip
    r = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG, area=square)
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "crosses_antimeridian"
    assert "compact" not in error["message"] and "one side" in error["message"]
    # A circle around a point near the line crosses it too.
    r = client.post(
        "/api/v1/requests",
        headers=officer.headers,
        json=_circle_body(latitude=-16.8, longitude=179.999, radius_m=300),
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "crosses_antimeridian"
    _nothing_saved(runtime)


@pytest.mark.parametrize(
    ("coordinates", "says"),
    [
        ([], "no points"),
        ([[]], "has 0 positions"),
        ([[[LNG, LAT], [LNG, LAT + 0.01], [LNG, LAT]]], "has 3 positions"),
        ([[[LNG, LAT], [False, LAT], [LNG + 0.01, LAT], [LNG, LAT]]], "[longitude, latitude]"),
        ([[[LNG, LAT], ["-75", LAT], [LNG + 0.01, LAT], [LNG, LAT]]], "[longitude, latitude]"),
    ],
)
def test_empty_or_malformed_coordinates_say_what_an_area_needs(
    client: TestClient, runtime: Runtime, officer: Any, coordinates: list[Any], says: str
) -> None:
    area = {"type": "Polygon", "coordinates": coordinates}
    r = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG, area=area)
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_geometry"
    assert "Valid Geometry" not in error["message"] and says in error["message"]
    _nothing_saved(runtime)


def test_camera_token_on_a_user_endpoint_is_called_a_camera_token(
    client: TestClient, runtime: Runtime
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    r = client.get("/api/v1/users/me", headers=cam.headers)
    assert r.status_code == 401, r.text
    error = r.json()["error"]
    assert error["code"] == "camera_token"
    assert "not valid" not in error["message"] and "revoked" not in error["message"]
    assert "ingest token" in error["message"] and "user API token" in error["message"]
    # Any other unknown token is still just not valid.
    r = client.get("/api/v1/users/me", headers={"Authorization": "Bearer dsk_unknown"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_resident_listing_agency_requests_is_sent_to_his_inbox(
    client: TestClient, runtime: Runtime
) -> None:
    resident = make_person(runtime)
    r = client.get("/api/v1/requests", headers=resident.headers)
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "not_agency_member"
    assert "agency members" in error["message"]
    assert "/api/v1/inbox/requests" in error["message"]
    assert client.get("/api/v1/inbox/requests", headers=resident.headers).status_code == 200
