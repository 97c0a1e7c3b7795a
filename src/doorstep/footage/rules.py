"""Checks of a request's words: refused purposes, race-only descriptions, a victim's
personal data, and pressure on residents. Each refusal names the rule."""

from __future__ import annotations

import re

from doorstep.errors import InvalidInput

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
