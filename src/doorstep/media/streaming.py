"""Serving stored media over HTTP: byte ranges for the player, or a signed URL redirect."""

from __future__ import annotations

import re

from fastapi.responses import RedirectResponse, Response, StreamingResponse

from doorstep.errors import DoorstepError
from doorstep.media.storage import MediaStorage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(DoorstepError, status_code=416, code="range_not_satisfiable"):
    """The ``Range`` asked for lies outside the stored bytes."""


def media_response(
    storage: MediaStorage,
    key: str,
    *,
    content_type: str,
    range_header: str | None,
    filename: str | None = None,
) -> Response:
    """A response for ``key``: a redirect to a signed URL when the backend has them,
    otherwise the bytes, honouring a single ``Range`` so video players can seek."""
    signed = storage.presigned_url(key, content_type=content_type)
    if signed is not None:
        return RedirectResponse(signed, status_code=307)
    total = storage.size(key)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    match = _RANGE.match(range_header.strip()) if range_header else None
    if match is None or total == 0:
        headers["Content-Length"] = str(total)
        return StreamingResponse(
            storage.open_range(key, 0, None), media_type=content_type, headers=headers
        )
    first, last = match.groups()
    if first == "":
        length = min(int(last or 0), total)
        start, end = total - length, total - 1
    else:
        start = int(first)
        end = min(int(last), total - 1) if last else total - 1
    if start >= total or start > end:
        raise RangeNotSatisfiable(
            f"Range {range_header} is outside the {total} bytes.", total=total
        )
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        storage.open_range(key, start, end),
        status_code=206,
        media_type=content_type,
        headers=headers,
    )
