"""``doorstep backup`` / ``doorstep restore``: the demo restored to the same audit chain head
and the same media; a backup taken while another connection writes is one commit's state."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from doorstep import audit
from doorstep.backup import BackupRefused, backup, read_manifest, restore, sha256_of
from doorstep.migrate import upgrade
from doorstep.runtime import Runtime
from tests.commands import run_doorstep as _doorstep
from tests.conftest import make_settings


def _media_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_of(p)
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".tmp-")
    }


def test_demo_backup_restores_to_the_same_chain_head_and_media(tmp_path: Path) -> None:
    demo, saved, fresh = tmp_path / "demo", tmp_path / "backup", tmp_path / "fresh"
    _doorstep("demo", "--no-serve", "--data-dir", str(demo), env={})
    at_demo = {"DOORSTEP_DATA_DIR": str(demo)}
    at_fresh = {"DOORSTEP_DATA_DIR": str(fresh)}
    verified = _doorstep("audit", "verify", env=at_demo).stdout
    out = _doorstep("backup", str(saved), env=at_demo).stdout
    manifest = json.loads((saved / "manifest.json").read_text())
    head = manifest["audit_chain"]["head"]
    assert verified.startswith("ok: ") and verified.strip().endswith(f"head {head}")
    assert f"audit head {head}" in out and manifest["alembic_revision"]
    assert manifest["doorstep_version"] and manifest["created_at"]
    paths = [entry["path"] for entry in manifest["files"]]
    assert "doorstep.db" in paths and any(p.endswith(".mp4") for p in paths)

    restored = _doorstep("restore", str(saved), env=at_fresh).stdout
    assert f"audit head {head}" in restored
    assert _doorstep("audit", "verify", env=at_fresh).stdout == verified
    demo_media = _media_hashes(demo / "media")
    assert demo_media and _media_hashes(fresh / "media") == demo_media

    # the restored instance is not overwritten by a second restore
    again = _doorstep("restore", str(saved), env=at_fresh, check=False)
    assert again.returncode == 2 and "not empty" in again.stderr
    # a damaged backup is refused before anything is written
    clip = next(p for p in paths if p.endswith(".mp4"))
    with (saved / clip).open("r+b") as f:
        f.write(b"\xff")
    damaged = _doorstep(
        "restore", str(saved), env={"DOORSTEP_DATA_DIR": str(tmp_path / "x")}, check=False
    )
    assert damaged.returncode == 2 and f"{clip}: differs" in damaged.stderr
    assert not (tmp_path / "x" / "doorstep.db").exists()


def test_postgres_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    env = {"DOORSTEP_DATABASE_URL": "postgresql+psycopg://doorstep@127.0.0.1:1/none"}
    refused = _doorstep("backup", str(tmp_path / "b"), env=env, check=False)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "pg_dump" in refused.stderr
    assert "deploy/BACKUP.md" in refused.stderr and not (tmp_path / "b").exists()


def test_backup_while_another_connection_writes_is_one_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'doorstep.db'}"
    settings = make_settings(tmp_path, url)
    runtime = Runtime(settings)
    upgrade(url)
    # Bulk, so the copy takes a while: the writer commits while it runs.
    with sqlite3.connect(tmp_path / "data" / "doorstep.db") as db:
        db.execute("CREATE TABLE ballast (b BLOB)")
        db.executemany("INSERT INTO ballast VALUES (?)", [(b"x" * 65536,)] * 400)
    stop, written = threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            with runtime.db.transaction() as session:
                audit.record(
                    session=session,
                    actor=audit.Actor.system("writer"),
                    action=audit.AuditAction.USER_ROLE_CHANGED,
                    subject_type="test",
                    subject_id=str(written[0]),
                )
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while written[0] < 20:
            stop.wait(0.01)
        before = written[0]
        manifest = backup(settings, tmp_path / "backup")
        during = written[0] - before
    finally:
        stop.set()
        writer.join()
    chain = manifest["audit_chain"]
    assert chain["ok"] and chain["records"] >= before and during > 0
    # the copy's chain is a prefix of the live one, ending at a committed record
    with sqlite3.connect(tmp_path / "data" / "doorstep.db") as live:
        [live_hash] = live.execute(
            "SELECT hash FROM audit_records WHERE seq = ?", (chain["records"],)
        ).fetchone()
    assert live_hash == chain["head"] and written[0] >= chain["records"]
    with sqlite3.connect(tmp_path / "backup" / "doorstep.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    runtime.close()


def test_backup_and_restore_keep_their_paths_apart(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(
        json.dumps({"format": 1, "files": [{"path": "../etc/passwd", "bytes": 1, "sha256": ""}]})
    )
    with pytest.raises(BackupRefused, match="outside the backup"):
        read_manifest(tmp_path)
    settings = make_settings(tmp_path / "target", "")
    with pytest.raises(BackupRefused, match="outside the backup"):
        restore(settings, tmp_path)
    assert not settings.data_dir.exists() or not any(settings.data_dir.iterdir())
    with pytest.raises(BackupRefused, match="inside the media folder"):
        backup(settings, tmp_path / "target" / "media" / "backup")
