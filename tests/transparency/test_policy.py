"""Policy: public to read, changed only by an admin, validated, versioned and audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_agency, make_person

from doorstep.accounts.models import Role
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime


def test_defaults_are_public(client: TestClient) -> None:
    policy = client.get("/api/v1/policy").json()
    assert policy["min_area_sq_mi"] == 0.025 and policy["max_area_sq_mi"] == 0.5
    assert policy["min_window_minutes"] == 15 and policy["max_window_hours"] == 12
    assert policy["max_lookback_days"] == 30 and policy["case_number_required"] is True
    assert policy["supervisor_approval"] is False and policy["moderator_review"] is True
    assert policy["per_case_limit"] == 2
    assert "immigration_enforcement" in policy["refused_purposes"]


def test_admin_changes_instance_and_agency_policy(client: TestClient, runtime: Runtime) -> None:
    admin = make_person(runtime, role=Role.admin)
    resident = make_person(runtime)
    agency = make_agency(runtime)
    body = {"changes": {"max_area_sq_mi": 0.3}, "reason": "Council ordinance 12"}
    r = client.patch("/api/v1/policy", headers=resident.headers, json=body)
    assert r.status_code == 403
    r = client.patch("/api/v1/policy", headers=admin.headers, json=body)
    assert r.status_code == 200 and r.json()["max_area_sq_mi"] == 0.3
    r = client.patch(
        f"/api/v1/agencies/{agency.id}/policy",
        headers=admin.headers,
        json={
            "changes": {"supervisor_approval": True, "monthly_cap": 5},
            "reason": "Agency asked for stricter rules",
        },
    )
    assert r.status_code == 200
    agency_policy = client.get(f"/api/v1/agencies/{agency.id}/policy").json()
    assert agency_policy["supervisor_approval"] is True and agency_policy["monthly_cap"] == 5
    assert agency_policy["max_area_sq_mi"] == 0.3  # inherited from the instance
    assert client.get("/api/v1/policy").json()["supervisor_approval"] is False
    # removing an override falls back to the instance value
    client.patch(
        f"/api/v1/agencies/{agency.id}/policy",
        headers=admin.headers,
        json={"changes": {"monthly_cap": None}, "reason": "back to default"},
    )
    assert client.get(f"/api/v1/agencies/{agency.id}/policy").json()["monthly_cap"] == 30
    history = client.get("/api/v1/policy/history").json()
    assert [h["reason"] for h in history] == [
        "back to default",
        "Agency asked for stricter rules",
        "Council ordinance 12",
    ]
    with runtime.db.transaction() as session:
        audited = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "policy.changed")
        ).all()
    assert len(audited) == 3 and all(a.is_public for a in audited)


def test_invalid_policy_refused_and_nothing_changes(client: TestClient, runtime: Runtime) -> None:
    admin = make_person(runtime, role=Role.admin)
    for changes, code in [
        ({"min_area_sq_mi": 2.0}, "invalid_policy"),
        ({"max_window_hours": -1}, "invalid_policy"),
        ({"warrantless_everything": True}, "unknown_policy_setting"),
    ]:
        r = client.patch(
            "/api/v1/policy", headers=admin.headers, json={"changes": changes, "reason": "try"}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == code
    r = client.patch(
        "/api/v1/policy", headers=admin.headers, json={"changes": {"monthly_cap": 3}, "reason": " "}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    assert client.get("/api/v1/policy/history").json() == []
    assert client.get("/api/v1/policy").json()["monthly_cap"] == 30
