"""Accountability datasets: external records of incidents (fatal police shootings, use
of force...) attributed to agencies, matched to the agencies here, and the figures a
journalist can publish from them.

- ``names``: normalized agency names, states, dates;
- ``presets``: reading the files as published (generic CSV, the Post's v2 files,
  Fatal Encounters);
- ``matching``: which agency a dataset's agency is; the review and linking of names;
- ``releases``: each import is a release, identified, revised and withdrawn;
- ``analysis``: per-partner figures before, during and after the partnership;
- ``partner``: one agency's figures in every dataset (its public page);
- ``published``: the datasets and releases as the public API and pages show them;
- ``summary``: the stored one-line analysis shown on the agency pages.

Agencies come from the agencies service and the portal's participating agencies; no
other domain's table is read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from doorstep.transparency.records import matching, partner, published, text
from doorstep.transparency.records.analysis import (
    DatasetFigures,
    PartnerFigures,
    dataset_figures,
    figures_csv,
    figures_json,
)
from doorstep.transparency.records.matching import (
    ReviewGroup,
    link_name,
    rematch,
    review_groups,
    undated_records,
)
from doorstep.transparency.records.names import (
    check_kind,
    normalize_name,
    normalize_state,
    parse_day,
)
from doorstep.transparency.records.presets import (
    PRESETS,
    Columns,
    generic_rows,
    incident_rows,
    read_table,
)
from doorstep.transparency.records.releases import (
    ImportResult,
    ReleaseInfo,
    file_sha256,
    import_release,
    list_releases,
    withdraw_release,
)
from doorstep.transparency.records.summary import (
    analyze,
    dataset_kinds,
    latest_analyses,
    years_before,
)

__all__ = [
    "PRESETS",
    "Columns",
    "DatasetFigures",
    "ImportResult",
    "PartnerFigures",
    "ReleaseInfo",
    "ReviewGroup",
    "analyze",
    "check_kind",
    "dataset_figures",
    "dataset_kinds",
    "figures_csv",
    "figures_json",
    "file_sha256",
    "import_records",
    "import_release",
    "incident_rows",
    "latest_analyses",
    "link_name",
    "list_releases",
    "matching",
    "normalize_name",
    "normalize_state",
    "parse_day",
    "partner",
    "published",
    "read_csv",
    "read_table",
    "rematch",
    "review_groups",
    "text",
    "undated_records",
    "withdraw_release",
    "years_before",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    """A UTF-8 CSV's rows (kept for callers of the first version)."""
    return read_table(path)


def import_records(
    *,
    session: Session,
    rows: Iterable[dict[str, str]],
    kind: str,
    columns: Columns,
    source: str,
) -> ImportResult:
    """Load the rows of a generic CSV as one release (see ``import_release``)."""
    return import_release(
        session=session,
        rows=generic_rows(list(rows), columns),
        release=ReleaseInfo(kind=kind, source=source),
    )
