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
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.transparency.wapo_sample import (
    INCIDENTS,
    KIND,
    analyze,
    assert_equal,
    cli,
    import_sample,
)
from tests.transparency.wapo_sample import partners as partners

from doorstep.audit import AuditRecord
from doorstep.runtime import Runtime


def test_post_sample_figures_equal_an_independent_count(
    runtime: Runtime, partners: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = import_sample(runtime, monkeypatch, INCIDENTS)
    assert "122 rows read: 122 added" in out and "names for review:" in out
    assert len(out.splitlines()) < 20  # a summary, not a line per row

    # Before any alias: the partners the Post names otherwise have no row, and say so.
    before = analyze(runtime, monkeypatch, tmp_path)
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
    review = json.loads(cli(runtime, monkeypatch, "review", "--kind", KIND, "--json"))
    groups = {(g["name"], g["state"]): g for g in review["names"]}
    nypd = groups[("New York Police Department", "NY")]
    assert nypd["rows"] == sum(
        1 for r in csv.DictReader(INCIDENTS.open()) if "298" in r["agency_ids"].split(";")
    )
    assert nypd["suggestions"][0]["agency_id"] == str(partners["nyc"].id)
    # The pending application took nothing: its rows wait in the review.
    assert groups[("Tulsa County Sheriff's Office", "OK")]["rows"] == 2

    # An alias by name, a Post agency id, an ORI code: each matches the stored rows at once.
    linked = cli(
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
    cli(runtime, monkeypatch, "add-identifier", str(partners["pdx"].id), "wapo", "618")
    cli(runtime, monkeypatch, "add-identifier", str(partners["columbus_oh"].id), "ori", "OHCOP00")

    got = analyze(runtime, monkeypatch, tmp_path)
    assert_equal(got, partners, INCIDENTS)
    assert got["figures"]["incidents"] == 122
    tulsa = next(p for p in got["figures"]["partners"] if p["name"] == "Tulsa Police Department")
    assert tulsa["after"] > 0 and tulsa["partner_until"] == "2021-12-31"
    table = list(csv.DictReader((tmp_path / f"{KIND}-agencies.csv").open()))
    nyc_all = next(
        r for r in table if r["name"] == "New York City Police Department" and r["year"] == "all"
    )
    assert int(nyc_all["total"]) == nypd["rows"]

    again = import_sample(runtime, monkeypatch, INCIDENTS)
    assert "122 already loaded" in again and "nothing added" in again


def _link_all(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, partners: dict[str, Any]) -> None:
    cli(
        runtime,
        monkeypatch,
        "link-name",
        "New York Police Department",
        "--state",
        "NY",
        "--agency",
        str(partners["nyc"].id),
    )
    cli(runtime, monkeypatch, "add-identifier", str(partners["pdx"].id), "wapo", "618")
    cli(runtime, monkeypatch, "add-identifier", str(partners["columbus_oh"].id), "ori", "OHCOP00")


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
    import_sample(runtime, monkeypatch, INCIDENTS)
    _link_all(runtime, monkeypatch, partners)
    revised, _moved, broken = _revised_copy(tmp_path)
    out = import_sample(runtime, monkeypatch, revised)
    assert "122 rows read: 0 added" in out and "120 already loaded, 2 revised" in out
    assert "1 incident with a date not understood" in out and "'2023-02-30'" in out
    assert_equal(analyze(runtime, monkeypatch, tmp_path), partners, revised)

    releases = cli(runtime, monkeypatch, "releases", "--kind", KIND).splitlines()
    second = releases[-1].split()[0]
    cli(runtime, monkeypatch, "withdraw-release", second, "--reason", "test: wrong file")
    assert "WITHDRAWN" in cli(runtime, monkeypatch, "releases").splitlines()[-1]
    with runtime.db.transaction() as session:
        withdrawn = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "accountability.release_withdrawn")
        ).one()
        assert withdrawn.is_public and withdrawn.details["rows_restored"] == 2
    assert_equal(analyze(runtime, monkeypatch, tmp_path), partners, INCIDENTS)
    review = json.loads(cli(runtime, monkeypatch, "review", "--json"))
    assert broken not in {d["id"] for d in review["dates"]}
