"""The Washington Post's fatal police shootings (v2), a real sample (data/README.md),
imported as published and joined with the partners of an instance: the figures equal,
agency by agency, those recomputed below from the raw files with the csv module alone.

The instance: partners registered under their own names (so some match only after an
alias or an outside code is added), the same name in two states, an ended partnership,
a rejected duplicate application and a pending one (neither may match anything).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.transparency.portal import make_public_agency
from typer.testing import CliRunner

from doorstep.agencies.models import Agency
from doorstep.audit import AuditRecord
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


def _cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0) -> str:
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


def _analyze(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, out: Path) -> dict[str, Any]:
    text = _cli(runtime, monkeypatch, "analyze", "--since", "10", "--json", "--csv", str(out))
    return dict(json.loads(text[text.index("{") :])[KIND])


def _assert_equal(got: dict[str, Any], partners: dict[str, Any], incidents: Path) -> None:
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


def _import(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, incidents: Path) -> str:
    return _cli(
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


def test_post_sample_figures_equal_an_independent_count(
    runtime: Runtime, partners: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _import(runtime, monkeypatch, INCIDENTS)
    assert "122 rows read: 122 added" in out and "names for review:" in out
    assert len(out.splitlines()) < 20  # a summary, not a line per row

    # Before any alias: the partners the Post names otherwise have no row, and say so.
    before = _analyze(runtime, monkeypatch, tmp_path)
    zero = {p["name"] for p in before["figures"]["partners"] if p["total"] == 0}
    assert zero == {
        "New York City Police Department",
        "Portland Police Bureau",
        "Columbus Division of Police",
    }
    assert any(
        "New York City Police Department (NY) matched no incident" in w
        for w in before["figures"]["warnings"]
    )

    # The review groups the names, with the right partner ranked first.
    review = json.loads(_cli(runtime, monkeypatch, "review", "--kind", KIND, "--json"))
    groups = {(g["name"], g["state"]): g for g in review["names"]}
    nypd = groups[("New York Police Department", "NY")]
    assert nypd["rows"] == sum(
        1 for r in csv.DictReader(INCIDENTS.open()) if "298" in r["agency_ids"].split(";")
    )
    assert nypd["suggestions"][0]["agency_id"] == str(partners["nyc"].id)
    # The pending application took nothing: its rows wait in the review.
    assert groups[("Tulsa County Sheriff's Office", "OK")]["rows"] == 2

    # An alias by name, a Post agency id, an ORI code: each matches the stored rows at once.
    linked = _cli(
        runtime,
        monkeypatch,
        "link-name",
        "New York Police Department",
        "--state",
        "NY",
        "--agency",
        str(partners["nyc"].id),
    )
    assert f"{nypd['rows']} rows matched" in linked
    _cli(runtime, monkeypatch, "add-identifier", str(partners["pdx"].id), "wapo", "618")
    _cli(runtime, monkeypatch, "add-identifier", str(partners["columbus_oh"].id), "ori", "OHCOP00")

    got = _analyze(runtime, monkeypatch, tmp_path)
    _assert_equal(got, partners, INCIDENTS)
    assert got["figures"]["incidents"] == 122
    tulsa = next(p for p in got["figures"]["partners"] if p["name"] == "Tulsa Police Department")
    assert tulsa["after"] > 0 and tulsa["partner_until"] == "2021-12-31"
    table = list(csv.DictReader((tmp_path / f"{KIND}-agencies.csv").open()))
    nyc_all = next(
        r for r in table if r["name"] == "New York City Police Department" and r["year"] == "all"
    )
    assert int(nyc_all["total"]) == nypd["rows"]

    again = _import(runtime, monkeypatch, INCIDENTS)
    assert "122 already loaded" in again and "nothing added" in again


def _link_all(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, partners: dict[str, Any]) -> None:
    _cli(
        runtime,
        monkeypatch,
        "link-name",
        "New York Police Department",
        "--state",
        "NY",
        "--agency",
        str(partners["nyc"].id),
    )
    _cli(runtime, monkeypatch, "add-identifier", str(partners["pdx"].id), "wapo", "618")
    _cli(runtime, monkeypatch, "add-identifier", str(partners["columbus_oh"].id), "ori", "OHCOP00")


def _revised_copy(tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of the sample in which the test edits two rows, as a revised release
    would: a Tulsa incident of 2020 is moved to 2022 (from during the partnership to
    after it), and another incident's date is made unreadable."""
    with INCIDENTS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    moved = next(r for r in rows if r["agency_ids"] == "1313" and r["date"].startswith("2020"))
    moved["date"] = "2022" + moved["date"][4:]
    broken = next(r for r in rows if r["agency_ids"] == "618" and r["date"].startswith("2023"))
    broken["date"] = "2023-02-30"
    path = tmp_path / "revised.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return path, moved["id"], broken["id"]


def test_a_revised_release_updates_its_rows_and_can_be_withdrawn(
    runtime: Runtime, partners: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import(runtime, monkeypatch, INCIDENTS)
    _link_all(runtime, monkeypatch, partners)
    revised, _moved, broken = _revised_copy(tmp_path)
    out = _import(runtime, monkeypatch, revised)
    assert "122 rows read: 0 added" in out and "120 already loaded, 2 revised" in out
    assert "1 incident with a date not understood" in out and "'2023-02-30'" in out
    _assert_equal(_analyze(runtime, monkeypatch, tmp_path), partners, revised)

    releases = _cli(runtime, monkeypatch, "releases", "--kind", KIND).splitlines()
    second = releases[-1].split()[0]
    _cli(runtime, monkeypatch, "withdraw-release", second, "--reason", "test: wrong file")
    assert "WITHDRAWN" in _cli(runtime, monkeypatch, "releases").splitlines()[-1]
    with runtime.db.transaction() as session:
        withdrawn = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "accountability.release_withdrawn")
        ).one()
        assert withdrawn.is_public and withdrawn.details["rows_restored"] == 2
    _assert_equal(_analyze(runtime, monkeypatch, tmp_path), partners, INCIDENTS)
    review = json.loads(_cli(runtime, monkeypatch, "review", "--json"))
    assert broken not in {d["id"] for d in review["dates"]}
