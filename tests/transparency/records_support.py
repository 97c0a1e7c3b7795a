"""A small messy dataset and its instance, and a release of it loaded through the service:
shared by the accountability import, API, page and browser tests."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.transparency.portal import make_public_agency

from doorstep.agencies.models import Agency
from doorstep.db import utcnow
from doorstep.runtime import Runtime
from doorstep.transparency import records


def messy_dataset(path: Path, today: date) -> Path:
    recent, older = today - timedelta(days=100), today - timedelta(days=2 * 365)
    rows = [
        ("1", "SPRINGFIELD P.D.", "PA", recent.isoformat()),
        (
            "2",
            "Springfield Police Dept.",
            "Pennsylvania",
            (today - timedelta(days=200)).isoformat(),
        ),
        (
            "3",
            "springfield police department",
            "pa",
            (today - timedelta(days=10 * 365)).isoformat(),
        ),
        ("4", "Smith Co. Sheriff Office", "PA", (today - timedelta(days=50)).isoformat()),
        ("5", "Smith County Sheriffs Dept", "PA", older.strftime("%m/%d/%Y")),
        ("6", "Ogdenville PD", "PA", recent.isoformat()),
        ("7", "Springfield PD", "OH", recent.isoformat()),
        ("8", "Capital City Police", "PA", recent.isoformat()),
        ("9", "Smith County Sheriff's Office", "PA", "not a date"),
        ("10", "Shelbyville Police", "XX", recent.isoformat()),
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case_id", "Agency Name", "ST", "Incident Date", "notes"])
        writer.writerows([(*r, "") for r in rows])
    return path


@pytest.fixture
def agencies(runtime: Runtime) -> dict[str, object]:
    return {
        "springfield": make_public_agency(runtime, name="Springfield Police Department"),
        "smith": make_public_agency(
            runtime, name="Smith County Sheriff's Office", agency_type="sheriff"
        ),
        "shelbyville": make_public_agency(
            runtime, name="Shelbyville Police Department", actions=("verify", "end")
        ),
        "ogdenville": make_public_agency(runtime, name="Ogdenville Police Department", actions=()),
    }


KIND = "use-of-force"


def load_dataset(runtime: Runtime, tmp_path: Path) -> str:
    """The ten rows of ``test_records._dataset`` as one release; returns its SHA-256."""
    path = messy_dataset(tmp_path / "uof.csv", utcnow().date())
    sha = records.file_sha256(path)
    columns = records.Columns("Agency Name", "ST", "Incident Date", "case_id")
    with runtime.db.transaction() as session:
        records.import_release(
            session=session,
            rows=records.generic_rows(records.read_table(path), columns),
            release=records.ReleaseInfo(
                kind=KIND, source=str(path), source_url="https://example.org/uof.csv",
                released_on=date(2026, 11, 1), sha256=sha,
            ),
        )  # fmt: skip
    return sha


def partner_since(runtime: Runtime, agency: Any, years: int) -> None:
    """The service stamps "now" on a verification: the test moves it back."""
    with runtime.db.transaction() as session:
        row = session.get_one(Agency, agency.id)
        assert row.verified_at is not None
        row.verified_at = row.verified_at - timedelta(days=365 * years)
