"""Agency powers through the API need a token issued with a second factor (issue 11, item 7).

A token made with the password alone keeps no agency power once two-factor sign-in is
on: turning it on revokes such tokens, and a password-only token that still exists (every
token from before the column existed counts as one) is refused by every agency route.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import PASSWORD, enable_totp, make_agency, make_person, request_body

from doorstep.accounts import api_tokens
from doorstep.accounts.models import User
from doorstep.agencies.models import AgencyInvitation
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _invitations(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(AgencyInvitation)) or 0)


def _invite(client: TestClient, agency: Any, headers: dict[str, str], email: str) -> Any:
    return client.post(
        f"/api/v1/agencies/{agency.id}/invitations",
        headers=headers,
        json={"email": email, "role": "officer"},
    )


def test_token_made_before_two_factor_loses_agency_powers(
    client: TestClient, runtime: Runtime
) -> None:
    chief = make_person(runtime)
    # Issued with the password alone, before two-factor sign-in was turned on.
    before = dict(chief.headers)
    agency = make_agency(runtime, applicant=chief)  # turns two-factor sign-in on
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=before)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = _invite(client, agency, before, "someone@example.org")
    assert r.status_code == 401
    assert _invitations(runtime) == 0
    with runtime.db.transaction() as session:
        revoked = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "api_token.revoked")
        ).one()
        assert revoked.details["reason"] == "two_factor_enabled"


def test_password_only_token_of_a_two_factor_member_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    # What every token from before the migration is: password-only, still live.
    with runtime.db.transaction() as session:
        user = session.get_one(User, chief.user.id)
        _row, legacy = api_tokens.create_api_token(session=session, user=user, name="old")
    headers = {"Authorization": f"Bearer {legacy}"}
    for method, path, body in [
        ("GET", f"/api/v1/agencies/{agency.id}/members", None),
        (
            "POST",
            f"/api/v1/agencies/{agency.id}/invitations",
            {"email": "x@example.org", "role": "officer"},
        ),
        ("GET", f"/api/v1/agencies/{agency.id}/invitations", None),
        ("GET", "/api/v1/requests", None),
        ("POST", "/api/v1/requests", request_body(LAT, LNG)),
        ("GET", "/api/v1/review-queue", None),
        ("GET", f"/api/v1/agencies/{agency.id}/tips", None),
        (
            "POST",
            "/api/v1/posts",
            {
                "category": "safety",
                "title": "Road closed on Main Street",
                "body": "Main Street is closed between 1st and 3rd until 6 pm.",
                "official": True,
            },
        ),
    ]:
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code == 403, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "second_factor_token_required", path
        assert "totp_code" in error["message"]
    assert _invitations(runtime) == 0
    # Everything that is not an agency action still works with it.
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200


def test_token_issued_with_the_code_keeps_working(client: TestClient, runtime: Runtime) -> None:
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    with runtime.db.transaction() as session:
        secret = session.get_one(User, chief.user.id).totp_secret
    assert secret is not None
    r = client.post(
        "/api/v1/tokens",
        json={
            "email": chief.user.email,
            "password": PASSWORD,
            # The step after the one the setup used: not a replay.
            "totp_code": pyotp.TOTP(secret).at(time.time() + 30),
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["with_second_factor"] is True
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=headers)
    assert r.status_code == 200 and [m["role"] for m in r.json()] == ["agency_admin"]
    assert _invite(client, agency, headers, "new@example.org").status_code == 201
    assert client.get("/api/v1/requests", headers=headers).status_code == 200
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert {t["name"]: t["with_second_factor"] for t in listed if t["revoked_at"] is None} == {
        "tests (two-factor)": True,
        "script": True,
    }


def test_member_without_two_factor_is_told_to_turn_it_on(
    client: TestClient, runtime: Runtime
) -> None:
    """The dependency keeps the services' answer for a member without two-factor sign-in."""
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    officer = make_person(runtime)
    with runtime.db.transaction() as session:
        from doorstep.agencies.models import AgencyMembership, MemberRole

        session.add(
            AgencyMembership(agency_id=agency.id, user_id=officer.user.id, role=MemberRole.officer)
        )
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "two_factor_required"
    enable_totp(runtime, officer)  # and a token issued with it
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=officer.headers)
    assert r.status_code == 200
