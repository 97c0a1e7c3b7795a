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

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, Field

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
