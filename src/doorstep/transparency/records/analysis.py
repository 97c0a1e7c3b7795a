"""What a journalist can publish from an accountability dataset: for every partner
(an agency that was ever verified), the incidents before, during and after its
partnership, per year; totals; and warnings on coverage.

Every figure counts distinct incidents: an incident naming two partners counts once in
each partner's row and once in a total. Incidents of withdrawn releases and incidents
whose date was not understood count nowhere (the review lists the latter).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.agencies.models import Agency
from doorstep.transparency import public
from doorstep.transparency.models import ATTRIBUTIONS, IMPORTS, RECORDS
from doorstep.transparency.records.names import check_kind

PERIODS = ("before", "during", "after")
YEAR_COUNTS = ("incidents", "with_partner", "during")
# A partner with no row, or more than this share of the agencies left unmatched, is
# worth a warning next to any figure.
UNMATCHED_WARNING_SHARE = 0.05


@dataclass
class PartnerFigures:
    agency_id: str
    name: str
    state: str
    status: str
    partner_from: date
    partner_until: date | None
    before: int = 0
    during: int = 0
    after: int = 0
    # {year: {"before": n, "during": n, "after": n}}
    per_year: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.before + self.during + self.after


@dataclass
class DatasetFigures:
    kind: str
    incidents: int
    incidents_undated: int
    agencies_named: int
    agencies_unmatched: int
    incidents_with_partner: int
    incidents_during_partnership: int
    first_day: date | None
    last_day: date | None
    partners: list[PartnerFigures]
    warnings: list[str]
    # {year: {"incidents": n, "with_partner": n, "during": n}}: distinct incidents of the
    # year, those naming a partner, those naming one during its partnership.
    per_year: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def unmatched_share(self) -> float:
        return self.agencies_unmatched / self.agencies_named if self.agencies_named else 0.0


def period_of(day: date, agency: Agency) -> str:
    """Where ``day`` falls in the agency's partnership: from its first verification to
    its end, both days included; an agency not ended is a partner still."""
    start = agency.verified_at.date() if agency.verified_at else date.max
    if day < start:
        return "before"
    if agency.ended_at is not None and day > agency.ended_at.date():
        return "after"
    return "during"


def incident_agencies(
    *, session: Session, kind: str
) -> tuple[dict[int, date | None], dict[int, set[uuid.UUID]], int, int]:
    """Every incident in force of ``kind``: its date, the agencies it matched, and how
    many agencies its rows name and leave unmatched."""
    # Core tables: the ORM's row loading doubles the time on the Post's 11,000 rows.
    stmt = (
        select(RECORDS.c.id, RECORDS.c.occurred_on, ATTRIBUTIONS.c.agency_id)
        .join(IMPORTS, IMPORTS.c.id == RECORDS.c.import_id)
        .outerjoin(ATTRIBUTIONS, ATTRIBUTIONS.c.record_id == RECORDS.c.id)
        .where(RECORDS.c.kind == kind, IMPORTS.c.withdrawn_at.is_(None))
    )
    session.flush()
    rows = session.connection().execute(stmt)
    days: dict[int, date | None] = {}
    matched: dict[int, set[uuid.UUID]] = defaultdict(set)
    named = unmatched = 0
    for record_id, day, agency_id in rows:
        days[record_id] = day
        named += 1
        if agency_id is None:
            unmatched += 1
        else:
            matched[record_id].add(agency_id)
    return days, matched, named, unmatched


def count_incident(row: PartnerFigures, day: date, agency: Agency) -> str:
    """Count one incident of ``day`` in the agency's row; returns its period."""
    period = period_of(day, agency)
    setattr(row, period, getattr(row, period) + 1)
    year = row.per_year.setdefault(day.year, dict.fromkeys(PERIODS, 0))
    year[period] += 1
    return period


def partner_row(agency: Agency) -> PartnerFigures:
    return PartnerFigures(
        agency_id=str(agency.id),
        name=agency.name,
        state=agency.state,
        status=agency.status.value,
        partner_from=agency.verified_at.date() if agency.verified_at else date.max,
        partner_until=agency.ended_at.date() if agency.ended_at else None,
    )


def dataset_figures(*, session: Session, kind: str) -> DatasetFigures:
    """The figures of ``kind`` for every partner, with totals and warnings."""
    kind = check_kind(kind)
    agencies = {a.id: a for a in public.participating_agencies(session=session)}
    partners = {agency_id: partner_row(a) for agency_id, a in agencies.items()}
    days, matched, named, unmatched = incident_agencies(session=session, kind=kind)
    per_year: dict[int, dict[str, int]] = {}
    for record_id, day in days.items():
        if day is None:
            continue
        year = per_year.setdefault(day.year, dict.fromkeys(YEAR_COUNTS, 0))
        year["incidents"] += 1
        ours = matched.get(record_id, set()) & agencies.keys()
        if not ours:
            continue
        periods = {count_incident(partners[a], day, agencies[a]) for a in ours}
        year["with_partner"] += 1
        year["during"] += "during" in periods
    dated = [d for d in days.values() if d is not None]
    figures = DatasetFigures(
        kind=kind,
        incidents=len(dated),
        incidents_undated=len(days) - len(dated),
        agencies_named=named,
        agencies_unmatched=unmatched,
        incidents_with_partner=sum(y["with_partner"] for y in per_year.values()),
        incidents_during_partnership=sum(y["during"] for y in per_year.values()),
        first_day=min(dated, default=None),
        last_day=max(dated, default=None),
        partners=sorted(partners.values(), key=lambda p: (p.state, p.name, p.agency_id)),
        warnings=[],
        per_year=dict(sorted(per_year.items())),
    )
    figures.warnings = coverage_warnings(figures)
    return figures


def coverage_warnings(figures: DatasetFigures) -> list[str]:
    """What a reader must know before quoting the figures."""
    warnings = [
        f"{p.name} ({p.state}) matched no incident: check its name in the review "
        "(doorstep transparency review) before reporting zero."
        for p in figures.partners
        if p.total == 0
    ]
    if figures.unmatched_share > UNMATCHED_WARNING_SHARE:
        warnings.append(
            f"{figures.agencies_unmatched} of {figures.agencies_named} agencies named by "
            f"the dataset ({figures.unmatched_share:.1%}) match no agency here: most are "
            "agencies that never took part, but a partner spelled differently is among "
            "them until the review says otherwise."
        )
    if figures.incidents_undated:
        warnings.append(
            f"{figures.incidents_undated} incidents have a date that was not understood "
            "and are counted nowhere (listed by the review)."
        )
    return warnings


def figures_json(figures: DatasetFigures) -> dict[str, Any]:
    """The figures as JSON-ready data (dates as ISO strings)."""
    data = asdict(figures)
    for partner, row in zip(figures.partners, data["partners"], strict=True):
        row["total"] = partner.total
    data["unmatched_share"] = round(figures.unmatched_share, 4)
    return dict(_iso(data))


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


CSV_COLUMNS = ("agency_id", "name", "state", "status", "partner_from", "partner_until",
               "year", "before", "during", "after", "total")  # fmt: skip


def figures_csv(figures: DatasetFigures) -> str:
    """One line per partner and year, and one per partner with "all" years."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in figures.partners:
        head = [p.agency_id, p.name, p.state, p.status, p.partner_from.isoformat(),
                p.partner_until.isoformat() if p.partner_until else ""]  # fmt: skip
        for year in sorted(p.per_year):
            counts = [p.per_year[year][k] for k in PERIODS]
            writer.writerow([*head, year, *counts, sum(counts)])
        writer.writerow([*head, "all", p.before, p.during, p.after, p.total])
    return out.getvalue()
