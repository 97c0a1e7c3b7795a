"""The doorstep command, run as a real process: migrate, users, worker, audit, demo."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from doorstep.app import create_app
from doorstep.runtime import Runtime
from tests.commands import run_doorstep as _doorstep
from tests.conftest import make_settings


def test_migrate_users_worker_audit(tmp_path: Path) -> None:
    env = {"DOORSTEP_DATA_DIR": str(tmp_path / "data")}
    assert "database at head" in _doorstep("migrate", env=env).stdout
    out = _doorstep(
        "users",
        "create",
        "--email",
        "Admin@Example.org",
        "--role",
        "admin",
        "--password",
        "a long admin password",
        env=env,
    ).stdout
    assert "created admin@example.org (admin)" in out
    dup = _doorstep(
        "users",
        "create",
        "--email",
        "admin@example.org",
        "--password",
        "a long admin password",
        env=env,
        check=False,
    )
    assert dup.returncode == 2 and "already exists" in dup.stderr
    assert "0 jobs attempted" in _doorstep("worker", "--once", env=env).stdout
    verified = _doorstep("audit", "verify", env=env)
    assert verified.stdout.startswith("ok: 1 records")
    # tamper with the log directly: verify names the record and fails
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "doorstep.db") as db:
        db.execute("UPDATE audit_records SET actor_label = 'someone else' WHERE seq = 1")
    broken = _doorstep("audit", "verify", env=env, check=False)
    assert broken.returncode == 1 and "BROKEN at record 1" in broken.stderr


def test_demo_builds_a_neighborhood_a_resident_can_use(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = _doorstep("demo", "--no-serve", "--data-dir", str(demo_dir), env={})
    assert "resident@example.org" in result.stdout and "doorstep-demo" in result.stdout
    # running it again keeps the same demo (idempotent)
    again = _doorstep("demo", "--no-serve", "--data-dir", str(demo_dir), env={})
    assert "resident@example.org" in again.stdout
    settings = make_settings(
        tmp_path,
        f"sqlite:///{demo_dir / 'doorstep.db'}",
        data_dir=demo_dir,
        media_url=f"file://{(demo_dir / 'media').resolve()}",
    )
    runtime = Runtime(settings)
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        token = client.post(
            "/api/v1/tokens", json={"email": "resident@example.org", "password": "doorstep-demo"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        cameras = client.get("/api/v1/cameras", headers=headers).json()
        assert len(cameras) == 2
        events = client.get("/api/v1/events", headers=headers).json()["events"]
        with_clip = [e for e in events if e["clip"]]
        assert len(with_clip) >= 3 and any(e["on_device"] for e in events)
        video = client.get(with_clip[0]["clip"]["video_url"], headers=headers)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        # the demo agency's request asked the resident, with his clip in its window
        [asked] = client.get("/api/v1/inbox/requests", headers=headers).json()
        assert asked["agency_name"] == "Maple Grove Police Department"
        assert asked["status"] == "active" and asked["my_events"]
    assert "TOTP secret" in result.stdout
    runtime.close()
