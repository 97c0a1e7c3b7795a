"""How long the Post's whole fatal police shootings file (v2) takes to import and to
analyze on SQLite, and the figures it gives for a set of real partners.

    .venv/bin/python -m bench.records DIR [--db sqlite|URL]

DIR holds fatal-police-shootings-data.csv and fatal-police-shootings-agencies.csv (see
tests/transparency/data/README.md for where to get them). A fresh database is migrated
in a temporary folder; the 33 agencies with the most incidents in the Post's agencies
file are registered and verified (partners since 2020-01-01, two of them ended on
2023-06-30), three of them under the name they use themselves, linked afterwards as a
journalist would. Timed: the import (reading both files, matching, one transaction),
the same file again, the review, the link of a name, and the analysis.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, AgencyType
from doorstep.config import Settings
from doorstep.migrate import upgrade
from doorstep.runtime import Runtime
from doorstep.transparency import records

KIND = "fatal-police-shootings"
PARTNERS = 33
# The Post's name -> the name the agency registers under (linked after the import).
OWN_NAMES = {
    ("New York Police Department", "NY"): "New York City Police Department",
    ("Columbus Police Department", "OH"): "Columbus Division of Police",
    ("Portland Police Department", "OR"): "Portland Police Bureau",
}
ENDED = ("Phoenix Police Department", "Tulsa Police Department")
T = TypeVar("T")


def timed(label: str, timings: dict[str, float], work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    timings[label] = time.perf_counter() - start
    print(f"{label}: {timings[label]:.2f} s")
    return result


def largest_agencies(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: -int(r["total_shootings"] or 0))
    picked = [(r["name"], r["state"]) for r in rows if len(r["state"]) == 2][:PARTNERS]
    return picked + [k for k in OWN_NAMES if k not in picked][: max(0, PARTNERS - len(picked))]


def register(session: Session, names: list[tuple[str, str]]) -> dict[tuple[str, str], Agency]:
    def person(role: Role, n: int) -> User:
        return account_service.create_user(
            session=session, actor=None, email=f"bench{n}@example.org",
            display_name=f"Bench {n}", password="correct horse battery", role=role,
        )  # fmt: skip

    admin, applicant = person(Role.admin, 0), person(Role.resident, 1)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [0, 0.1], [0.1, 0.1], [0.1, 0], [0, 0]]]}
    made = {}
    for name, state in names:
        agency = agency_service.apply_for_agency(
            session=session, applicant=applicant, name=OWN_NAMES.get((name, state), name),
            agency_type=AgencyType.police, city=name.split()[0], state=state,
            jurisdiction=square, contact_email="records@example.org",
            website="https://agency.example.org",
        )  # fmt: skip
        for action in ("verify", "end") if name in ENDED else ("verify",):
            agency_service.change_status(session=session, actor=admin, agency_id=agency.id,
                                         action=action, reason="bench")  # fmt: skip
        agency.verified_at = datetime(2020, 1, 1, tzinfo=UTC)
        if name in ENDED:
            agency.ended_at = datetime(2023, 6, 30, tzinfo=UTC)
        made[(name, state)] = agency
    return made


def link(runtime: Runtime, name: str, state: str, agency: Agency) -> int:
    with runtime.db.transaction() as session:
        return records.link_name(
            session=session, actor=None, name=name, state=state, agency_id=agency.id
        )


def run(folder: Path, url: str) -> dict[str, Any]:
    data = folder / "fatal-police-shootings-data.csv"
    agencies = folder / "fatal-police-shootings-agencies.csv"
    upgrade(url)
    runtime = Runtime(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())))
    timings: dict[str, float] = {}
    with runtime.db.transaction() as session:
        partners = register(session, largest_agencies(agencies))

    def load() -> records.ImportResult:
        rows = records.incident_rows(preset="wapo-v2", path=data, agencies_path=agencies)
        release = records.ReleaseInfo(kind=KIND, source=data.name, sha256=records.file_sha256(data))
        with runtime.db.transaction() as session:
            return records.import_release(session=session, rows=rows, release=release)

    first = timed("import", timings, load)
    timed("import the same file again", timings, load)
    with runtime.db.transaction() as session:
        groups = timed("review", timings, lambda: records.review_groups(session=session, kind=KIND))
    for (name, state), agency in partners.items():
        if (name, state) in OWN_NAMES:
            timed(f"link {name!r}", timings, partial(link, runtime, name, state, agency))

    def analyze() -> records.DatasetFigures:
        with runtime.db.transaction() as session:
            records.analyze(session=session, kind=KIND, since_years=5)
            return records.dataset_figures(session=session, kind=KIND)

    figures = timed("analyze", timings, analyze)
    close = [g for g in groups if g.suggestions and g.suggestions[0].score >= 90]
    print("names for review closest to a partner (score >= 90):")
    for group in close:
        print(records.text.group_line(group))
    for line in records.text.figures_lines(figures):
        print(line)
    runtime.close()
    return {"rows_read": first.release.rows_read, "names_for_review": len(groups),
            "timings_s": timings, "figures": records.figures_json(figures)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db" if args.db == "sqlite" else args.db
        result = run(args.folder, url)
    print(f"{result['rows_read']} incidents; {result['names_for_review']} names for review")


if __name__ == "__main__":
    main()
