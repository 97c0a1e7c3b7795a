"""Bounds on paging, and the one cursor format of keyset-paginated lists.

A page is asked for by offset (the public request log) or by an opaque cursor (the
timeline, the feed). Whatever a client sends, a refusal is a 4xx naming the parameter:
an offset past what a database can count, or a cursor that was not written by
:func:`encode_cursor`, never reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from doorstep.errors import InvalidInput

# Far beyond any list here (the whole request log downloads as CSV instead), and far
# below the 64-bit limit of OFFSET on PostgreSQL and SQLite.
MAX_OFFSET = 1_000_000
# A cursor is about 90 characters (a time and an id); anything much longer is not one.
MAX_CURSOR_CHARS = 200


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    """The position after a row of a list ordered by (time, id), as URL-safe text."""
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a cursor holds; anything else is refused as ``invalid_cursor``."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise _invalid_cursor() from exc
    if not (
        isinstance(decoded, list)
        and len(decoded) == 2
        and all(isinstance(part, str) for part in decoded)
    ):
        raise _invalid_cursor()
    try:
        at, row_id = datetime.fromisoformat(decoded[0]), uuid.UUID(decoded[1])
    except ValueError as exc:
        raise _invalid_cursor() from exc
    # Every stored time is aware; a naive one cannot be compared with them.
    if at.tzinfo is None:
        raise _invalid_cursor()
    return at, row_id


def _invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "This page cursor is not valid. Use the next_cursor of the previous page as it "
        "came, or leave cursor out to start from the newest.",
        code="invalid_cursor",
    )
