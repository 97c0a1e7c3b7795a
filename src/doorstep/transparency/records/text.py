"""The lines the command line prints about accountability datasets: summaries, never
one line per dataset row."""

from __future__ import annotations

from typing import Any

from doorstep.transparency.models import AccountabilityAnalysis, AccountabilityRecord
from doorstep.transparency.records.analysis import DatasetFigures
from doorstep.transparency.records.matching import ReviewGroup
from doorstep.transparency.records.releases import COUNTS, ImportResult


def import_lines(result: ImportResult) -> list[str]:
    r = result.release
    lines = [
        f"{r.rows_read} rows read: {r.rows_added} added "
        f"({r.rows_matched} matched, {r.rows_for_review} for review), "
        f"{r.rows_already_loaded} already loaded, {r.rows_revised} revised"
    ]
    if result.same_file_as is not None:
        lines.append(f"the same file as release {result.same_file_as}: nothing added")
    else:
        lines.append(f"release {r.id}")
    return lines


def import_json(result: ImportResult) -> dict[str, object]:
    data: dict[str, object] = {k: getattr(result.release, k) for k in COUNTS}
    data["release"] = None if result.same_file_as else str(result.release.id)
    data["same_file_as"] = str(result.same_file_as) if result.same_file_as else None
    return data


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def group_line(group: ReviewGroup) -> str:
    line = f"  {group.name!r} ({group.state}): {_plural(group.rows, 'row')}: {group.note}"
    if group.suggestions:
        closest = ", ".join(f"{s.label} [{s.score:g}] {s.agency_id}" for s in group.suggestions)
        line += f"; closest: {closest}"
    return line


def review_lines(
    groups: list[ReviewGroup], undated: list[AccountabilityRecord], *, limit: int, kind: str | None
) -> list[str]:
    """The names for review, the most frequent first, and the dates not understood."""
    rows = sum(g.rows for g in groups)
    lines = []
    if groups:
        more = (
            f" (the first {limit}; all: doorstep transparency review)"
            if len(groups) > limit
            else ""
        )
        lines.append(
            f"names for review: {_plural(len(groups), 'name')}, {_plural(rows, 'row')}{more}"
        )
        lines += [group_line(g) for g in groups[:limit]]
        lines.append(
            "  link one: doorstep transparency link-name NAME --state ST --agency AGENCY_ID"
        )
    if undated:
        lines.append(
            f"{_plural(len(undated), 'incident')} with a date not understood (kept, uncounted):"
        )
        lines += [
            f"  {r.kind} line {r.row_number}: {r.agency_name!r} ({r.state_text}): {r.date_text!r}"
            for r in undated[:limit]
        ]
    if not groups and not undated:
        lines.append(f"nothing for review{f' in {kind}' if kind else ''}")
    return lines


def analysis_line(result: AccountabilityAnalysis) -> str:
    share = (
        f"{result.incidents_participating / result.incidents_total:.1%}"
        if result.incidents_total
        else "n/a"
    )
    return (
        f"{result.kind} since {result.period_start}: "
        f"{result.agencies_with_incidents} of {result.participating_agencies} "
        f"participating agencies have at least one incident; they account for "
        f"{result.incidents_participating} of {result.incidents_total} incidents "
        f"({share})"
    )


def analysis_json(result: AccountabilityAnalysis) -> dict[str, object]:
    return {
        "since_years": result.since_years,
        "period_start": result.period_start.isoformat(),
        "period_end": result.period_end.isoformat(),
        "participating_agencies": result.participating_agencies,
        "agencies_with_incidents": result.agencies_with_incidents,
        "incidents_total": result.incidents_total,
        "incidents_participating": result.incidents_participating,
    }


def figures_lines(figures: DatasetFigures) -> list[str]:
    """Per partner, before, during and after its partnership; totals; warnings."""
    lines = [
        f"{figures.kind}: {figures.incidents} incidents from {figures.first_day} to "
        f"{figures.last_day}; {figures.incidents_with_partner} involve a partner, "
        f"{figures.incidents_during_partnership} during its partnership",
        f"  {'agency':<48} {'from':<10} {'until':<10} {'before':>6} {'during':>6} "
        f"{'after':>6} {'total':>6}",
    ]
    for p in sorted(figures.partners, key=lambda p: (-p.total, p.state, p.name)):
        label = f"{p.name} ({p.state})"[:48]
        until = p.partner_until.isoformat() if p.partner_until else "-"
        lines.append(
            f"  {label:<48} {p.partner_from.isoformat():<10} {until:<10} {p.before:>6} "
            f"{p.during:>6} {p.after:>6} {p.total:>6}"
        )
    lines += [f"warning: {w}" for w in figures.warnings]
    return lines


def review_json(groups: list[ReviewGroup], undated: list[AccountabilityRecord]) -> dict[str, Any]:
    """The review as JSON-ready data: the names grouped, with suggestions; the dates."""
    return {
        "names": [
            {"name": g.name, "state": g.state, "rows": g.rows, "note": g.note,
             "suggestions": [{"agency_id": str(s.agency_id), "label": s.label, "score": s.score}
                             for s in g.suggestions]}
            for g in groups
        ],
        "dates": [
            {"kind": r.kind, "line": r.row_number, "id": r.external_id,
             "agencies": r.agency_name, "state": r.state_text, "date": r.date_text}
            for r in undated
        ],
    }  # fmt: skip
