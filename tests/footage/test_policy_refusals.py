"""Every policy rule refuses with a 4xx that names the rule and its limit, and saves nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import make_agency, make_officer, make_person, request_body, square

from doorstep.accounts.models import Role
from doorstep.db import utcnow
from doorstep.footage.models import FootageRequest
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


@pytest.fixture
def officer(client: TestClient, runtime: Runtime) -> Any:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    return make_officer(runtime, agency)


def _count(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(FootageRequest)) or 0


def _refused(
    client: TestClient,
    runtime: Runtime,
    officer: Any,
    body: dict[str, Any],
    code: str,
    status: int = 400,
) -> dict[str, Any]:
    r = client.post("/api/v1/requests", headers=officer.headers, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert _count(runtime) == 0
    return dict(r.json()["error"])


def _ago(hours: float) -> str:
    return (utcnow() - timedelta(hours=hours)).isoformat()


def test_window_rules(client: TestClient, runtime: Runtime, officer: Any) -> None:
    err = _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, window_start=_ago(2), window_end=_ago(1.9)),
        "window_too_short",
    )
    assert "15 minutes" in err["message"] and err["details"]["limit"] == 15
    err = _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, window_start=_ago(14), window_end=_ago(1)),
        "window_too_long",
    )
    assert "12 hours" in err["message"]
    err = _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, window_start=_ago(24 * 31), window_end=_ago(24 * 31 - 2)),
        "lookback_too_far",
    )
    assert "30 days" in err["message"]
    _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, window_start=_ago(1), window_end=_ago(-1)),
        "window_in_future",
    )
    _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, window_start=_ago(1), window_end=_ago(2)),
        "invalid_window",
    )


def test_area_rules(client: TestClient, runtime: Runtime, officer: Any) -> None:
    err = _refused(
        client, runtime, officer, request_body(LAT, LNG, half_side_m=60), "area_too_small"
    )
    assert "0.025" in err["message"]
    err = _refused(
        client, runtime, officer, request_body(LAT, LNG, half_side_m=900), "area_too_large"
    )
    assert "0.5" in err["message"]
    body = request_body(LAT, LNG)
    del body["area"]
    body["circle"] = {"latitude": LAT, "longitude": LNG, "radius_m": 1500}
    _refused(client, runtime, officer, body, "area_too_large")
    _refused(client, runtime, officer, request_body(LAT + 0.06, LNG), "outside_jurisdiction")
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [
                [LNG, LAT],
                [LNG + 0.005, LAT + 0.005],
                [LNG + 0.005, LAT],
                [LNG, LAT + 0.005],
                [LNG, LAT],
            ]
        ],
    }
    _refused(client, runtime, officer, request_body(LAT, LNG, area=bowtie), "invalid_geometry")
    ring = square(LAT, LNG, 300)["coordinates"][0][:-1]
    _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, area={"type": "Polygon", "coordinates": [ring]}),
        "invalid_geometry",
    )
    both = request_body(LAT, LNG, circle={"latitude": LAT, "longitude": LNG, "radius_m": 300})
    _refused(client, runtime, officer, both, "invalid_geometry")


def test_a_circle_is_accepted(client: TestClient, runtime: Runtime, officer: Any) -> None:
    body = request_body(LAT, LNG)
    del body["area"]
    body["circle"] = {"latitude": LAT, "longitude": LNG, "radius_m": 400}
    r = client.post("/api/v1/requests", headers=officer.headers, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["circle"]["radius_m"] == 400
    assert 0.17 < r.json()["area_sq_mi"] < 0.2


def test_case_and_purpose_rules(client: TestClient, runtime: Runtime, officer: Any) -> None:
    _refused(
        client, runtime, officer, request_body(LAT, LNG, case_number=None), "case_number_required"
    )
    err = _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, incident_type="immigration_enforcement"),
        "refused_purpose",
    )
    assert "immigration enforcement" in err["message"]
    _refused(
        client,
        runtime,
        officer,
        request_body(
            LAT, LNG, message="Looking for footage of the protest march on Main Street organizers."
        ),
        "refused_purpose",
    )
    _refused(
        client,
        runtime,
        officer,
        request_body(LAT, LNG, incident_type="general_announcement"),
        "refused_purpose",
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Looking for a black male seen near the houses.", "race_only_description"),
        ("The victim can be reached at 215-555-0199 for details.", "victim_personal_data"),
        ("Victim jane.doe@example.org lost her bag.", "victim_personal_data"),
        ("The victim lives at 4521 Walnut Street and was robbed.", "victim_personal_data"),
        ("You must share your footage; failure to comply will be noted.", "pressure_language"),
        ("Residents are obligated to help.", "pressure_language"),
        ("x" * 1001, "message_too_long"),
    ],
)
def test_message_rules(
    client: TestClient, runtime: Runtime, officer: Any, message: str, code: str
) -> None:
    _refused(client, runtime, officer, request_body(LAT, LNG, message=message), code)


def test_a_full_description_is_not_race_alone(client: TestClient, officer: Any) -> None:
    body = request_body(
        LAT,
        LNG,
        message="A white male in a red hoodie and jeans, tall, was "
        "seen taking packages from porches.",
    )
    assert client.post("/api/v1/requests", headers=officer.headers, json=body).status_code == 201


def _submit(client: TestClient, officer: Any, **over: Any) -> Any:
    r = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG, **over)
    )
    assert r.status_code == 201, r.text
    return client.post(f"/api/v1/requests/{r.json()['id']}/submit", headers=officer.headers)


def test_per_case_limit_and_monthly_cap(client: TestClient, runtime: Runtime, officer: Any) -> None:
    assert _submit(client, officer).status_code == 200
    assert _submit(client, officer).status_code == 200
    r = client.post("/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG))
    assert r.status_code == 400 and r.json()["error"]["code"] == "per_case_limit"
    assert "2" in r.json()["error"]["message"]
    admin = make_person(runtime, role=Role.admin)
    client.patch(
        "/api/v1/policy",
        headers=admin.headers,
        json={"changes": {"monthly_cap": 3}, "reason": "test"},
    )
    assert _submit(client, officer, case_number="B-1").status_code == 200
    r = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG, case_number="C-1")
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "monthly_cap"


def test_supervisor_approval(client: TestClient, runtime: Runtime) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    supervisor = make_officer(runtime, agency, role="supervisor")
    admin = make_person(runtime, role=Role.admin)
    client.patch(
        f"/api/v1/agencies/{agency.id}/policy",
        headers=admin.headers,
        json={
            "changes": {"supervisor_approval": True, "moderator_review": False},
            "reason": "test",
        },
    )
    r = _submit(client, officer)
    assert r.json()["status"] == "pending_approval"
    request_id = r.json()["id"]
    r = client.post(f"/api/v1/requests/{request_id}/approve", headers=officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "agency_role_required"
    r = client.post(f"/api/v1/requests/{request_id}/approve", headers=supervisor.headers)
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_moderator_rejects_with_reason(client: TestClient, runtime: Runtime, officer: Any) -> None:
    moderator = make_person(runtime, role=Role.moderator)
    request_id = _submit(client, officer).json()["id"]
    r = client.post(
        f"/api/v1/requests/{request_id}/review", headers=officer.headers, json={"approve": True}
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/requests/{request_id}/review", headers=moderator.headers, json={"approve": False}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    r = client.post(
        f"/api/v1/requests/{request_id}/review",
        headers=moderator.headers,
        json={"approve": False, "note": "Too broad for a burglary"},
    )
    assert r.json()["status"] == "rejected" and r.json()["review_note"]


def test_only_drafts_submit_and_published_cannot_be_withdrawn(
    client: TestClient, runtime: Runtime, officer: Any
) -> None:
    request_id = _submit(client, officer).json()["id"]
    r = client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_a_draft"
    assert (
        client.patch(
            f"/api/v1/requests/{request_id}", headers=officer.headers, json={"message": "changed"}
        ).status_code
        == 405
    )
    moderator = make_person(runtime, role=Role.moderator)
    client.post(
        f"/api/v1/requests/{request_id}/review", headers=moderator.headers, json={"approve": True}
    )
    r = client.post(f"/api/v1/requests/{request_id}/withdraw", headers=officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_published"


def test_who_may_draft(client: TestClient, runtime: Runtime) -> None:
    resident = make_person(runtime)
    r = client.post("/api/v1/requests", headers=resident.headers, json=request_body(LAT, LNG))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_agency_member"
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    other_agency = make_agency(runtime, lat=LAT, lng=LNG, name="Other PD")
    officer = make_officer(runtime, agency)
    stranger = make_officer(runtime, other_agency)
    request_id = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG)
    ).json()["id"]
    for path in (f"/api/v1/requests/{request_id}", f"/api/v1/requests/{request_id}/evidence"):
        r = client.get(path, headers=stranger.headers)
        assert r.status_code == 404, path
    assert (
        client.post(f"/api/v1/requests/{request_id}/submit", headers=stranger.headers).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/requests/{request_id}/export", headers=stranger.headers).status_code
        == 404
    )


def test_areas_that_could_single_out_a_house_are_refused(
    client: TestClient, runtime: Runtime, officer: Any
) -> None:
    """A MultiPolygon, a hole or a sliver can keep the allowed size while hugging one
    house; with the counts it would tell the agency who was asked and who declined."""
    big = square(LAT, LNG, 250)["coordinates"][0]
    tiny = square(LAT + 0.01, LNG, 2)["coordinates"][0]
    multi = {"type": "MultiPolygon", "coordinates": [[big], [tiny]]}
    _refused(client, runtime, officer, request_body(LAT, LNG, area=multi), "invalid_geometry")
    holed = {
        "type": "Polygon",
        "coordinates": [
            square(LAT, LNG, 300)["coordinates"][0],
            square(LAT, LNG, 100)["coordinates"][0],
        ],
    }
    _refused(client, runtime, officer, request_body(LAT, LNG, area=holed), "invalid_geometry")
    dlat, dlng = 4 / 111_320, 2500 / 85_000
    sliver = {
        "type": "Polygon",
        "coordinates": [
            [
                [LNG - dlng, LAT],
                [LNG + dlng, LAT],
                [LNG + dlng, LAT + dlat],
                [LNG - dlng, LAT + dlat],
                [LNG - dlng, LAT],
            ]
        ],
    }
    _refused(client, runtime, officer, request_body(LAT, LNG, area=sliver), "area_not_compact")
    long_thin = {
        "type": "Polygon",
        "coordinates": [
            [
                [LNG - dlng, LAT],
                [LNG + dlng, LAT],
                [LNG + dlng, LAT + 40 * dlat],
                [LNG - dlng, LAT + 40 * dlat],
                [LNG - dlng, LAT],
            ]
        ],
    }
    err = _refused(
        client, runtime, officer, request_body(LAT, LNG, area=long_thin), "area_not_compact"
    )
    assert "compactness" in err["message"]
