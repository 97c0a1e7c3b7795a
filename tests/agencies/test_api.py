"""Agencies: apply, verification by an admin, invitations, two-factor, status changes."""

from __future__ import annotations

import email
import email.policy
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import enable_totp, make_agency, make_person, square
from tests.servers import HoldingMailbox

from doorstep.accounts.models import Role
from doorstep.agencies.models import AgencyInvitation
from doorstep.audit import AuditRecord
from doorstep.jobs import job_registry
from doorstep.notify.models import OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def _application(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Riverside Police Department",
        "agency_type": "police",
        "city": "Riverside",
        "state": "pa",
        "jurisdiction": square(40.0, -75.0, 3000),
        "contact_email": "chief@riverside.example.org",
        "website": "https://riverside.example.org",
    }
    body.update(over)
    return body


def test_apply_verify_suspend_end_with_dates_and_public_audit(
    client: TestClient, runtime: Runtime
) -> None:
    applicant = make_person(runtime)
    admin = make_person(runtime, role=Role.admin)
    r = client.post("/api/v1/agencies", headers=applicant.headers, json=_application())
    assert r.status_code == 201, r.text
    agency = r.json()
    assert agency["status"] == "applied" and agency["state"] == "PA"
    path = f"/api/v1/agencies/{agency['id']}/status"
    assert (
        client.post(path, headers=applicant.headers, json={"action": "verify"}).status_code == 403
    )
    r = client.post(path, headers=admin.headers, json={"action": "verify"})
    assert r.status_code == 200 and r.json()["verified_at"] is not None
    r = client.post(path, headers=admin.headers, json={"action": "suspend"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    r = client.post(
        path, headers=admin.headers, json={"action": "suspend", "reason": "Audit pending"}
    )
    assert r.json()["status"] == "suspended" and r.json()["suspended_at"]
    r = client.post(path, headers=admin.headers, json={"action": "verify"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    r = client.post(path, headers=admin.headers, json={"action": "end", "reason": "Contract over"})
    assert r.json()["status"] == "ended" and r.json()["ended_at"]
    public = client.get("/api/v1/agencies").json()
    assert [a["status"] for a in public] == ["ended"]
    with runtime.db.transaction() as session:
        actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.is_public)))
    assert actions == ["agency.applied", "agency.verify", "agency.suspend", "agency.end"]
    # the applicant became the agency's member on verification
    me = client.get("/api/v1/users/me", headers=applicant.headers).json()
    assert me["role"] == "agency_member"


def test_invalid_applications_refused(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    open_ring = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
    for body, code in [
        (_application(jurisdiction=bowtie), "invalid_geometry"),
        (_application(jurisdiction=open_ring), "invalid_geometry"),
        (_application(jurisdiction={"type": "Point", "coordinates": [0, 0]}), "invalid_geometry"),
        (_application(state="P1"), "invalid_state"),
        (_application(website="ftp://riverside.example.org"), "invalid_website"),
    ]:
        r = client.post("/api/v1/agencies", headers=person.headers, json=body)
        assert r.status_code == 400, (code, r.text)
        assert r.json()["error"]["code"] == code
    assert client.get("/api/v1/agencies").json() == []


def test_invitation_by_email_then_two_factor_required(
    client: TestClient,
    runtime: Runtime,
    mailbox: tuple[HoldingMailbox, int],
) -> None:
    box, port = mailbox
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", port
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    officer = make_person(runtime, email="officer.jones@example.org")
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations",
        headers=chief.headers,
        json={"email": "Officer.Jones@example.org", "role": "officer"},
    )
    assert r.status_code == 201, r.text
    with runtime.db.transaction() as session:
        [job] = session.scalars(select(OutboxJob)).all()
        assert "token" not in str(job.payload)
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    [raw] = box.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "officer.jones@example.org"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = re.search(r"token=(dsi_[A-Za-z0-9_\-]+)", body)
    assert token is not None and "two-factor" in body
    # someone else cannot use it
    stranger = make_person(runtime)
    r = client.post(
        "/api/v1/agency-invitations/accept",
        headers=stranger.headers,
        json={"token": token.group(1)},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "invitation_other_email"
    r = client.post(
        "/api/v1/agency-invitations/accept", headers=officer.headers, json={"token": token.group(1)}
    )
    assert r.status_code == 200 and r.json()["role"] == "officer"
    # membership without two-factor: no agency action
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "two_factor_required"
    enable_totp(runtime, officer)
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=officer.headers)
    assert r.status_code == 200 and {m["role"] for m in r.json()} == {"agency_admin", "officer"}
    # an officer cannot invite; a used invitation cannot be reused
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations",
        headers=officer.headers,
        json={"email": "x@example.org", "role": "officer"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "agency_role_required"
    with runtime.db.transaction() as session:
        assert session.scalars(select(AgencyInvitation)).one().accepted_at is not None


def test_member_of_another_agency_denied(client: TestClient, runtime: Runtime) -> None:
    chief_a = make_person(runtime)
    chief_b = make_person(runtime)
    agency_a = make_agency(runtime, applicant=chief_a, name="A PD")
    make_agency(runtime, applicant=chief_b, name="B PD")
    r = client.get(f"/api/v1/agencies/{agency_a.id}/members", headers=chief_b.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_agency_member"
    r = client.post(
        f"/api/v1/agencies/{agency_a.id}/invitations",
        headers=chief_b.headers,
        json={"email": "x@example.org", "role": "officer"},
    )
    assert r.status_code == 403


def test_unverified_agency_cannot_act(client: TestClient, runtime: Runtime) -> None:
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief, verify=False)
    r = client.get(f"/api/v1/agencies/{agency.id}/members", headers=chief.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "agency_not_active"
