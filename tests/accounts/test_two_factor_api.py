"""Two-factor sign-in through the API: enrol, confirm, recovery codes, disable (issue 11,
item 8), and what turning it on does to password-only tokens (item 7)."""

from __future__ import annotations

import time

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import PASSWORD, make_person

from doorstep.accounts import api_tokens
from doorstep.accounts.models import RecoveryCode, User
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _actions(runtime: Runtime, user_id: object) -> list[str]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.actor_id == user_id)
                .order_by(AuditRecord.seq)
            )
        )


def _token(client: TestClient, email: str, **second_factor: str) -> dict[str, object]:
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD, **second_factor})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_enrol_confirm_recovery_codes_and_disable(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    email = person.user.email
    r = client.get("/api/v1/users/me/two-factor", headers=person.headers)
    assert r.json() == {"enabled": False, "setup_in_progress": False, "recovery_codes_left": 0}

    r = client.post("/api/v1/users/me/two-factor", headers=person.headers)
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    secret = r.json()["secret"]
    assert (
        r.json()["otpauth_uri"].startswith("otpauth://totp/") and secret in r.json()["otpauth_uri"]
    )
    totp = pyotp.TOTP(secret)

    # Bad codes change nothing.
    r = client.post(
        "/api/v1/users/me/two-factor/confirm", headers=person.headers, json={"code": "123"}
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/users/me/two-factor/confirm", headers=person.headers, json={"code": "000000"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_totp_code"
    assert client.get("/api/v1/users/me", headers=person.headers).json()["totp_enabled"] is False

    r = client.post(
        "/api/v1/users/me/two-factor/confirm", headers=person.headers, json={"code": totp.now()}
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # The token that made this call was password-only: it is revoked with the others.
    assert r.json()["revoked_tokens"] == 1
    r = client.get("/api/v1/users/me", headers=person.headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    with runtime.db.transaction() as session:
        stored = list(session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}

    # A recovery code stands in for the TOTP code, once.
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    issued = _token(client, email, recovery_code=codes[0].upper())
    assert issued["with_second_factor"] is True
    headers = _bearer(str(issued["token"]))
    r = client.post(
        "/api/v1/tokens", json={"email": email, "password": PASSWORD, "recovery_code": codes[0]}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    r = client.get("/api/v1/users/me/two-factor", headers=headers)
    assert r.json() == {"enabled": True, "setup_in_progress": False, "recovery_codes_left": 9}
    r = client.post("/api/v1/users/me/two-factor", headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_already_enabled"

    # A new set needs a TOTP code (a recovery code does not mint ten); the old set dies.
    r = client.post("/api/v1/users/me/recovery-codes", headers=headers, json={"code": codes[1]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_totp_code"
    r = client.post(
        "/api/v1/users/me/recovery-codes",
        headers=headers,
        json={"code": totp.at(time.time() + 30)},
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    fresh = r.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    r = client.post(
        "/api/v1/tokens", json={"email": email, "password": PASSWORD, "recovery_code": codes[2]}
    )
    assert r.status_code == 401

    # Disabling with the password needs a token that proved a second factor.
    with runtime.db.transaction() as session:
        user = session.get_one(User, person.user.id)
        _row, legacy = api_tokens.create_api_token(session=session, user=user, name="old")
    for path, body in [
        ("/api/v1/users/me/two-factor/disable", {"password": PASSWORD}),
        ("/api/v1/users/me/two-factor/disable", {"code": fresh[0]}),
        ("/api/v1/users/me/recovery-codes", {"code": "123456"}),
    ]:
        r = client.post(path, headers=_bearer(legacy), json=body)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "second_factor_token_required"
    r = client.get("/api/v1/users/me/two-factor", headers=headers)
    assert r.json()["enabled"] is True and r.json()["recovery_codes_left"] == 10
    r = client.post("/api/v1/users/me/two-factor/disable", headers=headers, json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "confirmation_required"
    r = client.post(
        "/api/v1/users/me/two-factor/disable", headers=headers, json={"password": "wrong one!"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_password"
    assert client.get("/api/v1/users/me", headers=headers).json()["totp_enabled"] is True
    r = client.post(
        "/api/v1/users/me/two-factor/disable", headers=headers, json={"password": PASSWORD}
    )
    assert r.status_code == 200 and r.json()["totp_enabled"] is False
    # The factor the tokens proved is gone, and so are the recovery codes.
    tokens = client.get("/api/v1/tokens", headers=headers).json()
    assert tokens and not any(t["with_second_factor"] for t in tokens)
    with runtime.db.transaction() as session:
        assert session.scalars(select(RecoveryCode)).all() == []

    actions = _actions(runtime, person.user.id)
    for action in (
        "user.totp_enabled",
        "api_token.revoked",
        "user.recovery_codes_generated",
        "user.recovery_code_used",
        "user.totp_disabled",
    ):
        assert action in actions, action
    assert actions.count("user.recovery_codes_generated") == 2


def test_disable_with_a_recovery_code(client: TestClient, runtime: Runtime) -> None:
    """Lost the phone: a recovery code turns two-factor sign-in off."""
    person = make_person(runtime)
    secret = client.post("/api/v1/users/me/two-factor", headers=person.headers).json()["secret"]
    r = client.post(
        "/api/v1/users/me/two-factor/confirm",
        headers=person.headers,
        json={"code": pyotp.TOTP(secret).now()},
    )
    codes = r.json()["recovery_codes"]
    issued = _token(client, person.user.email, recovery_code=codes[0])
    r = client.post(
        "/api/v1/users/me/two-factor/disable",
        headers=_bearer(str(issued["token"])),
        json={"code": codes[0]},  # spent already
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_totp_code"
    r = client.post(
        "/api/v1/users/me/two-factor/disable",
        headers=_bearer(str(issued["token"])),
        json={"code": f" {codes[1]} "},
    )
    assert r.status_code == 200 and r.json()["totp_enabled"] is False


def test_a_code_given_twice_in_its_step_is_called_just_used(
    client: TestClient, runtime: Runtime
) -> None:
    """Wherever a TOTP code is checked, its second use in the same step says so (issue 15,
    item 10): the person waits for the next code instead of doubting his app."""
    person = make_person(runtime)
    secret = client.post("/api/v1/users/me/two-factor", headers=person.headers).json()["secret"]
    totp = pyotp.TOTP(secret)
    # Turning two-factor on: a step already spent (here, the next one) is refused as used.
    with runtime.db.transaction() as session:
        session.get_one(User, person.user.id).totp_last_step = int(time.time()) // 30 + 1
    r = client.post(
        "/api/v1/users/me/two-factor/confirm", headers=person.headers, json={"code": totp.now()}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_already_used"
    assert "just used" in r.json()["error"]["message"]
    assert "wait for the next code" in r.json()["error"]["message"].lower()
    with runtime.db.transaction() as session:
        session.get_one(User, person.user.id).totp_last_step = None
    r = client.post(
        "/api/v1/users/me/two-factor/confirm", headers=person.headers, json={"code": totp.now()}
    )
    assert r.status_code == 200, r.text

    # Signing in for a token: the next step's code works once, then is "just used" (401).
    code = totp.at(time.time() + 30)
    issued = _token(client, person.user.email, totp_code=code)
    r = client.post(
        "/api/v1/tokens",
        json={"email": person.user.email, "password": PASSWORD, "totp_code": code},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "code_already_used"
    # A wrong code is still "not right", and a wrong password wins over a used code.
    r = client.post(
        "/api/v1/tokens",
        json={"email": person.user.email, "password": "wrong one!", "totp_code": code},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"

    # New recovery codes and turning it off: the same answer for the same used code.
    headers = _bearer(str(issued["token"]))
    for path in ("/api/v1/users/me/recovery-codes", "/api/v1/users/me/two-factor/disable"):
        r = client.post(path, headers=headers, json={"code": code})
        assert r.status_code == 400 and r.json()["error"]["code"] == "code_already_used", path
    assert client.get("/api/v1/users/me", headers=headers).json()["totp_enabled"] is True
