"""JSON routes of the accountability datasets: public to read (datasets, releases,
per-partner figures, a per-agency CSV, an agency's identifiers); an instance admin
reviews the names that match no agency, links a name to an agency, adds or removes an
agency's identifiers and withdraws a release. Every change is audited and public; a
refusal changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from doorstep.accounts.deps import Admin
from doorstep.agencies import identity
from doorstep.agencies import service as agency_service
from doorstep.http import DbSession, ReadSession
from doorstep.inputs import Line, Text
from doorstep.routing import GuardedRoute
from doorstep.transparency import records
from doorstep.transparency.records.published import PublicRelease

router = APIRouter(prefix="/api/v1", tags=["accountability"], route_class=GuardedRoute)


class DatasetRead(BaseModel):
    kind: str
    releases: list[PublicRelease]
    figures: dict[str, Any] | None = Field(
        default=None,
        description="Per partner: incidents before, during and after its partnership, "
        "per year; totals; coverage warnings (distinct incidents of releases in force).",
    )


class IdentifierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    agency_id: uuid.UUID
    scheme: str
    value: str


class IdentifierAdd(BaseModel):
    scheme: Line = Field(description="alias, wapo (the Post's agency id) or ori.")
    value: Line = Field(min_length=1, max_length=200)


class NameLink(BaseModel):
    name: Line = Field(min_length=1, max_length=300, description="As the dataset writes it.")
    state: Line = Field(min_length=1, max_length=60)
    agency_id: uuid.UUID


class Matched(BaseModel):
    rows_matched: int = Field(description="Stored agencies that found their agency at once.")


class Withdrawal(BaseModel):
    reason: Text = Field(min_length=1, max_length=2000, description="Published.")


@router.get("/transparency/datasets", response_model=list[DatasetRead])
def datasets(session: ReadSession) -> list[DatasetRead]:
    """Public: every accountability dataset with its releases (withdrawn ones too)."""
    found = records.published.datasets(session=session)
    return [DatasetRead(kind=kind, releases=rows) for kind, rows in found.items()]


@router.get("/transparency/datasets/{kind}", response_model=DatasetRead)
def dataset(kind: str, session: ReadSession) -> DatasetRead:
    """Public: one dataset's releases and its figures for every partner."""
    releases = records.published.dataset_releases(session=session, kind=kind)
    figures = records.dataset_figures(session=session, kind=kind)
    return DatasetRead(kind=figures.kind, releases=releases, figures=records.figures_json(figures))


@router.get("/transparency/datasets/{kind}/agencies.csv")
def dataset_csv(kind: str, session: ReadSession) -> Response:
    """Public: one line per partner and year, and one per partner for all years."""
    records.published.dataset_releases(session=session, kind=kind)
    figures = records.dataset_figures(session=session, kind=kind)
    return Response(
        records.figures_csv(figures),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{figures.kind}-agencies.csv"'},
    )


@router.get("/transparency/releases", response_model=list[PublicRelease])
def releases(session: ReadSession) -> list[PublicRelease]:
    """Public: every release of every dataset, oldest first."""
    found = records.published.datasets(session=session)
    return [r for rows in found.values() for r in rows]


@router.post("/transparency/releases/{release_id}/withdraw", response_model=PublicRelease)
def withdraw_release(
    release_id: uuid.UUID, body: Withdrawal, admin: Admin, session: DbSession
) -> PublicRelease:
    """Admin: withdraw a release; its incidents leave every figure (audited, public)."""
    row = records.withdraw_release(
        session=session, release_id=release_id, reason=body.reason, actor=admin
    )
    return records.published.public_release(row)


@router.get("/transparency/review")
def review(admin: Admin, session: DbSession, kind: str | None = None) -> dict[str, Any]:
    """Admin: the names that match no agency, grouped by (name, state) with their row
    counts and ranked suggestions; the incidents whose date was not understood."""
    groups = records.review_groups(session=session, kind=kind)
    undated = records.undated_records(session=session, kind=kind)
    return records.text.review_json(groups, undated)


@router.post("/transparency/review/links", response_model=Matched)
def link_name(body: NameLink, admin: Admin, session: DbSession) -> Matched:
    """Admin: the dataset's name in its state is this agency: an alias is added (audited,
    public) and the stored rows are matched again at once."""
    found = records.link_name(
        session=session, actor=admin, name=body.name, state=body.state, agency_id=body.agency_id
    )
    return Matched(rows_matched=found)


@router.get("/agencies/{agency_id}/identifiers", response_model=list[IdentifierRead])
def identifiers(agency_id: uuid.UUID, session: ReadSession) -> list[IdentifierRead]:
    """Public: the agency's aliases and outside codes (Post agency id, ORI)."""
    agency_service.get_agency(session=session, agency_id=agency_id)
    rows = identity.identifiers_of(session=session, agency_id=agency_id)
    return [IdentifierRead.model_validate(r) for r in rows]


@router.post("/agencies/{agency_id}/identifiers", response_model=Matched, status_code=201)
def add_identifier(
    agency_id: uuid.UUID, body: IdentifierAdd, admin: Admin, session: DbSession
) -> Matched:
    """Admin: give the agency an alias or a code (audited, public); stored rows are
    matched again at once."""
    found = records.matching.add_identifier(
        session=session, actor=admin, agency_id=agency_id, scheme=body.scheme, value=body.value
    )
    return Matched(rows_matched=found)


@router.delete("/agencies/{agency_id}/identifiers/{identifier_id}", status_code=204)
def remove_identifier(
    agency_id: uuid.UUID, identifier_id: uuid.UUID, admin: Admin, session: DbSession
) -> Response:
    """Admin: take an identifier off the agency (audited, public); the rows it matched go
    back to the review."""
    records.matching.remove_identifier(
        session=session, actor=admin, agency_id=agency_id, identifier_id=identifier_id
    )
    return Response(status_code=204)
