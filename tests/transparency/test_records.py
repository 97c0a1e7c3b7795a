"""Accountability datasets: messy agency names are matched by normalized name and
state, unmatched rows are kept for review, and the analysis figures are those
computed by hand below."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.transparency.portal import make_public_agency
from tests.transparency.records_support import agencies as agencies
from tests.transparency.records_support import messy_dataset
from typer.testing import CliRunner

from doorstep.audit import AuditRecord
from doorstep.db import utcnow
from doorstep.runtime import Runtime
from doorstep.transparency import cli as transparency_cli
from doorstep.transparency import records
from doorstep.transparency.models import AccountabilityAttribution, AccountabilityRecord


@pytest.mark.parametrize(
    ("messy", "clean"),
    [
        ("SPRINGFIELD P.D.", "Springfield Police Department"),
        ("Springfield Police Dept.", "Springfield Police Department"),
        ("springfield police", "Springfield Police Department"),
        ("The Springfield PD", "Springfield Police Department"),
        ("Smith Co. Sheriff Office", "Smith County Sheriff's Office"),
        ("Smith County Sheriffs Dept", "Smith County Sheriff's Office"),
        ("Smith County S.O.", "Smith County Sheriff\u2019s Office"),
        ("St. Louis Metro PD", "Saint Louis Metropolitan Police Department"),
    ],
)
def test_names_normalize_alike(messy: str, clean: str) -> None:
    assert records.normalize_name(messy) == records.normalize_name(clean)


def test_different_agencies_stay_apart() -> None:
    assert records.normalize_name("Springfield PD") != records.normalize_name("Springfield FD")
    assert records.normalize_name("Smith County Sheriff") != records.normalize_name(
        "Smith County Police Department"
    )
    assert records.normalize_state("Pennsylvania") == "PA" and records.normalize_state("XX") is None


def _cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setattr(transparency_cli, "get_settings", lambda: runtime.settings)
    result = CliRunner().invoke(transparency_cli.app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_import_matches_messy_names_and_keeps_the_rest_for_review(
    runtime: Runtime,
    agencies: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    today = utcnow().date()
    csv_path = messy_dataset(tmp_path / "uof.csv", today)
    args = [
        "import-records",
        str(csv_path),
        "--kind",
        "use-of-force",
        "--agency-col",
        "Agency Name",
        "--state-col",
        "ST",
        "--date-col",
        "Incident Date",
        "--id-col",
        "case_id",
    ]
    out = _cli(runtime, monkeypatch, *args)
    # Ogdenville's application is still pending: it matches nothing (issue 14), so its
    # row is kept for review like the others.
    assert "10 rows read: 10 added (5 matched, 5 for review), 0 already loaded" in out
    # The names for review come grouped by (name, state), with their row counts; the
    # dates not understood are listed apart.
    for line in (
        "names for review: 4 names, 4 rows",
        "'Springfield PD' (OH): 1 row: no agency with this name in this state",
        "'Capital City Police' (PA): 1 row: no agency",
        "'Ogdenville PD' (PA): 1 row: no agency",
        "'Shelbyville Police' (XX): 1 row: state not understood",
        "1 incident with a date not understood",
        "use-of-force line 10: \"Smith County Sheriff's Office\" (PA): 'not a date'",
    ):
        assert line in out, line
    with runtime.db.transaction() as session:
        matched = {
            ext: agency_id
            for ext, agency_id in session.execute(
                select(AccountabilityRecord.external_id, AccountabilityAttribution.agency_id).join(
                    AccountabilityAttribution,
                    AccountabilityAttribution.record_id == AccountabilityRecord.id,
                )
            )
        }
        imported = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "accountability.imported")
        ).one()
    ids = {k: getattr(v, "id") for k, v in agencies.items()}
    assert {k for k, v in matched.items() if v == ids["springfield"]} == {"1", "2", "3"}
    # Row 9's agency matches; its date is what keeps it for review.
    assert {k for k, v in matched.items() if v == ids["smith"]} == {"4", "5", "9"}
    assert {k for k, v in matched.items() if v is None} == {"6", "7", "8", "10"}
    assert imported.is_public and imported.details["rows_for_review"] == 5

    again = _cli(runtime, monkeypatch, *args)
    assert "10 rows read: 0 added (0 matched, 0 for review), 10 already loaded" in again
    assert "the same file as release" in again
    review = _cli(runtime, monkeypatch, "review", "--kind", "use-of-force")
    assert "names for review: 4 names, 4 rows" in review and "Capital City Police" in review
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AccountabilityRecord)) == 10


def test_analysis_figures_by_hand(
    client: TestClient,
    runtime: Runtime,
    agencies: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    today = utcnow().date()
    with runtime.db.transaction() as session:
        rows = records.read_csv(messy_dataset(tmp_path / "uof.csv", today))
        records.import_records(
            session=session,
            rows=rows,
            kind="use-of-force",
            source="uof.csv",
            columns=records.Columns("Agency Name", "ST", "Incident Date"),
        )
    # In the last 5 years: rows 1, 2, 4, 5, 6, 7, 8 and 10 (row 3 is older, row 9 has no
    # date): 8 incidents. Participating agencies (ever verified): Springfield (rows 1, 2),
    # Smith County (4, 5), Shelbyville (none): 2 of 3 with incidents, 4 of 8 incidents.
    out = _cli(runtime, monkeypatch, "analyze", "--since", "5")
    assert (
        "use-of-force since " in out
        and "2 of 3 participating agencies have at least one "
        "incident; they account for 4 of 8 incidents (50.0%)"
        in out
    ), out
    springfield = getattr(agencies["springfield"], "id")
    figures = client.get(f"/api/v1/transparency/agencies/{springfield}").json()
    (fig,) = figures["accountability"]
    assert (fig["incidents"], fig["incidents_total"], fig["share_of_dataset"]) == (2, 8, 0.25)
    assert (fig["agencies_with_incidents"], fig["participating_agencies"]) == (2, 3)
    page = client.get(f"/transparency/agencies/{springfield}").text
    assert "use-of-force" in page and "25.0%" in page and "2 of 3 agencies" in page

    # Capital City joins: its row, kept for review, is matched on the next analysis.
    make_public_agency(runtime, name="Capital City Police Department")
    out = _cli(runtime, monkeypatch, "analyze", "--since", "5", "--kind", "use-of-force")
    assert "3 of 4 participating agencies" in out and "5 of 8 incidents (62.5%)" in out
    out = _cli(runtime, monkeypatch, "analyze", "--since", "1")
    # Last year only: rows 1, 2, 4, 6, 7, 8, 10 -> 7 incidents, 4 of them participating.
    assert "3 of 4 participating agencies" in out and "4 of 7 incidents" in out
