"""Posting guardrails: describe behaviour, not appearance; flag personal data before posting.

These are the server's rules, enforced the same for the API and the pages.
They cannot catch everything; reports (with "profiling" as their own reason,
first in the moderation queue) catch the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from doorstep.errors import InvalidInput
from doorstep.feed.models import Category

# Posts in these categories may be about a person; their text is checked for people
# described by race or ethnicity. (A post about a lost pet or a street fair is not.)
PERSON_CATEGORIES = frozenset({Category.crime, Category.unexpected_activity, Category.safety})
APPEARANCE_FIELDS = ("clothing", "hair", "build", "shoes", "distinguishing_features")
APPEARANCE_LABELS = {
    "clothing": "clothing",
    "hair": "hair",
    "build": "build",
    "shoes": "shoes",
    "distinguishing_features": "distinguishing features",
}
MIN_APPEARANCE_FIELDS = 2
MIN_BEHAVIOR_CHARS = 10

_RACE = (
    r"(?:black|white|hispanic|latino|latina|latinx|asian|arab|arabic|middle[- ]eastern|"
    r"african[- ]american|african|indian|native[- ]american|mexican|caucasian|"
    r"(?:dark|light|brown)[- ]skinned|person of colou?r|poc)"
)
_PERSON_NOUN = (
    r"(?:man|men|male|males|guy|guys|woman|women|female|females|boy|boys|girl|girls|kid|kids|"
    r"teen|teens|teenager|teenagers|youth|youths|juvenile|juveniles|person|people|"
    r"individual|individuals|suspect|suspects|dude|dudes|lady|ladies|gentleman|gentlemen|"
    r"subject|subjects|adult|adults|couple)"
)
# "black male", "white guy in his 20s", "Hispanic, tall man", "a Caucasian"
_RACIAL_DESCRIPTION = re.compile(
    rf"\b{_RACE}(?:[\s,/-]+(?:young|old|older|younger|tall|short|adult|heavy|heavyset|thin|"
    rf"skinny|big|small|\w+ish)){{0,2}}[\s,/-]+{_PERSON_NOUN}\b"
    rf"|\b(?:a|an|two|three|several|some)\s+(?:hispanic|caucasian|african[- ]american)s?\b"
    rf"|\b{_PERSON_NOUN}\s*[,(]\s*{_RACE}\b",
    re.IGNORECASE,
)
_RACE_WORDS = re.compile(rf"\b{_RACE}\b", re.IGNORECASE)


@dataclass(frozen=True)
class PersonDescription:
    """What a person did (first), then what he looked like."""

    behavior: str
    clothing: str | None = None
    hair: str | None = None
    build: str | None = None
    shoes: str | None = None
    distinguishing_features: str | None = None
    other: str | None = None

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> PersonDescription | None:
        if not values:
            return None
        clean = {
            key: (str(values[key]).strip() or None) if values.get(key) is not None else None
            for key in ("behavior", *APPEARANCE_FIELDS, "other")
        }
        if not any(clean.values()):
            return None
        # The same fields as as_dict() gives back; only the behavior is never None.
        return cls(behavior=clean.pop("behavior") or "", **clean)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "behavior": self.behavior,
            **{f: getattr(self, f) for f in APPEARANCE_FIELDS},
            "other": self.other,
        }

    def appearance_given(self) -> bool:
        return any(getattr(self, f) for f in APPEARANCE_FIELDS) or bool(self.other)

    def specific_fields(self) -> list[str]:
        """The appearance fields that say something beyond race or ethnicity."""
        return [f for f in APPEARANCE_FIELDS if _says_more_than_race(getattr(self, f))]


def _says_more_than_race(value: str | None) -> bool:
    if not value:
        return False
    rest = _RACE_WORDS.sub(" ", value)
    return len(re.sub(r"[^A-Za-z0-9]", "", rest)) >= 3


def describes_by_race(text: str) -> bool:
    """Whether the text describes a person by race or ethnicity ("white male", "a Hispanic")."""
    return _RACIAL_DESCRIPTION.search(text) is not None


def check_person_rules(
    *, category: Category, title: str, body: str, person: PersonDescription | None
) -> None:
    """Refuse a post that describes a person by appearance without behaviour, or by race alone.

    - A person described must come with what he did (``behavior_required``).
    - An appearance, when given, needs at least two of clothing, hair, build, shoes and
      distinguishing features that say more than race or ethnicity (``description_too_thin``).
    - In crime, unexpected activity and safety posts, free text that describes someone by
      race or ethnicity counts as an appearance: it needs the same two details and the
      behaviour (``description_too_thin``).
    """
    texts = [title, body]
    if person is not None:
        texts += [person.behavior, person.other or ""]
    by_race = category in PERSON_CATEGORIES and any(describes_by_race(t) for t in texts)
    if person is None and not by_race:
        return
    if person is None or len(person.behavior.strip()) < MIN_BEHAVIOR_CHARS:
        raise InvalidInput(
            "Describe what the person did first: the behaviour that made it worth a post. "
            "Appearance alone is not a reason to post about someone.",
            code="behavior_required",
        )
    if (person.appearance_given() or by_race) and len(
        person.specific_fields()
    ) < MIN_APPEARANCE_FIELDS:
        raise InvalidInput(
            "A description of a person must say more than race or ethnicity: give at least two "
            "of clothing, hair, build, shoes and distinguishing features, or leave the "
            "appearance out.",
            code="description_too_thin",
            needs=list(APPEARANCE_FIELDS),
        )


# ---------------------------------------------------------------- personal data


@dataclass(frozen=True)
class Finding:
    kind: str  # phone_number, street_address, license_plate
    text: str


_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"
    r"|(?<!\w)\+\d{1,3}(?:[\s.-]?\d){6,12}(?!\w)"
)
_STREET_TYPES = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|way|place|pl|"
    r"terrace|ter|circle|cir|parkway|pkwy|highway|hwy|alley|square|sq|pike|row)"
)
_FILLER = r"(?:the|a|an|my|our|his|her|their|this|that|of|down|up|on|at|in|to|from|and|or|by)"
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:(?!{_FILLER}\b)[A-Za-z0-9'.-]+\s+){{1,3}}"
    rf"{_STREET_TYPES}\b\.?",
    re.IGNORECASE,
)
_PLATE_AFTER_WORD = re.compile(
    r"\b(?:plates?|tags?|license|licence|registration)\b"
    r"(?:\s+(?:plate|number|no\.?|was|is|reads?|of|said))*\s*[:#]?\s*"
    r"([A-Z0-9]{1,4}[\s-]?[A-Z0-9]{2,5})\b",
    re.IGNORECASE,
)
# A standalone plate-like token: capitals and digits, at least two digits and one letter.
_PLATE_TOKEN = re.compile(
    r"\b(?=[A-Z0-9-]{5,9}\b)(?=(?:[A-Z-]*\d){2})(?=[0-9-]*[A-Z])[A-Z0-9]{1,4}-?[A-Z0-9]{2,5}\b"
)


def find_personal_data(*texts: str | None) -> list[Finding]:
    """Phone numbers, street addresses with a house number, and licence plates in the texts.

    Meant to warn the author before posting (false positives cost one confirmation),
    not to block.
    """
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, text: str) -> None:
        key = (kind, text.strip())
        if key not in seen:
            seen.add(key)
            found.append(Finding(kind, text.strip()))

    for text in texts:
        if not text:
            continue
        for m in _PHONE.finditer(text):
            add("phone_number", m.group(0))
        for m in _ADDRESS.finditer(text):
            add("street_address", m.group(0))
        phones = {f.text.replace(" ", "") for f in found if f.kind == "phone_number"}
        for m in _PLATE_AFTER_WORD.finditer(text):
            if any(ch.isdigit() for ch in m.group(1)):
                add("license_plate", m.group(1))
        for m in _PLATE_TOKEN.finditer(text):
            if m.group(0).replace(" ", "") not in phones:
                add("license_plate", m.group(0))
    return found


class PersonalDataWarning(InvalidInput):
    """The text looks like it holds personal data; the author must confirm to post it."""

    code = "personal_data_warning"


def check_personal_data(*, texts: list[str | None], confirmed: bool) -> None:
    """Refuse (``personal_data_warning``, with what was found) unless the author confirmed."""
    if confirmed:
        return
    found = find_personal_data(*texts)
    if found:
        kinds = sorted({f.kind.replace("_", " ") for f in found})
        raise PersonalDataWarning(
            "This looks like it contains personal data ("
            + ", ".join(kinds)
            + "). Remove it, or confirm that it belongs in a post everyone nearby can read.",
            found=[{"kind": f.kind, "text": f.text} for f in found],
        )
