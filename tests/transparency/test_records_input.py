"""Accountability datasets as files come: wrong encodings and missing columns give one
line naming the fix; several agencies in one cell; Fatal Encounters' layout; rows
without an id keyed by their content; agency identifiers (admin only, audited)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.factories import make_person
from tests.transparency.portal import make_public_agency
from typer.testing import CliRunner

from doorstep.accounts.models import Role
from doorstep.agencies import identity
from doorstep.agencies.models import IdentifierScheme
from doorstep.audit import AuditRecord
from doorstep.errors import Conflict, Forbidden
from doorstep.runtime import Runtime
from doorstep.transparency import cli as transparency_cli
from doorstep.transparency import records


def _cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0) -> str:
    monkeypatch.setattr(transparency_cli, "get_settings", lambda: runtime.settings)
    result = CliRunner().invoke(transparency_cli.app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_wrong_encoding_or_a_missing_column_is_one_line_with_the_fix(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_public_agency(runtime, name="Doña Ana County Sheriff's Office", state="NM")
    path = _write(
        tmp_path / "nm.csv",
        ["agency", "state", "date"],
        [["Doña Ana County Sheriff's Office", "NM", "2021-03-04"]],
        "cp1252",
    )
    out = _cli(runtime, monkeypatch, "import-records", str(path), "--kind", "uof", code=1)
    assert out.strip().count("\n") == 0, out
    assert "nm.csv is not utf-8-sig text" in out and "--encoding cp1252" in out
    out = _cli(
        runtime, monkeypatch, "import-records", str(path), "--kind", "uof", "--encoding", "cp1252"
    )
    assert "1 rows read: 1 added (1 matched, 0 for review)" in out

    out = _cli(
        runtime,
        monkeypatch,
        "import-records",
        str(path),
        "--kind",
        "uof",
        "--encoding",
        "cp1252",
        "--date-col",
        "Incident Date",
        code=1,
    )
    assert "no column 'Incident Date'" in out and "--date-col" in out
    assert out.strip().count("\n") == 0, out
    out = _cli(
        runtime,
        monkeypatch,
        "import-records",
        str(path),
        "--kind",
        "uof",
        "--preset",
        "wapo-v2",
        "--encoding",
        "cp1252",
        code=1,
    )
    assert "--agencies" in out


def test_several_agencies_in_one_cell_make_one_incident(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = make_public_agency(runtime, name="Springfield Police Department")
    county = make_public_agency(runtime, name="Greene County Sheriff's Office")
    rows = [
        ["Springfield PD; Greene County Sheriff", "PA", "2025-06-01"],
        ["Springfield PD", "PA", "2025-07-01"],
        ["Shelbyville PD", "PA", "2025-08-01"],
    ]
    path = _write(tmp_path / "multi.csv", ["agency", "state", "date"], rows)
    out = _cli(
        runtime, monkeypatch, "import-records", str(path), "--kind", "uof", "--agency-sep", ";"
    )
    assert "3 rows read: 3 added (2 matched, 1 for review)" in out
    with runtime.db.transaction() as session:
        analysis = records.analyze(session=session, kind="uof", since_years=5)
        figures = records.dataset_figures(session=session, kind="uof")
    # Three incidents; two involve a partner (the first involves two, counted once).
    assert (analysis.incidents_total, analysis.incidents_participating) == (3, 2)
    assert analysis.per_agency[str(city.id)] == 2 and analysis.per_agency[str(county.id)] == 1
    assert figures.incidents_with_partner == 2 and figures.agencies_named == 4


def test_rows_sharing_an_id_are_one_incident_of_several_agencies(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One row per agency and incident, as a joined export writes them: none is dropped.
    make_public_agency(runtime, name="Springfield Police Department")
    make_public_agency(runtime, name="Greene County Sheriff's Office")
    rows = [["7", "Springfield PD", "PA", "2025-06-01"],
            ["7", "Greene County Sheriff", "PA", "2025-06-01"],
            ["8", "Springfield PD", "PA", "2025-06-02"]]  # fmt: skip
    path = _write(tmp_path / "joined.csv", ["id", "agency", "state", "date"], rows)
    out = _cli(runtime, monkeypatch, "import-records", str(path), "--kind", "uof",
               "--id-col", "id")  # fmt: skip
    assert "2 rows read: 2 added (2 matched, 0 for review), 0 already loaded" in out
    with runtime.db.transaction() as session:
        figures = records.dataset_figures(session=session, kind="uof")
    assert figures.incidents == 2 and figures.agencies_named == 3
    assert sorted(p.total for p in figures.partners) == [1, 2]


def test_fatal_encounters_layout(runtime: Runtime, tmp_path: Path) -> None:
    # Rows written for the test in Fatal Encounters' column names (not real rows).
    agency = make_public_agency(runtime, name="Capital City Police Department")
    header = [
        "Unique ID",
        "Date of injury resulting in death (month/day/year)",
        "State",
        "Agency or agencies involved",
    ]
    rows = [
        ["901", "03/04/2021", "PA", "Capital City Police Department, Pennsylvania State Police"],
        ["902", "04/05/2021", "PA", "Capital City PD"],
    ]
    path = _write(tmp_path / "fe.csv", header, rows)
    incidents = records.incident_rows(preset="fatal-encounters", path=path)
    assert [len(i.agencies) for i in incidents] == [2, 1]
    with runtime.db.transaction() as session:
        result = records.import_release(
            session=session, rows=incidents, release=records.ReleaseInfo(kind="fe", source="fe")
        )
        figures = records.dataset_figures(session=session, kind="fe")
    assert (result.release.rows_added, result.release.rows_matched) == (2, 1)
    (row,) = [p for p in figures.partners if p.agency_id == str(agency.id)]
    assert row.total == 2


def test_rows_without_an_id_are_keyed_by_content_not_by_line(runtime: Runtime) -> None:
    make_public_agency(runtime, name="Springfield Police Department")
    columns = records.Columns("agency", "state", "date")
    first = [
        {"agency": "Springfield PD", "state": "PA", "date": f"2024-01-{d:02d}"} for d in range(1, 6)
    ]
    # The same incident twice on one day is two incidents; a new release inserts a row
    # at the top: only that row is added.
    first.append(dict(first[0]))
    second = [{"agency": "Springfield PD", "state": "PA", "date": "2023-12-31"}, *first]
    with runtime.db.transaction() as session:
        one = records.import_records(
            session=session, rows=first, kind="k", columns=columns, source="a"
        )
        two = records.import_records(
            session=session, rows=second, kind="k", columns=columns, source="b"
        )
    assert one.release.rows_added == 6
    assert (two.release.rows_added, two.release.rows_already_loaded) == (1, 6)


def test_identifiers_are_admin_only_audited_and_codes_unique(runtime: Runtime) -> None:
    nyc = make_public_agency(runtime, name="New York City Police Department", state="NY")
    other = make_public_agency(runtime, name="New York State Police", state="NY")
    rejected = make_public_agency(runtime, name="NYPD", state="NY", actions=("reject",))
    resident, admin = make_person(runtime), make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session, pytest.raises(Forbidden):
        identity.add_identifier(
            session=session,
            actor=session.merge(resident.user),
            agency_id=nyc.id,
            scheme=IdentifierScheme.ori,
            value="NY03030",
        )
    with runtime.db.transaction() as session:
        user = session.merge(admin.user)
        for value in ("ny03030", "NY03030"):  # the second changes nothing
            identity.add_identifier(
                session=session,
                actor=user,
                agency_id=nyc.id,
                scheme=IdentifierScheme.ori,
                value=value,
            )
        identity.add_identifier(
            session=session,
            actor=user,
            agency_id=rejected.id,
            scheme=IdentifierScheme.alias,
            value="NYPD",
        )
        with pytest.raises(Conflict):
            identity.add_identifier(
                session=session,
                actor=user,
                agency_id=other.id,
                scheme=IdentifierScheme.ori,
                value="NY03030",
            )
    with runtime.db.transaction() as session:
        added = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "agency.identifier_added")
        ).all()
        assert [(r.details["value"], r.is_public) for r in added] == [
            ("NY03030", True),
            ("NYPD", True),
        ]
        # A rejected application's alias matches nothing.
        index = records.matching.agency_index(session)
        assert records.matching.match_agency(index, name="NYPD", state="NY") == (
            None,
            records.matching.NO_AGENCY,
        )
        assert records.matching.match_agency(
            index, name="x", state="NY", ori_codes="XX;NY03030"
        ) == (nyc.id, None)
