"""The public audit log: the download verifies end to end, any tampering with it is
named by record, and a head hash is published for every finished day."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from doorstep import audit
from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime
from doorstep.transparency import digests
from doorstep.transparency.cli import app as transparency_cli
from doorstep.transparency.models import AuditDailyHead


def _append(runtime: Runtime, n: int, *, start: int = 0) -> None:
    """Records alternating public and private, with details a verifier must hash exactly."""
    with runtime.db.transaction() as session:
        for i in range(start, start + n):
            audit.record(
                session=session,
                actor=audit.Actor.system("tests"),
                action=audit.AuditAction.POLICY_CHANGED
                if i % 2 == 0
                else audit.AuditAction.SESSION_SIGNED_IN,
                subject_type="thing",
                subject_id=str(i),
                details={"i": i, "ratio": i / 3, "name": "Zoë's café", "nested": {"b": [1, "x"]}},
                is_public=i % 2 == 0,
            )


def _download(client: TestClient) -> list[str]:
    r = client.get("/transparency/audit/log.jsonl")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    return r.text.splitlines(keepends=True)


def test_public_download_verifies_and_hides_private_records(
    client: TestClient, runtime: Runtime
) -> None:
    _append(runtime, 9)
    lines = _download(client)
    check = digests.verify_public_log(lines)
    assert check.ok, check.problem
    assert (check.records, check.public_records) == (9, 5)
    head = client.get("/api/v1/transparency/audit/head").json()
    assert (
        (check.head_seq, check.head_hash)
        == (head["seq"], head["hash"])
        == (9, json.loads(lines[0])["head_hash"])
    )
    private = [json.loads(x) for x in lines[1:] if not json.loads(x)["is_public"]]
    assert private and all(
        set(p) == {"seq", "at", "is_public", "prev_hash", "hash"} for p in private
    )
    assert "session.signed_in" not in "".join(lines)
    public = json.loads(lines[1])
    assert public["details"]["name"] == "Zoë's café" and public["action"] == "policy.changed"


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "words"),
    [
        ("edit_public", 3, "was changed"),
        ("remove", 4, "missing"),
        ("swap", 2, "missing"),
        ("swap_content", 3, "does not follow"),
        ("edit_private_hash", 5, "does not follow"),
        ("drop_tail", 9, "missing"),
    ],
)
def test_tampered_download_is_named(
    client: TestClient, runtime: Runtime, tamper: str, bad_seq: int, words: str
) -> None:
    _append(runtime, 9)
    lines = _download(client)
    records = [json.loads(x) for x in lines[1:]]
    if tamper == "edit_public":
        records[2]["details"]["i"] = 99
    elif tamper == "remove":
        del records[3]
    elif tamper == "swap":
        records[1], records[4] = records[4], records[1]
    elif tamper == "swap_content":  # keep the numbers, swap everything else
        a, b = records[2], records[4]
        records[2], records[4] = {**b, "seq": a["seq"]}, {**a, "seq": b["seq"]}
    elif tamper == "edit_private_hash":
        records[3]["hash"] = "f" * 64
    elif tamper == "drop_tail":
        records = records[:-1]
    tampered = [lines[0], *(json.dumps(r) + "\n" for r in records)]
    check = digests.verify_public_log(tampered)
    assert not check.ok
    assert check.first_bad_seq == bad_seq and words in (check.problem or ""), check.problem


def test_verify_download_command(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    _append(runtime, 4)
    log = tmp_path / "log.jsonl"
    log.write_text("".join(_download(client)), encoding="utf-8")
    # The standard-library script the audit page documents verifies the same file.
    page = client.get("/transparency/audit").text
    script = re.search(r'<pre id="verify-script"[^>]*>(.*?)</pre>', page, re.S)
    assert script is not None
    (tmp_path / "verify.py").write_text(html.unescape(script.group(1)), encoding="utf-8")
    ran = subprocess.run(
        [sys.executable, str(tmp_path / "verify.py"), str(log)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 0 and ran.stdout.startswith("ok: 4 records"), ran.stderr
    runner = CliRunner()
    result = runner.invoke(transparency_cli, ["verify-download", str(log)])
    assert result.exit_code == 0 and "ok: 4 records (2 public)" in result.output
    heads = tmp_path / "heads.json"
    heads.write_text(json.dumps([{"day": "2026-01-01", "seq": 2, "head_hash": "0" * 64}]))
    result = runner.invoke(transparency_cli, ["verify-download", str(log), "--heads", str(heads)])
    assert result.exit_code == 1 and "record 2 does not match the published head" in result.output
    edited = log.read_text().replace('"i": 2', '"i": 7')
    log.write_text(edited)
    result = runner.invoke(transparency_cli, ["verify-download", str(log)])
    assert result.exit_code == 1 and "BROKEN at record 3: record 3 was changed" in result.output


def _on_day(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    monkeypatch.setattr(audit.chain, "utcnow", lambda: moment)


def test_daily_heads_are_published_once_per_finished_day(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    d0 = date(2026, 3, 1)
    _on_day(monkeypatch, d0)
    _append(runtime, 3)
    _on_day(monkeypatch, d0 + timedelta(days=2))
    _append(runtime, 2, start=3)
    assert digests.publish_daily_head(runtime) >= 3
    with runtime.db.transaction() as session:
        heads = {h.day: (h.seq, h.head_hash) for h in digests.daily_heads(session=session)}
        hashes = dict(session.execute(select(AuditRecord.seq, AuditRecord.hash)).all())
    assert heads[d0] == (3, hashes[3])
    assert heads[d0 + timedelta(days=1)] == (3, hashes[3])  # a day without records
    assert heads[d0 + timedelta(days=2)] == (5, hashes[5])
    assert min(heads) == d0 and max(heads) == datetime.now(UTC).date() - timedelta(days=1)
    assert digests.publish_daily_head(runtime) == 0  # each day once

    published = client.get("/api/v1/transparency/audit/heads").json()
    assert published[0]["day"] == max(heads).isoformat() and published[-1]["seq"] == 3
    page = client.get("/transparency/audit").text
    assert hashes[5] in page and "How to verify the log yourself" in page
    as_file = {
        h["seq"]: h["head_hash"] for h in client.get("/transparency/audit/heads.json").json()
    }
    assert digests.verify_public_log(_download(client), published_heads=as_file).ok


def test_no_head_is_published_over_a_changed_chain(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    d0 = date(2026, 3, 1)
    _on_day(monkeypatch, d0)
    _append(runtime, 3)
    with runtime.db.transaction() as session:
        assert len(digests.publish_daily_heads(session=session, today=d0 + timedelta(days=1))) == 1
        # The published head record is removed and the chain rebuilt from record 2.
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
    _on_day(monkeypatch, d0 + timedelta(days=1))
    _append(runtime, 2)
    with runtime.db.transaction() as session:
        assert digests.publish_daily_heads(session=session, today=d0 + timedelta(days=3)) == []
        assert session.scalar(select(func.count()).select_from(AuditDailyHead)) == 1
