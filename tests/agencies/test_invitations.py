"""Invitations without and with email (issue 11, item 8): the link the admin copies once,
the email status the admin sees, no endless retries without SMTP, a fresh link, resending.
The sending path talks to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import HTML, browser, make_agency, make_person, sign_in
from tests.servers import HoldingMailbox, free_port

from doorstep.agencies.models import AgencyInvitation, AgencyMembership
from doorstep.notify.models import JobStatus, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

INVITEE = "new.officer@example.org"


def _token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _invite(client: TestClient, agency: Any, headers: dict[str, str]) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations",
        headers=headers,
        json={"email": INVITEE, "role": "officer"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def _listed(client: TestClient, agency: Any, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/api/v1/agencies/{agency.id}/invitations", headers=headers)
    assert r.status_code == 200, r.text
    [invitation] = r.json()
    result: dict[str, Any] = invitation
    return result


def _jobs(runtime: Runtime) -> list[OutboxJob]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


def _accept(client: TestClient, headers: dict[str, str], token: str) -> Any:
    return client.post("/api/v1/agency-invitations/accept", headers=headers, json={"token": token})


def test_without_smtp_the_admin_copies_the_link_and_sees_why(
    client: TestClient, runtime: Runtime
) -> None:
    assert not runtime.settings.smtp_host
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    issued = _invite(client, agency, chief.headers)
    assert issued["email_status"] == "queued"
    url = issued["accept_url"]
    assert url.startswith("https://testserver/agency/invitations/accept?token=dsi_")

    Worker(runtime, periodic=[]).drain()
    listed = _listed(client, agency, chief.headers)
    assert listed["email_status"] == "failed" and "accept_url" not in listed
    assert (
        "no SMTP server" in listed["email_error"]
        and "Copy the invitation link" in (listed["email_error"])
    )
    # Not retried: the one job finished, nothing is waiting.
    [job] = _jobs(runtime)
    assert job.status == JobStatus.done and job.attempts == 0

    # The dashboard shows the admin the same.
    admin_browser = browser(client)
    sign_in(admin_browser, chief, runtime)
    page = admin_browser.get("/agency", headers=HTML).text
    assert INVITEE in page and ">failed<" in page and "no SMTP server" in page

    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations/{issued['id']}/resend", headers=chief.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "email_not_configured"
    assert len(_jobs(runtime)) == 1

    # A fresh link replaces the copied one.
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations/{issued['id']}/link", headers=chief.headers
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    fresh = r.json()["accept_url"]
    assert fresh != url
    invitee = make_person(runtime, email=INVITEE)
    r = _accept(client, invitee.headers, _token_of(url))
    assert r.status_code == 404 and r.json()["error"]["code"] == "invitation_invalid"
    r = _accept(client, invitee.headers, _token_of(fresh))
    assert r.status_code == 200 and r.json()["role"] == "officer"
    r = client.get(f"/api/v1/agencies/{agency.id}/invitations", headers=chief.headers)
    assert r.json() == []  # accepted: no longer pending
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations/{issued['id']}/link", headers=chief.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "invitation_accepted"


def test_sent_by_smtp_and_both_links_work(
    client: TestClient, runtime: Runtime, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, port = mailbox
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", port
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    issued = _invite(client, agency, chief.headers)
    Worker(runtime, periodic=[]).drain()
    listed = _listed(client, agency, chief.headers)
    assert listed["email_status"] == "sent" and listed["email_error"] is None
    assert listed["email_attempted_at"] is not None
    [raw] = box.messages
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    emailed = re.search(r"token=(dsi_[A-Za-z0-9_\-]+)", body.get_content())  # type: ignore[union-attr]
    assert emailed is not None and emailed.group(1) != _token_of(issued["accept_url"])

    # Resending mails a new link; the copied one still works (it is a separate secret).
    r = client.post(
        f"/api/v1/agencies/{agency.id}/invitations/{issued['id']}/resend", headers=chief.headers
    )
    assert r.status_code == 200 and r.json()["email_status"] == "queued"
    Worker(runtime, periodic=[]).drain()
    assert len(box.messages) == 2
    assert _listed(client, agency, chief.headers)["email_status"] == "sent"
    invitee = make_person(runtime, email=INVITEE)
    r = _accept(client, invitee.headers, emailed.group(1))
    assert r.status_code == 404  # the resend replaced the first email's token
    r = _accept(client, invitee.headers, _token_of(issued["accept_url"]))
    assert r.status_code == 200
    with runtime.db.transaction() as session:
        assert (
            session.scalars(
                select(AgencyMembership.role).where(AgencyMembership.user_id == invitee.user.id)
            ).one()
            == "officer"
        )


def test_refused_address_fails_at_once(
    client: TestClient, runtime: Runtime, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, port = mailbox
    box.refuse.add(INVITEE)
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", port
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    _invite(client, agency, chief.headers)
    Worker(runtime, periodic=[]).drain()
    listed = _listed(client, agency, chief.headers)
    assert listed["email_status"] == "failed" and "550" in listed["email_error"]
    assert len(_jobs(runtime)) == 1 and box.messages == []


def test_unreachable_smtp_is_retried_then_given_up(client: TestClient, runtime: Runtime) -> None:
    # Nothing listens on this port: every attempt is refused at connect.
    runtime.settings.smtp_host, runtime.settings.smtp_port = "127.0.0.1", free_port()
    runtime.settings.smtp_timeout_s = 2.0
    chief = make_person(runtime)
    agency = make_agency(runtime, applicant=chief)
    _invite(client, agency, chief.headers)
    worker = Worker(runtime, periodic=[])
    worker.run_once()
    listed = _listed(client, agency, chief.headers)
    assert listed["email_status"] == "retrying"
    assert listed["email_error"].startswith("Attempt 1 of 8 failed: cannot reach SMTP server")
    worker.drain()
    listed = _listed(client, agency, chief.headers)
    assert listed["email_status"] == "failed"
    assert listed["email_error"].startswith("Gave up after 8 attempts")
    jobs = _jobs(runtime)
    assert len(jobs) == 8 and all(j.status == JobStatus.done for j in jobs)


def test_page_shows_the_link_once_and_offers_a_fresh_one(
    client: TestClient, runtime: Runtime
) -> None:
    chief = make_person(runtime)
    make_agency(runtime, applicant=chief)
    csrf = sign_in(client, chief, runtime)
    r = client.post(
        "/agency/invitations",
        data={"csrf_token": csrf, "email": INVITEE, "role": "officer"},
        headers=HTML,
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "cannot send email" in r.text
    link = re.search(r'value="(https://testserver/agency/invitations/accept\?token=[^"]+)"', r.text)
    assert link is not None
    page = client.get("/agency", headers=HTML).text
    assert link.group(1) not in page  # shown once only
    with runtime.db.transaction() as session:
        invitation_id = session.scalars(select(AgencyInvitation.id)).one()
    r = client.post(
        f"/agency/invitations/{invitation_id}/link", data={"csrf_token": csrf}, headers=HTML
    )
    assert r.status_code == 200
    fresh = re.search(
        r'value="(https://testserver/agency/invitations/accept\?token=[^"]+)"', r.text
    )
    assert fresh is not None and fresh.group(1) != link.group(1)
    r = client.post(
        f"/agency/invitations/{invitation_id}/resend", data={"csrf_token": csrf}, headers=HTML
    )
    assert r.status_code == 409 and "no SMTP server" in r.text
