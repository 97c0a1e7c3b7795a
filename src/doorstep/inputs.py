"""The one input rule for text: what characters a client may send, wherever it sends them.

NUL and the other C0 control characters never reach a service or the database (PostgreSQL
refuses NUL in text outright, SQLite stores it; the two must behave alike). Tab and
newline (and carriage return, which browsers send in text areas) are allowed in free
text bodies only: messages, post bodies, comments. Names, emails, references, and every
query and path parameter are one line.

The route class in :mod:`doorstep.routing` applies :func:`control_character_problem` to
every query parameter, path parameter, JSON string and form field before a route runs;
the Pydantic types below add the single-line rule to the fields that need it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

# C0 controls and DEL, without tab, newline and carriage return: never allowed.
_ALWAYS_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every C0 control and DEL: refused in one-line text.
_REFUSED_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f]")


def control_character_problem(value: str, *, multiline: bool) -> str | None:
    """Why ``value`` is refused, or None when it keeps the rule."""
    pattern = _ALWAYS_REFUSED if multiline else _REFUSED_IN_A_LINE
    found = pattern.search(value)
    if found is None:
        return None
    char = found.group()
    name = "NUL" if char == "\x00" else f"U+{ord(char):04X}"
    where = "text" if multiline else "a one-line value"
    return f"control character {name} is not allowed in {where}"


def refused_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, str]]:
    """Walk decoded JSON and yield (dotted field path, problem) for each refused string.

    JSON strings may be free text, so tab and newline pass here; the single-line
    types below refuse them where a field is one line.
    """
    if isinstance(value, str):
        problem = control_character_problem(value, multiline=True)
        if problem is not None:
            yield ".".join(str(p) for p in path) or "body", problem
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                problem = control_character_problem(key, multiline=False)
                if problem is not None:
                    yield ".".join(str(p) for p in (*path, key)), problem
            yield from refused_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from refused_strings(item, (*path, index))


def _one_line(value: str) -> str:
    problem = control_character_problem(value, multiline=False)
    if problem is not None:
        raise ValueError(problem)
    return value


def _text(value: str) -> str:
    problem = control_character_problem(value, multiline=True)
    if problem is not None:
        raise ValueError(problem)
    return value


# A name, a title, an email, a reference: one line, no control characters at all.
Line = Annotated[str, AfterValidator(_one_line)]
# Free text (a message, a post, a comment): tab and newlines allowed, other controls not.
Text = Annotated[str, AfterValidator(_text)]
# How a device names a clip or event for de-duplication, however it sends it (JSON,
# batch, multipart form): 1 to 200 characters on one line, never empty.
DEVICE_REF_MAX = 200


def _device_ref(value: str) -> str:
    _one_line(value)
    if not value.strip():
        raise ValueError("a device_ref is not blank; leave it out instead")
    if value != value.strip():
        raise ValueError("a device_ref has no leading or trailing spaces")
    return value


DeviceRef = Annotated[
    str, Field(min_length=1, max_length=DEVICE_REF_MAX), AfterValidator(_device_ref)
]


# ---------------------------------------------------------------- strict JSON scalars
#
# A JSON body means what it says: ``false`` is not a longitude, ``0`` is not a boolean,
# ``0.5`` is not a time. Pydantic's lax mode accepts all three, and ``strict=True`` cannot
# be used instead: FastAPI validates the decoded body in Python mode, where strict mode
# also refuses the ISO-8601 strings, UUID strings and enum values a JSON body carries.
# So each scalar type refuses the wrong JSON kinds itself, before Pydantic converts.


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise PydanticCustomError(
            "bool_type", "give true or false, not {kind}", {"kind": _json_kind(value)}
        )
    return value


def _json_number(value: Any) -> Any:
    # Text holding a number passes: the pages validate HTML forms, which send only text,
    # with these same schemas. NaN and Infinity pass nowhere, also not as text.
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # Pydantic refuses it, naming the field
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError(
            "float_type", "give a number, not {kind}", {"kind": _json_kind(value)}
        )
    else:
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
    if not math.isfinite(number):
        raise PydanticCustomError(
            "finite_number", "give a finite number; NaN and Infinity are not allowed"
        )
    return value


def _json_integer(value: Any) -> Any:
    # 5.0 is the whole number 5 as some JSON encoders write it; 5.5 is not. Text passes
    # to Pydantic, which reads "5" and refuses the rest (forms send text).
    if isinstance(value, str) or (isinstance(value, float) and value.is_integer()):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "a fraction" if isinstance(value, float) else _json_kind(value)
        raise PydanticCustomError("int_type", "give a whole number, not {kind}", {"kind": kind})
    return value


# Digits only (with an optional sign and fraction): Pydantic would read such text as
# seconds since 1970, which nobody who means a time sends.
_NUMERIC_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*")


def _json_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _NUMERIC_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "datetime_type",
            "give a date and time as ISO-8601 text with a time zone "
            "(e.g. 2026-11-29T12:00:00Z), not {kind}",
            {"kind": "a number" if isinstance(value, str) else _json_kind(value)},
        )
    return value


def _utc_time(value: datetime) -> datetime:
    # Every stored time is aware UTC: a naive one cannot be compared with them, and
    # 0001-01-01T00:00+01:00 parses but has no UTC equivalent.
    if value.utcoffset() is None:
        raise PydanticCustomError(
            "timezone_aware", "give the time zone too (e.g. 2026-11-29T12:00:00Z or +01:00)"
        )
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "give a time between the years 1 and 9999 in UTC"
        ) from None
    return value


# true or false, never 0, 1 or "yes".
Flag = Annotated[bool, BeforeValidator(_json_bool)]
# A finite number (or text holding one), never true, false, NaN or Infinity.
Number = Annotated[float, BeforeValidator(_json_number)]
# A whole number (5, 5.0 or "5"), never true, false or 2.5.
WholeNumber = Annotated[int, BeforeValidator(_json_integer)]
# A date and time as ISO-8601 text with its time zone, never a number of seconds.
Moment = Annotated[datetime, BeforeValidator(_json_time), AfterValidator(_utc_time)]
# A position in degrees (WGS 84): a Number in range. The range comes before the validator,
# as at field level, so that it lands on the number itself (standard JSON-schema keys).
Latitude = Annotated[float, Field(ge=-90, le=90), BeforeValidator(_json_number)]
Longitude = Annotated[float, Field(ge=-180, le=180), BeforeValidator(_json_number)]


# ---------------------------------------------------------------- optional fields
#
# Write ``note: OptionalLine = Field(default=None, max_length=...)``, not ``Line | None``: in a
# union the validator sits below Pydantic's constraints, which then fall back to a generic
# check ("Value should have at most 80 items after validation") and a JSON schema with
# non-standard keys. At field level the constraints apply to the string first, as for a
# required ``Line``, and the rule runs after them.


def _unless_none(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        return value if value is None else check(value)

    return checked


OptionalLine = Annotated[str | None, AfterValidator(_unless_none(_one_line))]
OptionalText = Annotated[str | None, AfterValidator(_unless_none(_text))]
OptionalFlag = Annotated[bool | None, BeforeValidator(_unless_none(_json_bool))]
OptionalNumber = Annotated[float | None, BeforeValidator(_unless_none(_json_number))]
OptionalMoment = Annotated[
    datetime | None,
    BeforeValidator(_unless_none(_json_time)),
    AfterValidator(_unless_none(_utc_time)),
]
OptionalWholeNumber = Annotated[int | None, BeforeValidator(_unless_none(_json_integer))]


# ---------------------------------------------------------------- schemas


class Schema(BaseModel):
    """The base of the domains' request and response schemas: read from ORM objects, and
    the surrounding white space of every string a client sends stripped."""

    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=True)
