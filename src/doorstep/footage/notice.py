"""The one notice template every footage request uses. Agencies cannot edit or remove it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from doorstep import timezones
from doorstep.agencies.models import Agency
from doorstep.footage.models import FootageRequest

VOLUNTARY = "Sharing is voluntary."
NO_CONSEQUENCE = (
    "Declining, or not answering, has no consequence: the agency is never told who declined "
    "or who did not answer."
)
WHAT_AGENCY_RECEIVES = (
    "If you share, the agency receives only a copy of each clip you choose, with faces, "
    "text such as licence plates, and your privacy zones hidden unless you choose otherwise, "
    "its time and kind, and a SHA-256 fingerprint of it; it sees your name and contact only "
    'if you choose to show them, otherwise you appear as "Neighbor N". It never learns where '
    "your camera is or that you were asked."
)


@dataclass(frozen=True)
class Notice:
    """The notice as text (``body``: email, push, the feed's post) and as the structured
    facts a page shows under the voluntary statement, which always comes first."""

    title: str
    body: str
    facts: tuple[tuple[str, str], ...] = ()
    voluntary: tuple[str, ...] = (VOLUNTARY, NO_CONSEQUENCE)


def _label(value: str) -> str:
    return value.replace("_", " ")


def window_text(request: FootageRequest, zone: tzinfo = UTC) -> str:
    """The request's window in ``zone``, the zone named."""
    start = timezones.shown(request.window_start, zone, "%Y-%m-%d %H:%M")
    same_day = (
        request.window_start.astimezone(zone).date() == request.window_end.astimezone(zone).date()
    )
    end = timezones.shown(request.window_end, zone, "%H:%M %Z" if same_day else "%Y-%m-%d %H:%M %Z")
    return f"{start} to {end}"


def _facts(request: FootageRequest, agency: Agency, zone: tzinfo) -> tuple[tuple[str, str], ...]:
    """Who asks, why, where, when, in the officer's words, and what the agency receives."""
    window = window_text(request, zone)
    case = f"case {request.case_number}" if request.case_number else "no case number"
    return (
        ("Who asks", f"{agency.name} ({agency.city}, {agency.state})"),
        ("Why", f"A {_label(request.incident_type.value)} ({case})"),
        ("Where", "An area near you, shown on the map of the request"),
        ("When", window),
        ("The officer's message", f'"{request.message}"'),
        ("What the agency receives", WHAT_AGENCY_RECEIVES),
    )


def render_notice(
    *,
    request: FootageRequest,
    agency: Agency,
    reminder: bool = False,
    for_feed: bool = False,
    zone: tzinfo = UTC,
) -> Notice:
    """The fixed notice: the voluntary statement first, then who asks, why, where, when
    (in ``zone``, named), the officer's words and what the agency receives, then how to
    answer.

    ``for_feed`` renders the neighborhood feed's post of the request: the same notice,
    told to neighbors instead of to an owner who was asked."""
    if for_feed:
        title = f"{agency.name} asks for footage: {_label(request.incident_type.value)}"
        answer = (
            "Camera owners in the area were asked directly and can answer on their request page"
        )
    else:
        prefix = "Reminder: " if reminder else ""
        title = f"{prefix}{agency.name} asks for footage ({_label(request.incident_type.value)})"
        answer = "Open the request to see your own clips from that window and answer"
    facts = _facts(request, agency, zone)
    body = "\n".join(
        [
            f"{VOLUNTARY} {NO_CONSEQUENCE}",
            "",
            *(f"{label}: {value}" for label, value in facts),
            "",
            f"{answer}: share some, decline, mute this agency, or stop all requests.",
        ]
    )
    return Notice(title=title, body=body, facts=facts)
