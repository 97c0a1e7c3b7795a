"""The one notice template every footage request uses. Agencies cannot edit or remove it."""

from __future__ import annotations

from dataclasses import dataclass

from doorstep.agencies.models import Agency
from doorstep.footage.models import FootageRequest

VOLUNTARY = "Sharing is voluntary."
NO_CONSEQUENCE = (
    "Declining, or not answering, has no consequence: the agency is never told who declined "
    "or who did not answer."
)
WHAT_AGENCY_RECEIVES = (
    "If you share, the agency receives only the clips you choose, with their time and kind, "
    "and a SHA-256 fingerprint of each; it sees your name and contact only if you choose "
    'to show them, otherwise you appear as "Neighbor N". It never learns where your '
    "camera is or that you were asked."
)


@dataclass(frozen=True)
class Notice:
    title: str
    body: str


def _label(value: str) -> str:
    return value.replace("_", " ")


def render_notice(
    *, request: FootageRequest, agency: Agency, reminder: bool = False, for_feed: bool = False
) -> Notice:
    """The fixed notice: who asks, why, where, when, the officer's words, and always the
    three sentences about voluntariness, consequences and what the agency receives.

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
    window = f"{request.window_start:%Y-%m-%d %H:%M} to {request.window_end:%Y-%m-%d %H:%M} UTC"
    case = f"case {request.case_number}" if request.case_number else "no case number"
    body = "\n".join(
        [
            f"{agency.name} ({agency.city}, {agency.state}) asks camera owners in an area near "
            f"you for footage about a {_label(request.incident_type.value)} ({case}).",
            f"Time window: {window}.",
            "The area is shown on a map on the request's page.",
            f'The officer\'s message: "{request.message}"',
            "",
            VOLUNTARY,
            NO_CONSEQUENCE,
            WHAT_AGENCY_RECEIVES,
            "",
            f"{answer}: share some, decline, mute this agency, or stop all requests.",
        ]
    )
    return Notice(title=title, body=body)
