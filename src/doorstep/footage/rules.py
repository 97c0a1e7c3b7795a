"""The rules a footage request is checked against, when drafted and again when submitted:
the policy's limits (window, look-back, area, jurisdiction, case number, purposes, caps)
as a list of small named rule functions, and the checks of its words (race-only
descriptions, a victim's personal data, pressure on residents). Each refusal names
the rule."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.agencies.models import Agency
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.footage.area import Area
from doorstep.footage.models import FootageRequest, IncidentType, RequestStatus
from doorstep.footage.policy import PolicySettings, PolicyViolation

MAX_MESSAGE_CHARS = 1000

_RACE = re.compile(
    r"\b(black|white|hispanic|latino|latina|latinx|asian|african[- ]american|arab|"
    r"middle[- ]eastern|native american|indian|mexican|caucasian|brown[- ]skinned|"
    r"dark[- ]skinned|light[- ]skinned)\b",
    re.I,
)
_DESCRIPTORS = re.compile(
    r"\b(shirt|t-shirt|hoodie|hood|jacket|coat|pants|jeans|shorts|dress|skirt|hat|cap|beanie|"
    r"mask|gloves|backpack|bag|shoes|sneakers|boots|hair|bald|beard|mustache|braids|"
    r"dreadlocks|ponytail|tall|short|slim|thin|heavy|stocky|build|height|tattoo|scar|"
    r"glasses|limp|bicycle|bike|car|vehicle|truck|van|carrying|wearing)\b",
    re.I,
)
_PERSON = re.compile(
    r"\b(man|men|woman|women|male|female|person|people|suspect|individual|"
    r"guy|teen|teenager|kid|youth|boy|girl)s?\b",
    re.I,
)

_PERSONAL_DATA = [
    (
        "a phone number",
        re.compile(r"(?<!\d)(\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)"),
    ),
    ("an email address", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")),
    ("a social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("a date of birth", re.compile(r"\b(dob|date of birth|born on)\b", re.I)),
    (
        "a street address",
        re.compile(
            r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s){1,3}(street|st|avenue|ave|road|rd|lane|ln|drive|dr|"
            r"court|ct|boulevard|blvd|way|place|pl)\b",
            re.I,
        ),
    ),
]
_VICTIM = re.compile(r"\b(victim|victim's|complainant|survivor)\b", re.I)

_PRESSURE = re.compile(
    r"\b(you must|you are required|required to share|must share|obligated|obligation|"
    r"mandatory|failure to (share|comply|provide)|legally required|subpoena|warrant will|"
    r"we will (come|visit|follow up)|non-?compliance|consequences?|penalt(y|ies)|"
    r"comply|compulsory)\b",
    re.I,
)

_PURPOSE_WORDS = {
    "first_amendment_activity": re.compile(
        r"\b(protest|protesters|demonstration|demonstrators|rally|march(ers)?|picket|"
        r"vigil|sit-in|activists?|organizers?|petition)\b",
        re.I,
    ),
    "immigration_enforcement": re.compile(
        r"\b(immigration|immigrants?|undocumented|illegal aliens?|deportation|ICE|visa status|"
        r"border patrol)\b"
    ),
    "general_announcement": re.compile(
        r"\b(announcement|newsletter|reminder to all|community update|public service "
        r"announcement|psa)\b",
        re.I,
    ),
}


def check_message(message: str) -> None:
    """Refuse a message that is too long, describes a person by race alone, carries
    personal data (which would usually be the victim's), or pressures residents."""
    text = message.strip()
    if not text:
        raise InvalidInput("Write a message that says what happened.", code="message_required")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"The message has {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}.",
            code="message_too_long",
            limit=MAX_MESSAGE_CHARS,
        )
    if _RACE.search(text) and _PERSON.search(text) and not _DESCRIPTORS.search(text):
        raise InvalidInput(
            "The message describes a person by race or ethnicity alone. Describe what "
            "happened and, if needed, clothing, build or other features.",
            code="race_only_description",
        )
    for label, pattern in _PERSONAL_DATA:
        if pattern.search(text):
            raise InvalidInput(
                f"The message contains {label}. Leave out personal data (a victim's above "
                "all); put the investigator's contact in its own field.",
                code="victim_personal_data",
                found=label,
            )
    if _VICTIM.search(text) and re.search(r"\b(name is|named|lives at|resides)\b", text, re.I):
        raise InvalidInput(
            "The message identifies the victim. Leave out who the victim is.",
            code="victim_personal_data",
            found="the victim's identity",
        )
    if _PRESSURE.search(text):
        raise InvalidInput(
            "The message pressures residents. Sharing is voluntary and the notice says so; "
            "remove words of obligation or consequence.",
            code="pressure_language",
        )


def refused_purpose(*, incident_type: str, message: str, refused: list[str]) -> str | None:
    """The refused purpose a request falls under, if any (by its type, or by its words)."""
    if incident_type in refused:
        return incident_type
    for purpose, pattern in _PURPOSE_WORDS.items():
        if purpose in refused and pattern.search(message):
            return purpose
    return None


# ---------------------------------------------------------------- the policy's rules

# Statuses that count against the per-case limit and the monthly cap.
COUNTED = (
    RequestStatus.pending_approval,
    RequestStatus.pending_review,
    RequestStatus.active,
    RequestStatus.closed,
)


@dataclass(frozen=True)
class Proposal:
    """A request as drafted or submitted, with what its rules are checked against."""

    session: Session
    policy: PolicySettings
    agency: Agency
    area: Area
    window_start: datetime
    window_end: datetime
    case_number: str | None
    incident_type: IncidentType
    message: str
    # The request itself when it is submitted: it does not count against its own limits.
    exclude_request: uuid.UUID | None
    now: datetime = field(default_factory=utcnow)

    @cached_property
    def area_sq_mi(self) -> float:
        return geo.area_m2(self.area.geometry) / geo.SQ_M_PER_SQ_MILE

    @property
    def window_minutes(self) -> float:
        return (self.window_end - self.window_start).total_seconds() / 60


def window_has_time_zone(p: Proposal) -> None:
    if p.window_start.tzinfo is None or p.window_end.tzinfo is None:
        raise InvalidInput("Times need a time zone.", code="naive_time")


def window_is_ordered(p: Proposal) -> None:
    if p.window_end <= p.window_start:
        raise InvalidInput("The window ends before it starts.", code="invalid_window")


def window_is_past(p: Proposal) -> None:
    if p.window_end > p.now:
        raise PolicyViolation(
            "The window ends in the future; footage cannot be asked for before it exists.",
            code="window_in_future",
        )


def window_is_long_enough(p: Proposal) -> None:
    if p.window_minutes < p.policy.min_window_minutes:
        raise PolicyViolation(
            f"The window is {p.window_minutes:.0f} minutes; the policy's minimum is "
            f"{p.policy.min_window_minutes} minutes.",
            code="window_too_short",
            limit=p.policy.min_window_minutes,
        )


def window_is_short_enough(p: Proposal) -> None:
    if p.window_minutes > p.policy.max_window_hours * 60:
        raise PolicyViolation(
            f"The window is {p.window_minutes / 60:.1f} hours; the policy's maximum is "
            f"{p.policy.max_window_hours:g} hours.",
            code="window_too_long",
            limit=p.policy.max_window_hours,
        )


def window_within_lookback(p: Proposal) -> None:
    if p.window_start < p.now - timedelta(days=p.policy.max_lookback_days):
        raise PolicyViolation(
            f"The window starts more than {p.policy.max_lookback_days} days ago, "
            "the policy's maximum look-back.",
            code="lookback_too_far",
            limit=p.policy.max_lookback_days,
        )


def area_is_large_enough(p: Proposal) -> None:
    if p.area_sq_mi < p.policy.min_area_sq_mi:
        raise PolicyViolation(
            f"The area is {p.area_sq_mi:.3f} square miles; the policy's minimum "
            f"is {p.policy.min_area_sq_mi:g}.",
            code="area_too_small",
            limit=p.policy.min_area_sq_mi,
        )


def area_is_small_enough(p: Proposal) -> None:
    if p.area_sq_mi > p.policy.max_area_sq_mi:
        raise PolicyViolation(
            f"The area is {p.area_sq_mi:.3f} square miles; the policy's maximum "
            f"is {p.policy.max_area_sq_mi:g}.",
            code="area_too_large",
            limit=p.policy.max_area_sq_mi,
        )


def area_within_jurisdiction(p: Proposal) -> None:
    jurisdiction = geo.parse_area(p.agency.jurisdiction)
    if not jurisdiction.buffer(1e-9).covers(p.area.geometry):
        raise PolicyViolation(
            "The area reaches outside the agency's jurisdiction.", code="outside_jurisdiction"
        )


def case_number_given(p: Proposal) -> None:
    if p.policy.case_number_required and not (p.case_number and p.case_number.strip()):
        raise PolicyViolation("The policy requires a case number.", code="case_number_required")


def purpose_not_refused(p: Proposal) -> None:
    purpose = refused_purpose(
        incident_type=p.incident_type.value, message=p.message, refused=p.policy.refused_purposes
    )
    if purpose is not None:
        raise PolicyViolation(
            f"The policy refuses requests for {purpose.replace('_', ' ')}.",
            code="refused_purpose",
            purpose=purpose,
        )


def message_is_fair(p: Proposal) -> None:
    check_message(p.message)


def _counted(p: Proposal) -> Select[int]:
    """The agency's requests that count against its limits (this one left out)."""
    stmt = (
        select(func.count())
        .select_from(FootageRequest)
        .where(FootageRequest.agency_id == p.agency.id, FootageRequest.status.in_(COUNTED))
    )
    if p.exclude_request is not None:
        stmt = stmt.where(FootageRequest.id != p.exclude_request)
    return stmt


def case_below_limit(p: Proposal) -> None:
    if not (p.case_number and p.case_number.strip()):
        return
    same_case = _counted(p).where(FootageRequest.case_number == p.case_number.strip())
    if (p.session.scalar(same_case) or 0) >= p.policy.per_case_limit:
        raise PolicyViolation(
            f"Case {p.case_number} already has {p.policy.per_case_limit} "
            "requests, the policy's limit per case.",
            code="per_case_limit",
            limit=p.policy.per_case_limit,
        )


def month_below_cap(p: Proposal) -> None:
    month_start = p.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = (
        p.session.scalar(_counted(p).where(FootageRequest.submitted_at >= month_start)) or 0
    )
    if this_month >= p.policy.monthly_cap:
        raise PolicyViolation(
            f"The agency has sent {this_month} requests this month, the "
            f"policy's monthly cap of {p.policy.monthly_cap}.",
            code="monthly_cap",
            limit=p.policy.monthly_cap,
        )


# In this order: the first rule a request breaks is the one its refusal names.
POLICY_RULES: list[Callable[[Proposal], None]] = [
    window_has_time_zone,
    window_is_ordered,
    window_is_past,
    window_is_long_enough,
    window_is_short_enough,
    window_within_lookback,
    area_is_large_enough,
    area_is_small_enough,
    area_within_jurisdiction,
    case_number_given,
    purpose_not_refused,
    message_is_fair,
    case_below_limit,
    month_below_cap,
]


def check_request(proposal: Proposal) -> None:
    """Run every rule in order; raises the first refusal (InvalidInput or PolicyViolation)."""
    for rule in POLICY_RULES:
        rule(proposal)
