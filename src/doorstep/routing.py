"""What every route checks before its own code runs: who is calling, how big the body is,
how fast it comes, and what characters it holds.

FastAPI reads and parses a request's body before it resolves any dependency, so left to
itself an anonymous client could make the server read and parse a 200 MB JSON body before
being told it has no token. Every router is built with :class:`GuardedRoute`, whose handler
runs, in this order and before FastAPI touches the body:

1. the text rule on every query and path parameter (:mod:`doorstep.inputs`);
2. for an API route behind a principal, when a body is coming: the principal is
   authenticated first, so an unauthenticated body is refused unread;
3. the body limit for the route's kind (clip uploads by ``max_clip_bytes``, everything
   else by ``max_body_bytes``), enforced on the declared length and again while the body
   streams in, chunked bodies included, and an idle timeout on a body that stops coming;
4. the text rule on every JSON string and form field.

The route's own dependencies still authenticate the caller as usual; step 2 costs one more
token lookup, and only on requests that carry a body.

This module is below the domains and imports none of them: a route is behind a user when
its endpoint or one of its dependencies is marked with :func:`user_principal`
(``accounts.deps.api_user`` is), behind a camera when its path is a device path; the
checks themselves are the :class:`EarlyAuthenticators` that ``routes.include_all`` puts
on the app.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.types import Message

from doorstep.errors import DoorstepError, PayloadTooLarge
from doorstep.inputs import control_character_problem, refused_strings

# Room for the multipart envelope and the small form fields around an uploaded clip.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

# Device routes: the camera's ingest token is the principal. They sit under a camera's
# path; the owner's own routes there (rename, rotate the token) take a user token.
_DEVICE_SEGMENTS = ("events", "clips", "uploads")
# Routes whose body is a clip, limited by ``max_clip_bytes`` instead of ``max_body_bytes``.
_CLIP_UPLOAD_PATHS = (
    "/api/v1/cameras/{camera_id}/clips",
    "/api/v1/cameras/{camera_id}/uploads/{evidence_id}",
)


# Set in the request's scope while a body is still arriving: a refusal sent then closes the
# connection (``Connection: close``), so the client stops sending what nobody will read.
BODY_UNFINISHED = "doorstep.body_unfinished"


class InputRefused(DoorstepError):
    """Input that breaks the text rule: the same code and shape as a payload that fails
    validation, naming each field."""

    status_code = 422
    code = "validation_failed"


class BodyTimeout(DoorstepError):
    status_code = 408
    code = "body_timeout"


def _refuse(problems: list[dict[str, str]]) -> InputRefused:
    first = problems[0]
    return InputRefused(f"{first['field']}: {first['problem']}", problems=problems)


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


_USER_PRINCIPAL = "doorstep_user_principal"


_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])


def user_principal(dependency: _Dependency) -> _Dependency:
    """Mark the dependency that authenticates an API user (or an endpoint that does it
    itself): a route that depends on it, or is it, is authenticated before its body is
    read."""
    setattr(dependency, _USER_PRINCIPAL, True)
    return dependency


@dataclass(frozen=True)
class EarlyAuthenticators:
    """The checks step 2 runs, each raising the error the route's own dependency would:
    ``user`` for a route behind an API user (blocking: in the threadpool), ``camera`` for a
    device route (``camera_id`` in its path; awaited on the event loop, so that concurrent
    devices' checks can share one query and one thread)."""

    user: Callable[[Request], None]
    camera: Callable[[Request, uuid.UUID], Awaitable[None]]


def _principal_of(route: APIRoute) -> str | None:
    """'user', 'camera' or None (public, or a page whose cookie is checked by its own
    dependencies)."""
    if route.path.startswith("/api/v1/cameras/{camera_id}/"):
        segment = route.path.removeprefix("/api/v1/cameras/{camera_id}/").split("/")[0]
        if segment in _DEVICE_SEGMENTS:
            return "camera"
    calls = [route.dependant.call, *_dependency_calls(route.dependant)]
    if any(getattr(call, _USER_PRINCIPAL, False) for call in calls):
        return "user"
    return None


def _has_body(request: Request) -> bool:
    headers = request.headers
    if "transfer-encoding" in headers:
        return True
    declared = headers.get("content-length")
    return declared is not None and declared.strip() not in ("", "0")


def _check_parameters(request: Request) -> None:
    problems = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and (
            problem := control_character_problem(value, multiline=False)
        ):
            problems.append({"field": name, "problem": problem})
    for name, value in request.query_params.multi_items():
        for text in (name, value):
            if problem := control_character_problem(text, multiline=False):
                problems.append({"field": name or "query", "problem": problem})
                break
    if problems:
        raise _refuse(problems)


async def _authenticate_early(request: Request, principal: str) -> None:
    """Check the caller's credentials with the app's :class:`EarlyAuthenticators`."""
    authenticators: EarlyAuthenticators = request.app.state.early_authenticators
    if principal == "user":
        await run_in_threadpool(authenticators.user, request)
        return
    try:
        camera_id = uuid.UUID(str(request.path_params.get("camera_id", "")))
    except ValueError:
        return  # the route's own validation answers 422 for a malformed id
    await authenticators.camera(request, camera_id)


def _too_large(limit: int, *, clip_bytes: int | None) -> PayloadTooLarge:
    if clip_bytes is not None:
        return PayloadTooLarge(
            f"A clip is at most {clip_bytes} bytes.", code="clip_too_large", limit_bytes=clip_bytes
        )
    return PayloadTooLarge(
        f"The request body is at most {limit} bytes.", code="body_too_large", limit_bytes=limit
    )


def _limit_body(
    request: Request, limit: int, idle_timeout_s: float, *, clip_bytes: int | None = None
) -> None:
    """Make every read of this request's body count bytes against ``limit`` and give up on
    a body that sends nothing for ``idle_timeout_s``. ``clip_bytes``: the clip limit, named
    in the refusal of a clip upload."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, clip_bytes=clip_bytes)
    receive = request.receive
    received = 0
    finished = False

    async def limited_receive() -> Message:
        nonlocal received, finished
        if finished:  # after the body only a disconnect can come; no deadline for it
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), timeout=idle_timeout_s)
        except TimeoutError:
            raise BodyTimeout(
                f"The request body stopped arriving for {idle_timeout_s:g} seconds.",
                timeout_s=idle_timeout_s,
            ) from None
        if message["type"] == "http.request":
            finished = not message.get("more_body", False)
            if finished:
                request.scope[BODY_UNFINISHED] = False
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit, clip_bytes=clip_bytes)
        return message

    request._receive = limited_receive


async def _check_body_text(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    problems: list[dict[str, str]] = []
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            document = await request.json()  # cached: FastAPI reuses it
        except ValueError:
            return  # FastAPI answers 422 json_invalid itself
        problems = [{"field": f, "problem": p} for f, p in refused_strings(document)]
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()  # cached: the page's dependency reuses it
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                continue
            if problem := control_character_problem(name, multiline=False):
                problems.append({"field": name or "form", "problem": problem})
            elif problem := control_character_problem(value, multiline=True):
                problems.append({"field": name, "problem": problem})
    if problems:
        raise _refuse(problems)


class GuardedRoute(APIRoute):
    """An API or page route that runs the checks above before its handler. Every router is
    built with it (``APIRouter(route_class=GuardedRoute)``; a test checks the app)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        principal = _principal_of(self)
        is_clip_upload = self.path in _CLIP_UPLOAD_PATHS

        async def guarded(request: Request) -> Response:
            _check_parameters(request)
            if not _has_body(request):
                return await handler(request)
            request.scope[BODY_UNFINISHED] = True
            settings = request.app.state.runtime.settings
            if principal is not None:
                await _authenticate_early(request, principal)
            if is_clip_upload:
                clip_bytes = settings.max_clip_bytes
                limit = clip_bytes + MULTIPART_OVERHEAD_BYTES
            else:
                clip_bytes, limit = None, settings.max_body_bytes
            _limit_body(request, limit, settings.body_idle_timeout_s, clip_bytes=clip_bytes)
            if not is_clip_upload:
                # Read it here, within the limit, so that a refusal is ours: FastAPI
                # turns any error while it reads a body into a bare 400.
                await request.body()
                await _check_body_text(request)
            return await handler(request)

        return guarded
