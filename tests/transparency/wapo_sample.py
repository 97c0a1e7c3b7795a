"""The Washington Post's v2 sample (data/README.md) and the instance its tests build:
shared by the import, API and page tests of the accountability datasets."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.transparency.portal import make_public_agency
from typer.testing import CliRunner

from doorstep.agencies.models import Agency
from doorstep.runtime import Runtime
from doorstep.transparency import cli as transparency_cli

DATA = Path(__file__).parent / "data"
INCIDENTS, AGENCIES = DATA / "wapo-v2-sample-data.csv", DATA / "wapo-v2-sample-agencies.csv"
KIND = "fatal-police-shootings"
JOINED, ENDED = date(2019, 1, 1), date(2021, 12, 31)
# name, state, status actions, and the Post's agency ids that are this partner (for
# the independent count only; doorstep is never told these but through the CLI below).
PARTNERS: dict[str, tuple[str, str, tuple[str, ...], set[str]]] = {
    "nyc": ("New York City Police Department", "NY", ("verify",), {"298"}),
    "pdx": ("Portland Police Bureau", "OR", ("verify",), {"618"}),
    "portland_me": ("Portland Police Department", "ME", ("verify",), {"2965"}),
    "clackamas": ("Clackamas County Sheriff's Office", "OR", ("verify",), {"277"}),
    "columbus_oh": ("Columbus Division of Police", "OH", ("verify",), {"90"}),
    "franklin": ("Franklin County Sheriff's Office", "OH", ("verify",), {"2183"}),
    "columbus_ga": ("Columbus Police Department", "GA", ("verify",), {"1519"}),
    "tulsa": ("Tulsa Police Department", "OK", ("verify", "end"), {"1313"}),
}


NOT_PARTNERS = {
    "tulsa_dup": ("Tulsa Police Dept.", "OK", ("reject",)),
    "tulsa_county": ("Tulsa County Sheriff's Office", "OK", ()),
}


def cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0) -> str:
    monkeypatch.setattr(transparency_cli, "get_settings", lambda: runtime.settings)
    result = CliRunner().invoke(transparency_cli.app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def partners(runtime: Runtime) -> dict[str, Any]:
    made = {
        key: make_public_agency(runtime, name=name, state=state, actions=actions)
        for key, (name, state, actions, _ids) in PARTNERS.items()
    }
    for key, (name, state, actions) in NOT_PARTNERS.items():
        made[key] = make_public_agency(runtime, name=name, state=state, actions=actions)
    # The partnerships began (and Tulsa's ended) years ago: the service stamps "now",
    # so the test moves the dates back.
    with runtime.db.transaction() as session:
        for key in PARTNERS:
            agency = session.get_one(Agency, made[key].id)
            agency.verified_at = datetime(2019, 1, 1, 9, tzinfo=UTC)
            if key == "tulsa":
                agency.ended_at = datetime(2021, 12, 31, 18, tzinfo=UTC)
    return made


def expected_figures(incidents: Path) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Per partner: before/during/after and per year, from the raw file alone; and the
    incidents involving a partner, and those during a partnership (each counted once)."""
    figures = {
        key: {"before": 0, "during": 0, "after": 0, "per_year": defaultdict(lambda: [0, 0, 0])}
        for key in PARTNERS
    }
    with_partner = during_any = 0
    with incidents.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                day = date.fromisoformat(row["date"])
            except ValueError:
                continue  # a date not understood counts nowhere
            named = set(row["agency_ids"].split(";"))
            periods = set()
            for key, (_n, _s, _a, ids) in PARTNERS.items():
                if not named & ids:
                    continue
                end = ENDED if key == "tulsa" else date.max
                period = "before" if day < JOINED else "after" if day > end else "during"
                periods.add(period)
                figures[key][period] += 1
                figures[key]["per_year"][day.year][("before", "during", "after").index(period)] += 1
            with_partner += bool(periods)
            during_any += "during" in periods
    return figures, with_partner, during_any


def analyze(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, out: Path) -> dict[str, Any]:
    text = cli(runtime, monkeypatch, "analyze", "--since", "10", "--json", "--csv", str(out))
    return dict(json.loads(text[text.index("{") :])[KIND])


def assert_equal(got: dict[str, Any], partners: dict[str, Any], incidents: Path) -> None:
    expected, with_partner, during_any = expected_figures(incidents)
    rows = {p["agency_id"]: p for p in got["figures"]["partners"]}
    for key in PARTNERS:
        row, want = rows[str(partners[key].id)], expected[key]
        assert (row["before"], row["during"], row["after"]) == (
            want["before"],
            want["during"],
            want["after"],
        ), key
        per_year = {
            int(y): [c["before"], c["during"], c["after"]] for y, c in row["per_year"].items()
        }
        assert per_year == dict(want["per_year"]), key
    assert got["figures"]["incidents_with_partner"] == with_partner
    assert got["figures"]["incidents_during_partnership"] == during_any
    assert {str(partners[k].id) for k in NOT_PARTNERS}.isdisjoint(rows)


def import_sample(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, incidents: Path) -> str:
    return cli(
        runtime,
        monkeypatch,
        "import-records",
        str(incidents),
        "--kind",
        KIND,
        "--preset",
        "wapo-v2",
        "--agencies",
        str(AGENCIES),
        "--source-url",
        "https://github.com/washingtonpost/data-police-shootings",
    )
