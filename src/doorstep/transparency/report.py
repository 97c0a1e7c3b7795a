"""The annual transparency report: Markdown for people, CSV for analysis.

The counts are those an oversight body asks for (participation, requests and their
answers, evidence use, refusals, policy changes, the audit chain), all computed from
the same public views the portal shows.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.agencies.models import Agency
from doorstep.audit import GENESIS_HASH, AuditRecord, verify_chain
from doorstep.db import utcnow
from doorstep.footage.models import Evidence, EvidenceAccess, FootageRequest, PolicyVersion
from doorstep.transparency import public, request_log
from doorstep.transparency.models import AccountabilityAnalysis, AuditDailyHead
from doorstep.transparency.request_log import RequestFilter
from doorstep.transparency.schemas import PublicRequest


@dataclass(frozen=True)
class AgencyYear:
    agency_id: str
    name: str
    state: str
    status: str
    requests: int
    asked: int
    shared: int
    declined: int
    clips_viewed: int
    clips_exported: int

    @property
    def share_rate(self) -> str:
        return f"{self.shared / self.asked:.1%}" if self.asked else "n/a"


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


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _audit_actions(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(AuditRecord.action, func.count())
        .where(AuditRecord.is_public.is_(True), AuditRecord.at >= start, AuditRecord.at < end)
        .group_by(AuditRecord.action)
        .order_by(AuditRecord.action)
    )
    return {action: int(n) for action, n in rows}


def _year_end_head(session: Session, year: int, end: datetime) -> tuple[int, str, str]:
    """(seq, hash, where from) of the chain at the end of the year."""
    published = session.get(AuditDailyHead, date(year, 12, 31))
    if published is not None:
        return published.seq, published.head_hash, "published daily head"
    row = session.execute(
        select(AuditRecord.seq, AuditRecord.hash)
        .where(AuditRecord.at < end)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1], "computed now") if row else (0, GENESIS_HASH, "empty log")


def _evidence_counts(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    shared = session.scalar(
        select(func.count())
        .select_from(Evidence)
        .where(Evidence.shared_at >= start, Evidence.shared_at < end)
    )
    counts = {"clips shared with agencies": int(shared or 0)}
    for action, n in session.execute(
        select(EvidenceAccess.action, func.count())
        .where(EvidenceAccess.at >= start, EvidenceAccess.at < end)
        .group_by(EvidenceAccess.action)
    ):
        counts[f"clips {action}"] = int(n)
    return counts


def _accesses_by_agency(
    session: Session, start: datetime, end: datetime
) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(EvidenceAccess.agency_id, EvidenceAccess.action, func.count())
        .where(EvidenceAccess.at >= start, EvidenceAccess.at < end)
        .group_by(EvidenceAccess.agency_id, EvidenceAccess.action)
    )
    return {(str(a), action): int(n) for a, action, n in rows}


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["None.", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return [*lines, ""]


def write_annual_report(
    *, session: Session, year: int, out_dir: Path, instance_name: str = "doorstep"
) -> AnnualReport:
    """Write ``transparency-report-YEAR.md`` and its CSV files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start, end = _year_bounds(year)
    requests: list[PublicRequest] = list(
        request_log.iter_request_log(
            session=session,
            filters=RequestFilter(activated_from=start, activated_before=end),
        )
    )
    agencies = public.participating_agencies(session=session)
    # Months up to the year's end, or up to now for the year in progress.
    last_day = min(end.date() - timedelta(days=1), utcnow().date())
    monthly = public.active_per_month(session=session, agencies=agencies, today=last_day)
    periods = public.participation_periods(session, agencies)
    taking_part = {
        agency_id
        for agency_id, spans in periods.items()
        if any(s < end and (e is None or e >= start) for s, e in spans)
    }
    in_year = [m for m in monthly if m.month.startswith(f"{year:04d}-")]
    accesses = _accesses_by_agency(session, start, end)
    per_agency: list[AgencyYear] = []
    for agency in agencies:
        mine = [r for r in requests if r.agency_id == agency.id]
        if agency.id not in taking_part and not mine:
            continue
        per_agency.append(
            AgencyYear(
                agency_id=str(agency.id),
                name=agency.name,
                state=agency.state,
                status=agency.status.value,
                requests=len(mine),
                asked=sum(r.asked for r in mine),
                shared=sum(r.shared for r in mine),
                declined=sum(r.declined for r in mine),
                clips_viewed=accesses.get((str(agency.id), "viewed"), 0),
                clips_exported=accesses.get((str(agency.id), "exported"), 0),
            )
        )
    asked = sum(r.asked for r in requests)
    shared = sum(r.shared for r in requests)
    declined = sum(r.declined for r in requests)
    incident_types = Counter(r.incident_type.value for r in requests)
    actions = _audit_actions(session, start, end)
    evidence = _evidence_counts(session, start, end)
    joined = sum(1 for a in agencies if a.verified_at and start <= a.verified_at < end)
    ended = sum(1 for a in agencies if a.ended_at and start <= a.ended_at < end)
    refused = session.scalar(
        select(func.count())
        .select_from(FootageRequest)
        .where(
            FootageRequest.status == "rejected",
            FootageRequest.reviewed_at >= start,
            FootageRequest.reviewed_at < end,
        )
    )
    changes = list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.changed_at >= start, PolicyVersion.changed_at < end)
            .order_by(PolicyVersion.changed_at)
        )
    )
    names = {a.id: a.name for a in session.scalars(select(Agency))}
    head_seq, head_hash, head_source = _year_end_head(session, year, end)
    chain = verify_chain(session=session)
    analyses: dict[str, AccountabilityAnalysis] = {}
    for row in session.scalars(
        select(AccountabilityAnalysis).order_by(AccountabilityAnalysis.computed_at.desc())
    ):
        analyses.setdefault(row.kind, row)

    files = [
        _write_csv(
            out_dir / f"requests-{year}.csv",
            request_log.REQUEST_COLUMNS,
            [request_log.request_row(r) for r in requests],
        ),
        _write_csv(
            out_dir / f"agencies-{year}.csv",
            [
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
            ],
            [
                [
                    a.agency_id,
                    a.name,
                    a.state,
                    a.status,
                    str(a.requests),
                    str(a.asked),
                    str(a.shared),
                    str(a.declined),
                    a.share_rate,
                    str(a.clips_viewed),
                    str(a.clips_exported),
                ]
                for a in per_agency
            ],
        ),
        _write_csv(
            out_dir / f"incident-types-{year}.csv",
            ["incident_type", "requests"],
            [[k, str(v)] for k, v in sorted(incident_types.items())],
        ),
        _write_csv(
            out_dir / f"agencies-active-per-month-{year}.csv",
            ["month", "agencies_taking_part"],
            [[m.month, str(m.count)] for m in in_year],
        ),
        _write_csv(
            out_dir / f"audit-actions-{year}.csv",
            ["action", "public_records"],
            [[k, str(v)] for k, v in actions.items()],
        ),
        _write_csv(
            out_dir / f"policy-changes-{year}.csv",
            ["changed_at", "level", "changed", "reason"],
            [
                [
                    v.changed_at.isoformat(),
                    names.get(v.agency_id, "instance") if v.agency_id else "instance",
                    str(v.changed),
                    v.reason,
                ]
                for v in changes
            ],
        ),
    ]
    rate = f"{shared / asked:.1%}" if asked else "n/a"
    md: list[str] = [
        f"# {instance_name} transparency report {year}",
        "",
        f"Period: {year}-01-01 to {year}-12-31 (UTC). Generated {utcnow():%Y-%m-%d %H:%M} UTC.",
        "Every figure comes from the public portal's data; the CSV files beside this",
        "report hold the rows.",
        "",
        "## Participation",
        "",
        f"- Agencies taking part at any time in {year}: {len(taking_part)}",
        f"- Agencies that joined (first verified) in {year}: {joined}",
        f"- Agencies whose participation ended in {year}: {ended}",
        f"- Agency suspensions in {year}: {actions.get('agency.suspend', 0)}",
        "",
        "## Footage requests",
        "",
        f"- Requests sent to owners (became active): {len(requests)}",
        f"- Requests refused by moderators: {int(refused or 0)}",
        f"- Owners asked: {asked}; shared: {shared}; declined: {declined}; share rate: {rate}",
        "",
        "### By incident type",
        "",
        *_table(
            ["Incident type", "Requests"], [[k, str(v)] for k, v in sorted(incident_types.items())]
        ),
        "### By agency",
        "",
        *_table(
            [
                "Agency",
                "State",
                "Status",
                "Requests",
                "Asked",
                "Shared",
                "Declined",
                "Share rate",
                "Clips viewed",
                "Clips exported",
            ],
            [
                [
                    a.name,
                    a.state,
                    a.status,
                    str(a.requests),
                    str(a.asked),
                    str(a.shared),
                    str(a.declined),
                    a.share_rate,
                    str(a.clips_viewed),
                    str(a.clips_exported),
                ]
                for a in per_agency
            ],
        ),
        "## Evidence",
        "",
        *[f"- {k.capitalize()}: {v}" for k, v in evidence.items()],
        f"- Clips deleted at the end of their retention: "
        f"{actions.get('evidence.retention_deleted', 0)}",
        "",
        "## Policy changes",
        "",
        *_table(
            ["Changed", "Level", "Reason"],
            [
                [
                    f"{v.changed_at:%Y-%m-%d}",
                    names.get(v.agency_id, "instance") if v.agency_id else "instance",
                    v.reason,
                ]
                for v in changes
            ],
        ),
        "## Audit log",
        "",
        f"- Public audit records written in {year}: {sum(actions.values())}",
        f"- Chain head at the end of {year}"
        + (" (so far)" if end > utcnow() else "")
        + f": record {head_seq}, `{head_hash}` ({head_source})",
        "- Whole chain verified when this report was written: "
        + (f"intact, {chain.records} records" if chain.ok else f"BROKEN: {chain.problem}"),
        "",
        *_table(["Action", "Public records"], [[k, str(v)] for k, v in actions.items()]),
        "## Accountability datasets",
        "",
    ]
    if not analyses:
        md += ["No dataset analyzed yet.", ""]
    for kind, row in sorted(analyses.items()):
        share = (
            f"{row.incidents_participating / row.incidents_total:.1%}"
            if row.incidents_total
            else "n/a"
        )
        md += [
            f"- {kind} ({row.period_start} to {row.period_end}): "
            f"{row.agencies_with_incidents} of {row.participating_agencies} participating "
            f"agencies have at least one incident; they account for "
            f"{row.incidents_participating} of {row.incidents_total} incidents ({share}).",
        ]
    markdown = out_dir / f"transparency-report-{year}.md"
    markdown.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    return AnnualReport(
        year=year,
        markdown=markdown,
        csv_files=files,
        requests=len(requests),
        asked=asked,
        shared=shared,
        declined=declined,
        agencies_taking_part=len(taking_part),
    )
