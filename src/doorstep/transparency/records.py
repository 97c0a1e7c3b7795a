"""Accountability datasets: external records of incidents (use of force, misconduct...)
attributed to agencies by name, matched to the agencies here, and the analysis of how
many participating agencies appear in them.

Matching is by normalized name and state only, never fuzzy: a row that matches no
agency, or more than one, is kept for review with the reason, never dropped.
Agencies come from the agencies service and the portal's participating agencies; no
other domain's table is read here.
"""

from __future__ import annotations

import csv
import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.agencies import service as agency_service
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.transparency import public
from doorstep.transparency.models import (
    AccountabilityAnalysis,
    AccountabilityImport,
    AccountabilityRecord,
)

KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Whole-word abbreviations in agency names, after punctuation is gone.
_WORDS = {
    "pd": "police department",
    "dept": "department",
    "dep": "department",
    "dpt": "department",
    "so": "sheriffs office",
    "sheriff": "sheriffs",
    "co": "county",
    "cnty": "county",
    "cty": "county",
    "twp": "township",
    "univ": "university",
    "dps": "department of public safety",
    "mt": "mount",
    "st": "saint",
    "metro": "metropolitan",
    "ft": "fort",
    "&": "and",
}
_TAILS = (
    (" police", " police department"),
    (" sheriffs department", " sheriffs office"),
    (" sheriffs", " sheriffs office"),
)
# Abbreviations written with periods between letters ("P.D.", "S.O.") are joined first.
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")
_APOSTROPHES = re.compile(r"[\u2019'`]")
_OTHER = re.compile(r"[^a-z0-9&]+")
STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip
_CODES = set(STATES.values())
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")


def normalize_name(name: str) -> str:
    """An agency name reduced to the words that identify it: lower case, no punctuation,
    the usual abbreviations spelled out ("PD" = "Police Department", "Dept." =
    "Department", "S.O." = "Sheriff's Office"), a leading "the" dropped."""
    text = name.lower().strip()
    text = _APOSTROPHES.sub("", text)
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = text.replace("&", " & ")
    words = [w for w in _OTHER.sub(" ", text).split() if w]
    expanded = " ".join(_WORDS.get(w, w) for w in words).split()
    if expanded[:1] == ["the"]:
        expanded = expanded[1:]
    name = " ".join(expanded)
    # One agency, several customary names: "X Police" is "X Police Department", and a
    # sheriff's "Department" or plain "Sheriff" is the "Sheriff's Office".
    for tail, canonical in _TAILS:
        if name.endswith(tail):
            return name[: len(name) - len(tail)] + canonical
    return name


def normalize_state(value: str) -> str | None:
    text = " ".join(_OTHER.sub(" ", value.lower()).split())
    if text.upper() in _CODES:
        return text.upper()
    return STATES.get(text)


def parse_day(value: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Columns:
    agency: str
    state: str
    date: str
    id: str | None = None


@dataclass
class ImportResult:
    import_id: uuid.UUID
    rows_read: int = 0
    rows_added: int = 0
    rows_matched: int = 0
    rows_already_loaded: int = 0
    for_review: list[AccountabilityRecord] = field(default_factory=list)


def _agency_index(session: Session) -> dict[tuple[str, str], list[uuid.UUID]]:
    index: dict[tuple[str, str], list[uuid.UUID]] = {}
    for agency in agency_service.list_agencies(session=session):
        index.setdefault((normalize_name(agency.name), agency.state.upper()), []).append(agency.id)
    return index


def _match(record: AccountabilityRecord, index: dict[tuple[str, str], list[uuid.UUID]]) -> None:
    record.agency_id, record.review_note = None, None
    if record.occurred_on is None:
        record.review_note = "date not understood"
        return
    if record.state is None:
        record.review_note = "state not understood"
        return
    found = index.get((normalize_name(record.agency_name), record.state), [])
    if len(found) == 1:
        record.agency_id = found[0]
    elif found:
        record.review_note = "more than one agency has this name in this state"
    else:
        record.review_note = "no agency with this name in this state"


def check_kind(kind: str) -> str:
    kind = kind.strip().lower()
    if not KIND_PATTERN.match(kind):
        raise InvalidInput(
            "A dataset kind is lower-case letters, digits, '-' or '_' (e.g. use-of-force).",
            code="invalid_kind",
        )
    return kind


def _check_columns(row: dict[str, str], columns: Columns) -> None:
    missing = [c for c in (columns.agency, columns.state, columns.date) if c not in row]
    if columns.id:
        missing += [columns.id] if columns.id not in row else []
    if missing:
        raise InvalidInput(
            f"The file has no column {missing[0]!r}.", code="missing_column", column=missing[0]
        )


def _read_row(
    row: dict[str, str], number: int, columns: Columns, *, kind: str, import_id: uuid.UUID
) -> AccountabilityRecord:
    """One dataset row as a record (not matched yet), identified by the dataset's id, or
    by its content and line number without one."""
    _check_columns(row, columns)
    name = (row[columns.agency] or "").strip()
    state_text = (row[columns.state] or "").strip()
    day_text = (row[columns.date] or "").strip()
    external_id = (row[columns.id] or "").strip() if columns.id else None
    if external_id:
        fingerprint = hashlib.sha256(f"id\0{external_id}".encode()).hexdigest()
    else:
        fingerprint = hashlib.sha256(
            f"row\0{name}\0{state_text}\0{day_text}\0{number}".encode()
        ).hexdigest()
    return AccountabilityRecord(
        import_id=import_id,
        kind=kind,
        external_id=external_id or None,
        fingerprint=fingerprint,
        row_number=number,
        agency_name=name[:300],
        state_text=state_text[:60],
        state=normalize_state(state_text),
        occurred_on=parse_day(day_text),
    )


def _record_public(
    session: Session,
    *,
    action: audit.AuditAction,
    subject_type: str,
    subject_id: uuid.UUID,
    details: dict[str, Any],
) -> None:
    """Audit a dataset load or analysis: public, by the command line."""
    audit.record(
        session=session,
        actor=audit.Actor.system("cli"),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        is_public=True,
        details=details,
    )


def import_records(
    *,
    session: Session,
    rows: Iterable[dict[str, str]],
    kind: str,
    columns: Columns,
    source: str,
) -> ImportResult:
    """Load dataset rows; each is stored, matched to an agency or kept for review.

    Guarantees: loading the same rows again adds nothing (rows are identified by the
    dataset's id column, or by their content without one); the load is audited
    (public) with its counts.
    """
    kind = check_kind(kind)
    batch = AccountabilityImport(kind=kind, source=source[:300])
    session.add(batch)
    session.flush()
    result = ImportResult(import_id=batch.id)
    index = _agency_index(session)
    seen = set(
        session.scalars(
            select(AccountabilityRecord.fingerprint).where(AccountabilityRecord.kind == kind)
        )
    )
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        result.rows_read += 1
        record = _read_row(row, number, columns, kind=kind, import_id=batch.id)
        if record.fingerprint in seen:
            result.rows_already_loaded += 1
            continue
        seen.add(record.fingerprint)
        _match(record, index)
        session.add(record)
        result.rows_added += 1
        if record.agency_id is not None:
            result.rows_matched += 1
        else:
            result.for_review.append(record)
    batch.rows_read, batch.rows_added = result.rows_read, result.rows_added
    batch.rows_matched, batch.rows_for_review = result.rows_matched, len(result.for_review)
    batch.rows_already_loaded = result.rows_already_loaded
    _record_public(
        session,
        action=audit.AuditAction.ACCOUNTABILITY_IMPORTED,
        subject_type="accountability_import",
        subject_id=batch.id,
        details={
            "kind": kind,
            "source": Path(source).name,
            "rows_read": result.rows_read,
            "rows_added": result.rows_added,
            "rows_matched": result.rows_matched,
            "rows_for_review": len(result.for_review),
        },
    )
    session.flush()
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [dict(row) for row in csv.DictReader(fh)]


def rows_for_review(*, session: Session, kind: str | None = None) -> list[AccountabilityRecord]:
    stmt = (
        select(AccountabilityRecord)
        .where(AccountabilityRecord.agency_id.is_(None))
        .order_by(AccountabilityRecord.kind, AccountabilityRecord.id)
    )
    if kind:
        stmt = stmt.where(AccountabilityRecord.kind == check_kind(kind))
    return list(session.scalars(stmt))


def rematch(*, session: Session, kind: str) -> int:
    """Match again the rows kept for review (agencies may have joined since); returns
    how many found their agency."""
    index = _agency_index(session)
    found = 0
    for record in rows_for_review(session=session, kind=kind):
        _match(record, index)
        found += record.agency_id is not None
    session.flush()
    return found


def latest_analyses(*, session: Session) -> dict[str, AccountabilityAnalysis]:
    """The newest analysis of each dataset kind, by kind."""
    latest: dict[str, AccountabilityAnalysis] = {}
    for row in session.scalars(
        select(AccountabilityAnalysis).order_by(AccountabilityAnalysis.computed_at.desc())
    ):
        latest.setdefault(row.kind, row)
    return latest


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def analyze(
    *, session: Session, kind: str, since_years: int, today: date | None = None
) -> AccountabilityAnalysis:
    """For the agencies that ever took part: how many have at least one incident since
    ``since_years`` ago, and what share of all the dataset's incidents in that period
    (matched or not) they account for. Stored; the agency pages show the latest."""
    kind = check_kind(kind)
    if since_years < 1:
        raise InvalidInput("--since is a number of years, at least 1.", code="invalid_since")
    today = today or utcnow().date()
    start = years_before(today, since_years)
    rematch(session=session, kind=kind)
    participating = {a.id for a in public.participating_agencies(session=session)}
    per_agency = {str(a): 0 for a in participating}
    total = 0
    for agency_id in session.scalars(
        select(AccountabilityRecord.agency_id).where(
            AccountabilityRecord.kind == kind,
            AccountabilityRecord.occurred_on >= start,
            AccountabilityRecord.occurred_on <= today,
        )
    ):
        total += 1
        if agency_id is not None and agency_id in participating:
            per_agency[str(agency_id)] += 1
    analysis = AccountabilityAnalysis(
        id=uuid.uuid4(),
        kind=kind,
        since_years=since_years,
        period_start=start,
        period_end=today,
        participating_agencies=len(participating),
        agencies_with_incidents=sum(1 for n in per_agency.values() if n > 0),
        incidents_total=total,
        incidents_participating=sum(per_agency.values()),
        per_agency=per_agency,
    )
    session.add(analysis)
    _record_public(
        session,
        action=audit.AuditAction.ACCOUNTABILITY_ANALYZED,
        subject_type="accountability_analysis",
        subject_id=analysis.id,
        details={
            "kind": kind,
            "since_years": since_years,
            "participating_agencies": analysis.participating_agencies,
            "agencies_with_incidents": analysis.agencies_with_incidents,
            "incidents_total": total,
            "incidents_participating": analysis.incidents_participating,
        },
    )
    session.flush()
    return analysis
