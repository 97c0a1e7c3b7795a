"""Agency pages: applying, verification by an admin, the dashboard, invitations, and the
page that asks agency members for two-factor sign-in."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    HTML,
    PASSWORD,
    browser,
    csrf_of,
    enable_totp,
    form_error,
    make_agency,
    make_officer,
    make_person,
    sign_in,
    square,
)

from doorstep.accounts.models import Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, AgencyInvitation, AgencyMembership, AgencyStatus
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def application(csrf: str, **over: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Testville Police Department",
        "agency_type": "police",
        "city": "Testville",
        "state": "pa",
        "contact_email": "records@testville.example.org",
        "website": "https://testville.example.org",
        "jurisdiction": json.dumps(square(LAT, LNG, 4000)),
    }
    values.update(over)
    return values


def agency_named(runtime: Runtime, name: str) -> Agency:
    with runtime.db.transaction() as session:
        return session.scalars(select(Agency).where(Agency.name == name)).one()


def count(runtime: Runtime, model: Any) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_apply_then_an_admin_verifies(client: TestClient, runtime: Runtime) -> None:
    applicant = make_person(runtime)
    csrf = sign_in(client, applicant, runtime)
    page = client.get("/agency", headers=HTML)
    assert (
        "You are not a member of an agency" in page.text and 'href="/agencies/apply"' in page.text
    )
    assert 'href="/agency"' not in page.text  # the nav link is for agency members

    page = client.get("/agencies/apply", headers=HTML)
    assert page.status_code == 200
    assert 'id="draw-map"' in page.text and 'name="jurisdiction"' in page.text
    r = client.post("/agencies/apply", data=application(csrf, state="Penn"), headers=HTML)
    assert r.status_code == 400 and form_error(r.text).startswith("State")
    assert 'value="Testville Police Department"' in r.text  # what was typed stays
    r = client.post("/agencies/apply", data=application(csrf, jurisdiction="{oops"), headers=HTML)
    assert r.status_code == 400 and "not valid GeoJSON" in form_error(r.text)
    assert "{oops" in r.text
    r = client.post("/agencies/apply", data=application(csrf, jurisdiction=""), headers=HTML)
    assert r.status_code == 400 and "Draw the jurisdiction" in form_error(r.text)
    open_ring = square(LAT, LNG, 4000)
    open_ring["coordinates"][0].pop()
    r = client.post(
        "/agencies/apply", data=application(csrf, jurisdiction=json.dumps(open_ring)), headers=HTML
    )
    assert r.status_code == 400 and "must be closed" in form_error(r.text)
    assert count(runtime, Agency) == 0

    r = client.post("/agencies/apply", data=application(csrf), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/agency?notice=applied"
    page = client.get(r.headers["location"], headers=HTML).text
    assert "Your application was sent" in page and 'id="agency-status">applied<' in page
    assert "waits for an instance administrator" in page and 'href="/account/2fa"' in page
    agency = agency_named(runtime, "Testville Police Department")
    assert agency.state == "PA" and agency.jurisdiction == square(LAT, LNG, 4000)

    # Only an instance admin sees the list with its buttons.
    assert client.get("/admin/agencies", headers=HTML).status_code == 403
    admin = make_person(runtime, role=Role.admin)
    admin_browser = browser(client)
    admin_csrf = sign_in(admin_browser, admin, runtime)
    nav = admin_browser.get("/admin/agencies", headers=HTML)
    assert nav.status_code == 200 and 'href="/moderation/requests"' in nav.text
    assert f'action="/admin/agencies/{agency.id}/status"' in nav.text
    assert 'class="map area-map"' in nav.text  # the claimed jurisdiction, to check
    r = admin_browser.post(
        f"/admin/agencies/{agency.id}/status",
        data={"csrf_token": admin_csrf, "action": "reject", "reason": " "},
        headers=HTML,
    )
    assert r.status_code == 400 and "Give a reason" in form_error(r.text)
    r = admin_browser.post(
        f"/admin/agencies/{agency.id}/status",
        data={"csrf_token": admin_csrf, "action": "verify", "reason": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert agency_named(runtime, "Testville Police Department").status == AgencyStatus.verified
    r = admin_browser.post(
        f"/admin/agencies/{agency.id}/status",
        data={"csrf_token": admin_csrf, "action": "verify"},
        headers=HTML,
    )
    assert r.status_code == 409 and "cannot be verified" in form_error(r.text)

    # Verified, but the applicant has no second factor yet: a page says what to do.
    page = client.get("/agency", headers=HTML)
    assert page.status_code == 403
    assert "Two-factor sign-in is required" in page.text and 'href="/account/2fa"' in page.text
    # The agency's pages answer with that page too (PageAgencyMember).
    draft = client.get("/agency/requests/new", headers=HTML)
    assert draft.status_code == 403 and "Two-factor sign-in is required" in draft.text

    # Suspended: the dashboard shows the status and the published reason, nothing to act on.
    r = admin_browser.post(
        f"/admin/agencies/{agency.id}/status",
        data={"csrf_token": admin_csrf, "action": "suspend", "reason": "Under review"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = admin_browser.get("/admin/agencies", headers=HTML).text
    assert "reason: Under review" in page and 'value="reinstate"' in page


def test_dashboard_invite_and_accept(client: TestClient, runtime: Runtime) -> None:
    admin_member = make_person(runtime)
    agency = make_agency(runtime, applicant=admin_member, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    csrf = sign_in(client, admin_member, runtime)
    page = client.get("/agency", headers=HTML).text
    assert f"<h1>{agency.name}</h1>" in page and 'id="agency-status">verified<' in page
    assert 'href="/agency/requests/new"' in page and 'id="invite-form"' in page
    assert officer.user.display_name in page  # the members list, for agency admins
    assert 'href="/agency"' in page  # the nav link for agency members

    # The invite form refuses a forged post, then a bad address, then sends.
    form = {"csrf_token": csrf, "email": "new.officer@example.org", "role": "officer"}
    r = client.post("/agency/invitations", data={**form, "csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403 and count(runtime, AgencyInvitation) == 0
    r = client.post("/agency/invitations", data={**form, "email": "nope"}, headers=HTML)
    assert r.status_code == 400 and form_error(r.text).startswith("Email")
    assert 'value="nope"' in r.text
    r = client.post("/agency/invitations", data=form, follow_redirects=False)
    # The answer shows the link to copy, once (never cached), and the pending invitation.
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert 'value="https://testserver/agency/invitations/accept?token=dsi_' in r.text
    assert "new.officer@example.org" in r.text and "Copy a fresh link" in r.text
    with runtime.db.transaction() as session:
        invitation = session.scalars(select(AgencyInvitation)).one()
        issued = agency_service.issue_invitation_token(session=session, invitation_id=invitation.id)
        assert issued is not None
        token = issued[2]

    # An officer sees the requests, not the members or the invite form.
    officer_browser = browser(client)
    sign_in(officer_browser, officer, runtime)
    page = officer_browser.get("/agency", headers=HTML).text
    assert 'href="/agency/requests/new"' in page and 'id="invite-form"' not in page
    assert admin_member.user.display_name not in page

    # The invited person opens the link: sign in first, then accept.
    invited = make_person(runtime, email="new.officer@example.org")
    guest = browser(client)
    link = f"/agency/invitations/accept?token={token}"
    r = guest.get(link, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    next_path = unquote(r.headers["location"].split("next=", 1)[1])
    assert next_path == link
    page = guest.get(r.headers["location"], headers=HTML)
    r = guest.post(
        "/signin",
        data={
            "csrf_token": csrf_of(page.text),
            "email": invited.user.email,
            "password": PASSWORD,
            "next": next_path,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == link
    page = guest.get(link, headers=HTML)
    assert page.status_code == 200 and "Accept the invitation" in page.text
    assert f'name="token" value="{token}"' in page.text

    # Someone else signed in cannot use it.
    other = make_person(runtime)
    other_browser = browser(client)
    other_csrf = sign_in(other_browser, other, runtime)
    r = other_browser.post(
        "/agency/invitations/accept", data={"csrf_token": other_csrf, "token": token}, headers=HTML
    )
    assert r.status_code == 403 and "another email address" in form_error(r.text)

    r = guest.post(
        "/agency/invitations/accept",
        data={"csrf_token": csrf_of(page.text), "token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/agency?notice=joined"
    with runtime.db.transaction() as session:
        joined = session.scalars(
            select(AgencyMembership).where(AgencyMembership.user_id == invited.user.id)
        ).one()
        assert joined.agency_id == agency.id
        user = session.get(User, invited.user.id)
        assert user is not None and user.role == Role.agency_member
    # Joined, but every agency action needs two-factor sign-in first.
    page = guest.get("/agency", headers=HTML)
    assert page.status_code == 403 and 'href="/account/2fa"' in page.text
    r = guest.post(
        "/agency/invitations/accept",
        data={"csrf_token": csrf_of(page.text), "token": token},
        headers=HTML,
    )
    assert r.status_code == 404 and "not valid or was used" in form_error(r.text)

    # With two-factor sign-in on (and a fresh sign-in), the dashboard opens.
    enable_totp(runtime, invited)
    fresh = browser(client)
    sign_in(fresh, invited, runtime)
    assert fresh.get("/agency", headers=HTML).status_code == 200


def test_an_agency_admin_removes_a_member(client: TestClient, runtime: Runtime) -> None:
    admin_member = make_person(runtime)
    agency = make_agency(runtime, applicant=admin_member, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    csrf = sign_in(client, admin_member, runtime)
    r = client.post(f"/agency/members/{admin_member.user.id}/remove", data={"csrf_token": csrf})
    assert r.status_code == 400 and "cannot remove himself" in form_error(r.text)
    r = client.post(f"/agency/members/{officer.user.id}/remove", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The member was removed" in r.text
    assert officer.user.display_name not in r.text
    assert re.search(r"<h1>Testville PD</h1>", r.text)
