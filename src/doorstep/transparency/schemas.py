"""What the public portal returns: every field here is public record.

No exact position, no owner and no camera appear in any of these models: areas are
coarse H3 cells, cameras only a count, owners only totals.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from doorstep.agencies.models import AgencyStatus, AgencyType
from doorstep.footage.models import IncidentType, RequestStatus
from doorstep.inputs import Line, Text


class PublicBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PublicAgency(PublicBase):
    id: uuid.UUID
    name: str
    agency_type: AgencyType
    city: str
    state: str
    status: AgencyStatus
    started_at: datetime | None = Field(description="First verification: start of participation.")
    suspended_at: datetime | None
    ended_at: datetime | None
    status_reason: str | None
    website: str


class MonthCount(PublicBase):
    month: str = Field(description="YYYY-MM")
    count: int


class PublicRequest(PublicBase):
    id: uuid.UUID
    agency_id: uuid.UUID
    agency_name: str
    case_number: str | None
    incident_type: IncidentType
    window_start: datetime
    window_end: datetime
    submitted_at: datetime | None
    activated_at: datetime
    closed_at: datetime | None
    status: RequestStatus
    close_reason: str | None
    asked: int
    shared: int
    declined: int
    no_answer: int
    unredacted_clips: int = Field(
        description="Clips sent to the agency unredacted, each by its owner's explicit choice."
    )
    cells: list[str] = Field(description="H3 cells covering the area, at the public resolution.")
    cell_resolution: int


class RequestLogPage(PublicBase):
    total: int
    offset: int
    limit: int
    sort: str
    order: str
    requests: list[PublicRequest]


class StatementRead(PublicBase):
    acceptable_use: str
    prohibited_uses: list[str]
    refused_by_policy: list[str]
    updated_at: datetime | None


class StatementUpdate(PublicBase):
    acceptable_use: Text = Field(max_length=20_000)
    # Each prohibited use is one item of a list: one line.
    prohibited_uses: list[Line] = Field(default_factory=list, max_length=100)
    reason: Text = Field(min_length=1, max_length=2000)


class AccountabilityFigure(PublicBase):
    kind: str
    since_years: int
    period_start: date
    period_end: date
    incidents: int = Field(description="This agency's incidents in the period.")
    share_of_dataset: float | None = Field(description="Its share of all incidents in the period.")
    participating_agencies: int
    agencies_with_incidents: int
    incidents_total: int
    incidents_participating: int
    computed_at: datetime


class AgencyIdentifierRead(PublicBase):
    id: uuid.UUID
    scheme: str = Field(description="alias, wapo (the Post's agency id) or ori.")
    value: str


class AgencyDatasetFigure(PublicBase):
    """The agency's row of one dataset's table: distinct incidents of the releases in
    force, before, during and after its partnership."""

    kind: str
    partner_from: date
    partner_until: date | None
    before: int
    during: int
    after: int
    total: int
    per_year: dict[int, dict[str, int]]


class AgencyFigures(PublicBase):
    agency: PublicAgency
    requests_total: int
    requests_last_30_days: int
    asked: int
    shared: int
    declined: int
    share_rate: float | None = Field(description="Owners who shared / owners asked.")
    clips_shared: int
    evidence_views: int
    evidence_exports: int = Field(description="Clips exported (one per clip per export).")
    official_posts: int
    monthly_requests: list[MonthCount]
    policy_overrides: dict[str, Any]
    evidence_retention_days: int
    participating_cameras: int = Field(
        description="Cameras accepting requests whose coarse cell lies in the jurisdiction."
    )
    statement: StatementRead
    accountability: list[AccountabilityFigure]
    identifiers: list[AgencyIdentifierRead] = Field(
        description="The names and codes outside datasets know the agency by."
    )
    datasets: list[AgencyDatasetFigure] = Field(
        description="Its incidents in each accountability dataset, by partnership period."
    )


class ChainHeadRead(PublicBase):
    seq: int
    hash: str
    at: datetime | None


class DailyHeadRead(PublicBase):
    day: date
    seq: int
    head_hash: str
    published_at: datetime
