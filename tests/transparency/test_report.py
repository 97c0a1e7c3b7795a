"""The annual report: Markdown and CSV files with the numbers of the known dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.transparency.portal import build_world, make_public_agency, set_policy
from typer.testing import CliRunner

from doorstep.db import utcnow
from doorstep.runtime import Runtime
from doorstep.transparency import cli as transparency_cli


def test_annual_report_files(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(client, runtime)
    make_public_agency(runtime, name="Quiet Township Police", actions=("verify", "suspend"))
    set_policy(client, runtime, agency_id=world.agency.id, monthly_cap=4)
    year = utcnow().year
    monkeypatch.setattr(transparency_cli, "get_settings", lambda: runtime.settings)
    result = CliRunner().invoke(
        transparency_cli.app, ["report", "--year", str(year), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "2 requests, 3 owners asked, 1 shared, 1 declined, 2 agencies taking part" in result.output
    )

    markdown = (tmp_path / f"transparency-report-{year}.md").read_text()
    for line in (
        f"# doorstep transparency report {year}",
        f"- Agencies taking part at any time in {year}: 2",
        f"- Agencies that joined (first verified) in {year}: 2",
        f"- Agency suspensions in {year}: 1",
        "- Requests sent to owners (became active): 2",
        "- Owners asked: 3; shared: 1; declined: 1; share rate: 33.3%",
        "| burglary | 1 |",
        "| vehicle_theft | 1 |",
        "| Testville PD | PA | verified | 2 | 3 | 1 | 1 | 33.3% | 0 | 0 |",
        "- Clips shared with agencies: 1",
        "Whole chain verified when this report was written: intact",
    ):
        assert line in markdown, line

    def rows(name: str) -> list[dict[str, str]]:
        with (tmp_path / name).open(newline="") as fh:
            return list(csv.DictReader(fh))

    requests = rows(f"requests-{year}.csv")
    assert {r["id"] for r in requests} == {world.r1.id, world.r2.id}
    agencies = {r["name"]: r for r in rows(f"agencies-{year}.csv")}
    assert agencies["Testville PD"]["share_rate"] == "33.3%"
    assert agencies["Quiet Township Police"]["requests"] == "0"
    assert rows(f"incident-types-{year}.csv") == [
        {"incident_type": "burglary", "requests": "1"},
        {"incident_type": "vehicle_theft", "requests": "1"},
    ]
    changes = rows(f"policy-changes-{year}.csv")
    assert [c["level"] for c in changes] == ["instance", "Testville PD"]
    actions = {r["action"]: r["public_records"] for r in rows(f"audit-actions-{year}.csv")}
    assert actions["request.activated"] == "2" and actions["policy.changed"] == "2"
    months = rows(f"agencies-active-per-month-{year}.csv")
    assert months[-1]["agencies_taking_part"] == "2"
