"""The alert pages: inbox, alert settings, and Web Push subscription from the browser."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from tests.factories import (
    HTML,
    csrf_of,
    make_camera,
    make_person,
    sample_clip,
    sign_in,
    upload_clip,
)

from doorstep.accounts import service as account_service
from doorstep.notify.channels.webpush import ensure_vapid_keys
from doorstep.runtime import Runtime

SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/abc123",
    "expirationTime": None,
    "keys": {"p256dh": "B" + "x" * 86, "auth": "a" * 22},
}


def unread_badge(html: str) -> str | None:
    match = re.search(r'<span class="badge"[^>]*>(\d+)</span>', html)
    return match.group(1) if match else None


def test_inbox_shows_alerts_and_marks_them_read(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, name="Porch")
    event = upload_clip(client, cam, sample_clip(tmp_path), kind="person").json()
    csrf = sign_in(client, person.user.email)

    page = client.get("/notifications", headers=HTML)
    assert page.status_code == 200
    assert "Person at Porch" in page.text and f'href="/events/{event["id"]}"' in page.text
    assert unread_badge(page.text) == "1"
    assert unread_badge(client.get("/cameras", headers=HTML).text) == "1"

    r = client.post("/notifications/read", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/notifications?notice=all_read"
    after = client.get(r.headers["location"], headers=HTML)
    assert "All alerts marked read." in after.text and unread_badge(after.text) is None
    assert "Person at Porch" in after.text  # read, not gone


def test_mark_read_needs_the_csrf_token(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user)
    upload_clip(client, cam, sample_clip(tmp_path))
    sign_in(client, person.user.email)
    r = client.post("/notifications/read", data={"csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403
    assert unread_badge(client.get("/notifications", headers=HTML).text) == "1"


def test_alert_settings_form(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    csrf = sign_in(client, person.user.email)
    page = client.get("/account/notifications", headers=HTML)
    assert page.status_code == 200
    assert f'data-vapid-key="{ensure_vapid_keys(runtime.settings).public_key_b64url}"' in page.text
    assert 'src="/static/push.js"' in page.text

    r = client.post(
        "/account/notifications",
        data={"csrf_token": csrf, "in_app": "1", "push": "1", "event_kinds": ["person", "ding"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/notifications?notice=saved"
    with runtime.db.transaction() as session:
        prefs = account_service.get_preferences(session=session, user=person.user)
        assert (prefs.in_app, prefs.email, prefs.push) == (True, False, True)
        assert prefs.event_kinds == ["ding", "person"]
    page = client.get(r.headers["location"], headers=HTML)
    assert 'name="email" value="1">' in page.text  # unticked now
    assert 'value="person" checked' in page.text and 'value="motion">' in page.text

    r = client.post(
        "/account/notifications",
        data={"csrf_token": csrf, "email": "1", "event_kinds": ["person", "earthquake"]},
        headers=HTML,
    )
    assert r.status_code == 400 and "Unknown event kinds: earthquake." in r.text
    with runtime.db.transaction() as session:
        prefs = account_service.get_preferences(session=session, user=person.user)
        assert (prefs.email, prefs.event_kinds) == (False, ["ding", "person"])  # unchanged


def test_push_subscription_from_the_browser(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    csrf = sign_in(client, person.user.email)
    json_accept = {"accept": "application/json"}

    r = client.post("/account/push-subscriptions", json=SUBSCRIPTION, headers=json_accept)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = client.post(
        "/account/push-subscriptions",
        json=SUBSCRIPTION,
        headers={**json_accept, "X-CSRF-Token": "forged"},
    )
    assert r.status_code == 403
    r = client.post(
        "/account/push-subscriptions",
        json={**SUBSCRIPTION, "endpoint": "http://push.example.net/plain"},
        headers={**json_accept, "X-CSRF-Token": csrf},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_subscription"
    r = client.post(
        "/account/push-subscriptions",
        json={"endpoint": SUBSCRIPTION["endpoint"]},
        headers={**json_accept, "X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    with runtime.db.transaction() as session:
        assert account_service.push_subscriptions(session=session, user_id=person.user.id) == []

    r = client.post(
        "/account/push-subscriptions",
        json=SUBSCRIPTION,
        headers={**json_accept, "X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    with runtime.db.transaction() as session:
        subs = account_service.push_subscriptions(session=session, user_id=person.user.id)
        assert [(s.endpoint, s.auth) for s in subs] == [(SUBSCRIPTION["endpoint"], "a" * 22)]


def test_push_subscription_needs_a_signed_in_user(client: TestClient) -> None:
    page = client.get("/signin", headers=HTML)
    r = client.post(
        "/account/push-subscriptions",
        json=SUBSCRIPTION,
        headers={"accept": "application/json", "X-CSRF-Token": csrf_of(page.text)},
    )
    assert r.status_code == 401


def test_service_worker_is_served_from_the_root(client: TestClient) -> None:
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert r.headers["service-worker-allowed"] == "/"
    assert 'addEventListener("push"' in r.text
