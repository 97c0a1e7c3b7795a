"""Names, states and dates as accountability datasets write them, reduced to what
identifies them. Matching is by normalized name and state, never fuzzy."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from doorstep.errors import InvalidInput

KIND_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Whole-word abbreviations in agency names, after punctuation is gone.
_WORDS = {
    "pd": "police department",
    "dept": "department",
    "dep": "department",
    "dpt": "department",
    "so": "sheriffs office",
    "sheriff": "sheriffs",
    "co": "county",
    "cnty": "county",
    "cty": "county",
    "twp": "township",
    "univ": "university",
    "dps": "department of public safety",
    "mt": "mount",
    "st": "saint",
    "metro": "metropolitan",
    "ft": "fort",
    "&": "and",
}
_TAILS = (
    (" police", " police department"),
    (" sheriffs department", " sheriffs office"),
    (" sheriffs", " sheriffs office"),
)
# Abbreviations written with periods between letters ("P.D.", "S.O.") are joined first.
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")
_APOSTROPHES = re.compile(r"[\u2019'`]")
_OTHER = re.compile(r"[^a-z0-9&]+")
STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip
_CODES = set(STATES.values())
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")


@lru_cache(maxsize=65536)
def normalize_name(name: str) -> str:
    """An agency name reduced to the words that identify it: lower case, no punctuation,
    the usual abbreviations spelled out ("PD" = "Police Department", "Dept." =
    "Department", "S.O." = "Sheriff's Office"), a leading "the" dropped."""
    text = name.lower().strip()
    text = _APOSTROPHES.sub("", text)
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = text.replace("&", " & ")
    words = [w for w in _OTHER.sub(" ", text).split() if w]
    expanded = " ".join(_WORDS.get(w, w) for w in words).split()
    if expanded[:1] == ["the"]:
        expanded = expanded[1:]
    name = " ".join(expanded)
    # One agency, several customary names: "X Police" is "X Police Department", and a
    # sheriff's "Department" or plain "Sheriff" is the "Sheriff's Office".
    for tail, canonical in _TAILS:
        if name.endswith(tail):
            return name[: len(name) - len(tail)] + canonical
    return name


def normalize_state(value: str) -> str | None:
    text = " ".join(_OTHER.sub(" ", value.lower()).split())
    if text.upper() in _CODES:
        return text.upper()
    return STATES.get(text)


def parse_day(value: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def check_kind(kind: str) -> str:
    kind = kind.strip().lower()
    if not KIND_PATTERN.match(kind):
        raise InvalidInput(
            "A dataset kind is lower-case letters, digits, '-' or '_' (e.g. use-of-force).",
            code="invalid_kind",
        )
    return kind
