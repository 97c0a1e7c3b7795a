"""One agency's figures in every dataset, for its public page: incidents before,
during and after its partnership, per year, counted as ``analysis`` counts them
(distinct incidents of releases in force, dated), from its own incidents only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.agencies.models import Agency
from doorstep.transparency.models import ATTRIBUTIONS, IMPORTS, RECORDS
from doorstep.transparency.records.analysis import PartnerFigures, count_incident, partner_row


@dataclass(frozen=True)
class DatasetRow:
    """The agency's row of one dataset's table."""

    kind: str
    figures: PartnerFigures


def agency_dataset_rows(*, session: Session, agency: Agency) -> list[DatasetRow]:
    """The agency's figures in every dataset that names it (matched), by kind. An agency
    that never took part has none: its incidents are nobody's partnership figures."""
    if agency.verified_at is None:
        return []
    stmt = (
        select(RECORDS.c.kind, RECORDS.c.id, RECORDS.c.occurred_on)
        .distinct()
        .join(IMPORTS, IMPORTS.c.id == RECORDS.c.import_id)
        .join(ATTRIBUTIONS, ATTRIBUTIONS.c.record_id == RECORDS.c.id)
        .where(
            ATTRIBUTIONS.c.agency_id == agency.id,
            IMPORTS.c.withdrawn_at.is_(None),
            RECORDS.c.occurred_on.is_not(None),
        )
    )
    session.flush()
    rows: dict[str, PartnerFigures] = {}
    for kind, _record_id, day in session.connection().execute(stmt):
        row = rows.setdefault(kind, partner_row(agency))
        count_incident(row, day, agency)
    return [DatasetRow(kind, rows[kind]) for kind in sorted(rows)]
