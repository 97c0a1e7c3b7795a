"""The one-line summary of a footage-request alert in an owner's alert list: the agency,
the incident type and the window. The alert's own text stays the fixed notice
(``footage.notice``); this line only stands in for it in a list."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.agencies import service as agency_service
from doorstep.footage.models import FootageRequest

ALERT_TOPIC = "footage_request"
_ANSWER_LINK = re.compile(r"^/requests/([0-9a-fA-F-]{36})/answer$")


def answer_link(request_id: uuid.UUID) -> str:
    """The page a footage-request alert opens: the owner's answer page."""
    return f"/requests/{request_id}/answer"


def describe_window(start: datetime, end: datetime, zone: tzinfo) -> str:
    """A request's window in few words, in the reader's zone: the day once when it does
    not change there."""
    start, end = start.astimezone(zone), end.astimezone(zone)
    if start.date() == end.date():
        return f"{start:%b %d, %H:%M} to {end:%H:%M %Z}"
    return f"{start:%b %d, %H:%M} to {end:%b %d, %H:%M %Z}"


def alert_summaries(*, session: Session, links: Iterable[str], zone: tzinfo) -> dict[str, str]:
    """For each footage-request alert link among ``links``, its summary line ("Agency ·
    incident type · window", the window in ``zone``), in two queries whatever the number
    of alerts. Links of other pages, or of requests that no longer exist, are left out."""
    ids: dict[str, uuid.UUID] = {}
    for link in links:
        match = _ANSWER_LINK.match(link)
        if match:
            ids[link] = uuid.UUID(match.group(1))
    if not ids:
        return {}
    requests = {
        r.id: r
        for r in session.scalars(select(FootageRequest).where(FootageRequest.id.in_(ids.values())))
    }
    agencies = {
        agency_id: agency_service.get_agency(session=session, agency_id=agency_id)
        for agency_id in {r.agency_id for r in requests.values()}
    }
    summaries: dict[str, str] = {}
    for link, request_id in ids.items():
        request = requests.get(request_id)
        if request is None:
            continue
        agency = agencies[request.agency_id]
        incident = request.incident_type.value.replace("_", " ")
        window = describe_window(request.window_start, request.window_end, zone)
        summaries[link] = f"{agency.name} · {incident} · {window}"
    return summaries
