"""The annual transparency report: Markdown for people, CSV for analysis.

Both are written from one :class:`~doorstep.transparency.annual_figures.YearFigures`;
the Markdown is the template ``templates/annual_report.md.j2``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from sqlalchemy.orm import Session

from doorstep.transparency import records, request_log
from doorstep.transparency.annual_figures import YearFigures, gather_year, percent

TEMPLATE_DIR = Path(__file__).parent / "templates"
AGENCY_COLUMNS = [
    "agency_id",
    "name",
    "state",
    "status",
    "requests",
    "owners_asked",
    "owners_shared",
    "owners_declined",
    "share_rate",
    "clips_viewed",
    "clips_exported",
]


@dataclass(frozen=True)
class AnnualReport:
    year: int
    markdown: Path
    csv_files: list[Path]
    requests: int
    asked: int
    shared: int
    declined: int
    agencies_taking_part: int


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_csv_files(figures: YearFigures, out_dir: Path) -> list[Path]:
    """The rows behind the report, one CSV file per table, named with the year."""
    year = figures.year
    changes = [
        [c.changed_at.isoformat(), c.level, str(c.changed), c.reason]
        for c in figures.policy_changes
    ]
    return [
        _write_csv(
            out_dir / f"requests-{year}.csv",
            request_log.REQUEST_COLUMNS,
            [request_log.request_row(r) for r in figures.requests],
        ),
        _write_csv(
            out_dir / f"agencies-{year}.csv",
            AGENCY_COLUMNS,
            [[a.agency_id, *a.cells()] for a in figures.agencies],
        ),
        _write_csv(
            out_dir / f"incident-types-{year}.csv",
            ["incident_type", "requests"],
            figures.incident_type_rows(),
        ),
        _write_csv(
            out_dir / f"agencies-active-per-month-{year}.csv",
            ["month", "agencies_taking_part"],
            [[m.month, str(m.count)] for m in figures.months],
        ),
        _write_csv(
            out_dir / f"audit-actions-{year}.csv",
            ["action", "public_records"],
            figures.action_rows(),
        ),
        _write_csv(
            out_dir / f"policy-changes-{year}.csv",
            ["changed_at", "level", "changed", "reason"],
            changes,
        ),
    ]


@cache
def _templates() -> jinja2.Environment:
    # Markdown, not HTML: nothing to escape but the table cells' pipes (the "cell" filter).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # noqa: S701 (Markdown)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = lambda text: str(text).replace("|", "\\|")
    env.filters["percent"] = percent
    return env


def render_markdown(figures: YearFigures, *, instance_name: str) -> str:
    """The report as Markdown, ending in exactly one newline."""
    template = _templates().get_template("annual_report.md.j2")
    text = template.render(y=figures, instance_name=instance_name)
    return text.rstrip() + "\n"


def write_annual_report(
    *, session: Session, year: int, out_dir: Path, instance_name: str = "doorstep"
) -> AnnualReport:
    """Write ``transparency-report-YEAR.md`` and its CSV files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = gather_year(session=session, year=year)
    files = write_csv_files(figures, out_dir)
    for dataset in figures.datasets:
        path = out_dir / f"accountability-{dataset.kind}-{year}.csv"
        path.write_text(records.figures_csv(dataset), encoding="utf-8")
        files.append(path)
    markdown = out_dir / f"transparency-report-{year}.md"
    markdown.write_text(render_markdown(figures, instance_name=instance_name), encoding="utf-8")
    return AnnualReport(
        year=year,
        markdown=markdown,
        csv_files=files,
        requests=len(figures.requests),
        asked=figures.asked,
        shared=figures.shared,
        declined=figures.declined,
        agencies_taking_part=figures.agencies_taking_part,
    )
