"""How a device's multipart upload is received, for clips and for evidence alike: its
camera token checked before the body is read, its size bounded while it is spooled, and
its body described in OpenAPI (FastAPI describes only the bodies it parses)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from doorstep.accounts.deps import bearer_token
from doorstep.cameras import ingest_groups
from doorstep.cameras import registry as camera_registry
from doorstep.errors import InvalidInput, PayloadTooLarge
from doorstep.http import get_runtime
from doorstep.runtime import Runtime

# Room for the multipart envelope and the small form fields around the file.
_MULTIPART_OVERHEAD = 64 * 1024


@contextmanager
def spooled_upload(upload: UploadFile, limit: int) -> Iterator[Path]:
    """The upload copied to a temp file, refused as soon as it passes ``limit`` bytes; the
    file is removed when the block ends, however it ends."""
    fd, name = tempfile.mkstemp(prefix="doorstep-upload-", suffix=".mp4")
    path = Path(name)
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            upload.file.seek(0)
            while chunk := upload.file.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(
                        f"A clip is at most {limit} bytes.",
                        code="clip_too_large",
                        limit_bytes=limit,
                    )
                handle.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _authenticate_device(runtime: Runtime, camera_id: uuid.UUID, token: str | None) -> None:
    with runtime.db.read_only() as session:
        camera_registry.authenticate_camera(session=session, camera_id=camera_id, token=token)


@asynccontextmanager
async def camera_upload(
    request: Request, runtime: Runtime, camera_id: uuid.UUID
) -> AsyncIterator[tuple[str | None, FormData, UploadFile]]:
    """A device's multipart upload: the camera token is checked before the body is read,
    an announced body over the clip limit is refused unread, and the form is closed
    (its spooled file removed) whatever happens."""
    token = bearer_token(request)
    # In a thread: a database call on the event loop stalls every request of the process
    # while it waits (for SQLite's lock, up to the busy timeout). Read-only: a token check
    # needs no write lock.
    await run_in_threadpool(_authenticate_device, runtime, camera_id, token)
    limit = runtime.settings.max_clip_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"A clip is at most {limit} bytes.", code="clip_too_large", limit_bytes=limit
        )
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "Send the clip as a multipart file field named 'file'.", code="file_missing"
            )
        yield token, form, upload
    finally:
        await form.close()


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """OpenAPI for a multipart/form-data request body that a route reads itself (FastAPI
    describes only the bodies it parses)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


CLIP_FILE_FIELD: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "description": "The clip: a complete H.264 MP4 or MOV file within the instance's limits "
    "(DOORSTEP_MAX_CLIP_BYTES, _DURATION_S, _WIDTH, _HEIGHT).",
}


async def authenticate_device(request: Request, camera_id: uuid.UUID) -> None:
    """The route guard's early check of a device (``routing.EarlyAuthenticators``): the
    camera's token, in a read-only transaction, since checking it writes nothing (no
    SQLite write lock for it). Concurrent devices' checks share one query and one thread,
    and a token passed lately is not read again (``ingest_groups.check_token_early``),
    unless grouping is off (``DOORSTEP_INGEST_GROUP_WINDOW_MS`` 0)."""
    runtime = get_runtime(request)
    check = (camera_id, bearer_token(request))
    if runtime.settings.ingest_group_window_ms > 0:
        await ingest_groups.check_token_early(request.app.state, runtime, *check)
        return
    (refused,) = await run_in_threadpool(ingest_groups.check_tokens, runtime, [check])
    if refused is not None:
        raise refused
