from __future__ import annotations

from pathlib import Path

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import make_settings
from tests.factories import PASSWORD, make_person

from doorstep.accounts.models import Role, User
from doorstep.app import create_app
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime


def _audit_actions(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_sign_up_then_token_then_me(client: TestClient, runtime: Runtime) -> None:
    r = client.post(
        "/api/v1/users",
        json={"email": "Ana@Example.org", "display_name": "Ana", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "ana@example.org"
    assert r.json()["role"] == "resident"
    with runtime.db.transaction() as session:
        stored = session.scalar(select(User.password_hash).where(User.email == "ana@example.org"))
    assert stored is not None and stored.startswith("$argon2")
    r = client.post("/api/v1/tokens", json={"email": "ana@example.org", "password": PASSWORD})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["display_name"] == "Ana"
    assert "api_token.created" in _audit_actions(runtime)


def test_duplicate_email_refused(client: TestClient) -> None:
    body = {"email": "bo@example.org", "display_name": "Bo", "password": PASSWORD}
    assert client.post("/api/v1/users", json=body).status_code == 201
    r = client.post("/api/v1/users", json=body)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


def test_bad_payload_gets_one_error_shape(client: TestClient) -> None:
    r = client.post(
        "/api/v1/users", json={"email": "not-an-email", "display_name": "X", "password": "short"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert "message" in r.json()["error"]


def test_wrong_password_and_throttling_per_account(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    for _ in range(runtime.settings.login_max_failures_per_account):
        r = client.post("/api/v1/tokens", json={"email": person.user.email, "password": "nope"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
    r = client.post("/api/v1/tokens", json={"email": person.user.email, "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_attempts_account"
    assert "retry-after" in r.headers


def test_failed_sign_ins_through_two_processes_count_together(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """The failures live in the database, not in a process: a second web process (its
    own runtime and data dir, the same database) sees the first one's."""
    person = make_person(runtime)
    other = Runtime(make_settings(tmp_path / "second", runtime.settings.resolved_database_url()))
    wrong = {"email": person.user.email, "password": "nope"}
    try:
        with TestClient(create_app(other), base_url="https://testserver") as second:
            for n in range(runtime.settings.login_max_failures_per_account):
                r = (client, second)[n % 2].post("/api/v1/tokens", json=wrong)
                assert r.status_code == 401
            for either in (client, second):
                r = either.post(
                    "/api/v1/tokens", json={"email": person.user.email, "password": PASSWORD}
                )
                assert r.status_code == 429
                assert r.json()["error"]["code"] == "too_many_attempts_account"
    finally:
        other.close()


def test_throttling_per_address(client: TestClient, runtime: Runtime) -> None:
    limit = runtime.settings.login_max_failures_per_address
    for i in range(limit):
        client.post("/api/v1/tokens", json={"email": f"x{i}@example.org", "password": "nope"})
    person = make_person(runtime)
    r = client.post("/api/v1/tokens", json={"email": person.user.email, "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_attempts_address"


def test_token_rotation_and_revocation(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    tokens = client.get("/api/v1/tokens", headers=person.headers).json()
    token_id = tokens[0]["id"]
    r = client.post(f"/api/v1/tokens/{token_id}/rotate", headers=person.headers)
    assert r.status_code == 200
    new = r.json()["token"]
    assert client.get("/api/v1/users/me", headers=person.headers).status_code == 401
    new_headers = {"Authorization": f"Bearer {new}"}
    assert client.get("/api/v1/users/me", headers=new_headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=new_headers).status_code == 200
    r = client.get("/api/v1/users/me", headers=new_headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    actions = _audit_actions(runtime)
    assert "api_token.rotated" in actions and "api_token.revoked" in actions


def test_totp_required_for_token_when_enabled(client: TestClient, runtime: Runtime) -> None:
    from doorstep.accounts import two_factor

    person = make_person(runtime)
    with runtime.db.transaction() as session:
        user = session.merge(person.user)
        uri = two_factor.begin_totp_setup(session=session, user=user)
        secret = pyotp.parse_uri(uri).secret
        two_factor.confirm_totp_setup(session=session, user=user, code=pyotp.TOTP(secret).now())
    r = client.post("/api/v1/tokens", json={"email": person.user.email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    # the code used to confirm cannot be replayed; the next time step is accepted
    import time

    time.sleep(0)  # no waiting: use the code of the next step, within the accepted drift
    next_code = pyotp.TOTP(secret).at(int(time.time()) + 30)
    r = client.post(
        "/api/v1/tokens",
        json={"email": person.user.email, "password": PASSWORD, "totp_code": next_code},
    )
    assert r.status_code == 201, r.text
    replay = client.post(
        "/api/v1/tokens",
        json={"email": person.user.email, "password": PASSWORD, "totp_code": next_code},
    )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "code_already_used"
    assert "just used" in replay.json()["error"]["message"]


def test_role_change_admin_only_and_audited(client: TestClient, runtime: Runtime) -> None:
    admin = make_person(runtime, role=Role.admin)
    someone = make_person(runtime)
    r = client.put(
        f"/api/v1/users/{admin.user.id}/role", json={"role": "moderator"}, headers=someone.headers
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"
    r = client.put(
        f"/api/v1/users/{someone.user.id}/role", json={"role": "moderator"}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["role"] == "moderator"
    with runtime.db.transaction() as session:
        rec = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "user.role_changed",
                AuditRecord.subject_id == str(someone.user.id),
            )
        ).one()
        assert rec.details == {"from": "resident", "to": "moderator"}
        assert rec.actor_id == admin.user.id


def test_notification_preferences(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    r = client.patch(
        "/api/v1/users/me/notification-preferences",
        headers=person.headers,
        json={"email": False, "event_kinds": ["person", "package"]},
    )
    assert r.status_code == 200
    assert r.json() == {
        "in_app": True,
        "email": False,
        "push": False,
        "event_kinds": ["package", "person"],
    }
    r = client.patch(
        "/api/v1/users/me/notification-preferences",
        headers=person.headers,
        json={"event_kinds": ["alien"]},
    )
    assert r.status_code == 422
