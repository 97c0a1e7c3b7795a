"""What the public API and pages show of the accountability datasets: each dataset
(a kind) with its releases, withdrawn ones included (a withdrawal is public)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from doorstep.errors import NotFound
from doorstep.transparency.models import AccountabilityImport
from doorstep.transparency.records.names import check_kind
from doorstep.transparency.records.releases import list_releases


class PublicRelease(BaseModel):
    """A release as published (the JSON API's model too)."""

    id: uuid.UUID
    kind: str
    source: str = Field(description="The file's name as imported.")
    source_url: str | None
    released_on: date | None
    imported_at: datetime
    sha256: str | None
    rows_read: int
    rows_added: int
    rows_revised: int
    rows_already_loaded: int
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


def public_release(row: AccountabilityImport) -> PublicRelease:
    return PublicRelease(
        id=row.id, kind=row.kind, source=row.source.rsplit("/", 1)[-1],
        source_url=row.source_url, released_on=row.released_on, imported_at=row.imported_at,
        sha256=row.sha256, rows_read=row.rows_read, rows_added=row.rows_added,
        rows_revised=row.rows_revised or 0, rows_already_loaded=row.rows_already_loaded,
        withdrawn_at=row.withdrawn_at, withdrawn_reason=row.withdrawn_reason,
    )  # fmt: skip


def datasets(*, session: Session) -> dict[str, list[PublicRelease]]:
    """Every dataset kind imported, with its releases oldest first."""
    found: dict[str, list[PublicRelease]] = {}
    for row in list_releases(session=session):
        found.setdefault(row.kind, []).append(public_release(row))
    return dict(sorted(found.items()))


def dataset_releases(*, session: Session, kind: str) -> list[PublicRelease]:
    """The releases of one dataset; a kind never imported is not found."""
    rows = list_releases(session=session, kind=check_kind(kind))
    if not rows:
        raise NotFound("No dataset of this kind was imported.", code="dataset_not_found")
    return [public_release(r) for r in rows]
