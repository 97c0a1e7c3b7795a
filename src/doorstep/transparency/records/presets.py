"""Reading accountability datasets as they are published: a generic CSV with named
columns, The Washington Post's fatal police shootings (v2: an incidents file whose
``agency_ids`` point into an agencies file), Fatal Encounters (agency names joined in
one cell). Each gives incident rows, each naming one or more agencies.

A file that cannot be read gives one ``InvalidInput`` naming the problem and the fix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from doorstep.errors import InvalidInput

PRESETS = ("csv", "wapo-v2", "fatal-encounters")
# The columns read from the Post's v2 files.
INCIDENT_COLUMNS = ("id", "date", "state", "agency_ids")
AGENCY_COLUMNS = ("id", "name", "state", "oricodes")


@dataclass(frozen=True)
class AgencyRef:
    """An agency as a dataset row names it; ``source_id`` is the dataset's agency id
    prefixed by its scheme ("wapo:298"), ``ori_codes`` its ORI codes ("A;B")."""

    name: str
    state_text: str
    source_id: str | None = None
    ori_codes: str | None = None


@dataclass(frozen=True)
class IncidentRow:
    number: int  # the line in the file (1 is the header)
    external_id: str | None
    date_text: str
    state_text: str
    agencies: tuple[AgencyRef, ...]


class Columns(NamedTuple):
    """The generic CSV's columns: the agency's name, the state, the date, the dataset's
    own id (optional), and the separator of several agencies named in one cell ("A; B";
    None: one agency per row)."""

    agency: str
    state: str
    date: str
    id: str | None = None
    separator: str | None = None


def read_table(path: Path, *, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    """The file's rows as dicts; an undecodable file is one clear error."""
    try:
        with path.open(newline="", encoding=encoding) as fh:
            return [dict(row) for row in csv.DictReader(fh)]
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not {encoding} text (byte {exc.start} cannot be read); "
            "give its encoding with --encoding, e.g. --encoding cp1252.",
            code="bad_encoding",
        ) from exc
    except LookupError as exc:
        raise InvalidInput(
            f"Unknown encoding {encoding!r}; use e.g. --encoding utf-8 or cp1252.",
            code="bad_encoding",
        ) from exc


def require_columns(rows: Sequence[dict[str, str]], needed: dict[str, str], *, what: str) -> None:
    """Every ``needed`` column (name -> the option that names it) is in the file."""
    if not rows:
        return
    present = rows[0].keys()
    for column, option in needed.items():
        if column not in present:
            raise InvalidInput(
                f"{what} has no column {column!r} (it has: {', '.join(present)}); {option}.",
                code="missing_column",
                column=column,
            )


def _cell(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _split(text: str, separator: str | None) -> list[str]:
    if separator is None:
        return [text]
    return [part.strip() for part in text.split(separator) if part.strip()] or [""]


def generic_rows(rows: Sequence[dict[str, str]], columns: Columns) -> Iterator[IncidentRow]:
    """Rows of a CSV whose columns are named by the options."""
    needed = {
        columns.agency: "name it with --agency-col",
        columns.state: "name it with --state-col",
        columns.date: "name it with --date-col",
    }
    if columns.id:
        needed[columns.id] = "name it with --id-col"
    require_columns(rows, needed, what="The file")
    for number, row in enumerate(rows, start=2):
        state = _cell(row, columns.state)
        names = _split(_cell(row, columns.agency), columns.separator)
        yield IncidentRow(
            number=number,
            external_id=_cell(row, columns.id) or None if columns.id else None,
            date_text=_cell(row, columns.date),
            state_text=state,
            agencies=tuple(AgencyRef(name=n, state_text=state) for n in names),
        )


def _post_agencies(rows: Sequence[dict[str, str]]) -> dict[str, AgencyRef]:
    fix = "give the Post's fatal-police-shootings-agencies.csv with --agencies"
    require_columns(rows, dict.fromkeys(AGENCY_COLUMNS, fix), what="The agencies file")
    return {
        _cell(r, "id"): AgencyRef(
            name=_cell(r, "name"),
            state_text=_cell(r, "state"),
            source_id=f"wapo:{_cell(r, 'id')}",
            ori_codes=_cell(r, "oricodes") or None,
        )
        for r in rows
    }


def wapo_rows(
    rows: Sequence[dict[str, str]], agency_rows: Sequence[dict[str, str]]
) -> Iterator[IncidentRow]:
    """The Post's v2 incidents joined with its agencies file: each id in ``agency_ids``
    ("298;1234") becomes the agency's name, state and ORI codes. An id missing from the
    agencies file is kept, named by its id, for review."""
    fix = "is it the Post's v2 fatal-police-shootings-data.csv (--preset wapo-v2)?"
    require_columns(rows, dict.fromkeys(INCIDENT_COLUMNS, fix), what="The incidents file")
    agencies = _post_agencies(agency_rows)
    for number, row in enumerate(rows, start=2):
        state = _cell(row, "state")
        refs = tuple(
            agencies.get(ref)
            or AgencyRef(name=f"Post agency id {ref}" if ref else "", state_text=state,
                         source_id=f"wapo:{ref}" if ref else None)
            for ref in _split(_cell(row, "agency_ids"), ";")
        )  # fmt: skip
        yield IncidentRow(
            number=number,
            external_id=_cell(row, "id") or None,
            date_text=_cell(row, "date"),
            state_text=state,
            agencies=refs,
        )


FATAL_ENCOUNTERS = Columns(
    agency="Agency or agencies involved",
    state="State",
    date="Date of injury resulting in death (month/day/year)",
    id="Unique ID",
    separator=",",
)


def fatal_encounters_rows(rows: Sequence[dict[str, str]]) -> Iterator[IncidentRow]:
    """Fatal Encounters' spreadsheet: the agencies of an incident in one cell, joined
    by commas."""
    return generic_rows(rows, FATAL_ENCOUNTERS)


def incident_rows(
    *,
    preset: str,
    path: Path,
    columns: Columns | None = None,
    agencies_path: Path | None = None,
    encoding: str = "utf-8-sig",
) -> list[IncidentRow]:
    """The file's incidents, read the way ``preset`` says."""
    if preset not in PRESETS:
        raise InvalidInput(
            f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.", code="invalid_preset"
        )
    rows = read_table(path, encoding=encoding)
    if preset == "wapo-v2":
        if agencies_path is None:
            raise InvalidInput(
                "--preset wapo-v2 needs the Post's agencies file: "
                "--agencies fatal-police-shootings-agencies.csv.",
                code="agencies_file_required",
            )
        return list(wapo_rows(rows, read_table(agencies_path, encoding=encoding)))
    if preset == "fatal-encounters":
        return list(fatal_encounters_rows(rows))
    return list(generic_rows(rows, columns or Columns("agency", "state", "date")))
