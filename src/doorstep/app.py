"""The FastAPI application factory: routers, middleware and the one error shape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

import structlog
import xstatic.pkg.leaflet as xstatic_leaflet
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorstep import openapi as doorstep_openapi
from doorstep import route_index
from doorstep.accounts.deps import PageVisitor, SignInRequired
from doorstep.cameras import ingest_groups
from doorstep.errors import DoorstepError
from doorstep.headers import SecurityHeaders, media_origin, security_headers
from doorstep.operations import UNGATED_PATHS, RequestIds, RequestTimer
from doorstep.replicas import ReadFenceCookie
from doorstep.routing import BODY_UNFINISHED
from doorstep.runtime import Runtime
from doorstep.web import render as web_render

log = structlog.get_logger(__name__)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


class ConnectionGate:
    """Admits no more requests at a time than the database pool has connections.

    A request's session is opened in one threadpool thread, used by the route in another
    and committed in a third. With more requests in flight than connections, every thread
    could be waiting for a connection held by a request that waits for a thread: the
    server stalls until the pool's timeout (seen at 64 concurrent feed requests). Queued
    here instead, a request costs no thread and no connection until a slot frees. A slot
    is held until the response starts, which is after the commit; streaming the body
    (a video, a CSV) does not hold it.

    ``ungated`` names more requests that hold no connection of their own: a device's
    single event, when events are grouped (``cameras.ingest_groups``), whose group takes
    one of these ``slots`` for its transaction instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        slots: asyncio.Semaphore | None = None,
        ungated: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.slots = slots or asyncio.Semaphore(limit)
        self.ungated = ungated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].startswith(UNGATED_PATHS)
            or (self.ungated is not None and self.ungated(scope))
        ):
            await self.app(scope, receive, send)
            return
        await self.slots.acquire()
        held = True

        async def send_and_release(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                self.slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            if held:
                self.slots.release()


def _error_page(request: Request, status_code: int, message: str, code: str) -> Response:
    """The error page of a browser; it shows no one as signed in."""
    return web_render.render(
        request,
        "error.html",
        PageVisitor(None, None),
        status_code=status_code,
        message=message,
        code=code,
    )


async def _domain_error(request: Request, exc: DoorstepError) -> Response:
    if _wants_html(request):
        return _error_page(request, exc.status_code, exc.message, exc.code)
    headers = {}
    if "retry_after_s" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after_s"])
    if request.scope.get(BODY_UNFINISHED):
        headers["Connection"] = "close"
    return JSONResponse(exc.as_body(), status_code=exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())[1:]), "problem": err.get("msg")}
        for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": "", "problem": "invalid"}
    return JSONResponse(
        {
            "error": {
                "code": "validation_failed",
                "message": f"{first['field'] or 'request'}: {first['problem']}",
                "details": {"problems": problems},
            }
        },
        status_code=422,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else "Request failed."
    if exc.status_code == 405:
        message = f"{request.method} is not allowed here; the Allow header lists what is."
    if _wants_html(request):
        return _error_page(request, exc.status_code, message, code)
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=exc.status_code)


async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
    return web_render.redirect(f"/signin?next={quote(exc.next_path, safe='/')}")


async def _page_answer(_request: Request, exc: web_render.PageAnswer) -> Response:
    return exc.response


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never a stack trace to the client; the log has it.
    log.exception("http.unhandled_error", path=request.url.path)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "Something went wrong on our side."}},
        status_code=500,
    )


def _add_error_handlers(app: FastAPI) -> None:
    """One error shape: JSON for the API, the error page for a browser; a page that needs
    a signed-in visitor sends him to sign in; a page dependency's answer goes out as is."""
    app.exception_handler(DoorstepError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(SignInRequired)(_sign_in)
    app.exception_handler(web_render.PageAnswer)(_page_answer)
    app.exception_handler(Exception)(_unexpected)


def _add_routes_and_middleware(app: FastAPI, runtime: Runtime) -> None:
    """The connection gate (inside), the request timer, the routes and the API docs, then
    the security headers (outside, so that every answer carries them)."""
    from doorstep import routes

    limit = runtime.db.max_connections
    if limit is not None:
        slots = app.state.connection_slots = asyncio.Semaphore(limit)
        grouped = runtime.settings.ingest_group_window_ms > 0
        ungated = ingest_groups.holds_no_connection if grouped else None
        app.add_middleware(ConnectionGate, limit=limit, slots=slots, ungated=ungated)
    if runtime.replicas.configured:
        app.add_middleware(ReadFenceCookie, secure=runtime.settings.cookie_secure)
    app.add_middleware(RequestTimer)  # outside the gate: its wait is part of the latency
    app.add_middleware(RequestIds)  # outside the timer: every log line of a request names it
    routes.include_all(app)
    doorstep_openapi.install(app, runtime.settings)
    app.add_middleware(
        SecurityHeaders,
        headers=security_headers(runtime.settings, media=media_origin(runtime.storage)),
    )


def _mount_static_files(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(web_render.STATIC_DIR)), name="static")
    app.mount("/vendor/leaflet", StaticFiles(directory=xstatic_leaflet.BASE_DIR), name="leaflet")


def create_app(runtime: Runtime, *, run_worker: bool = False) -> FastAPI:
    """Build the app around a runtime. ``run_worker`` starts the in-process worker thread."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from doorstep.notify.channels.webpush import ensure_vapid_keys

        ensure_vapid_keys(runtime.settings)
        worker: tuple[threading.Thread, threading.Event] | None = None
        if run_worker:
            from doorstep.jobs import job_registry
            from doorstep.notify.worker import start_in_thread

            worker = start_in_thread(runtime, job_registry(runtime.settings))
        try:
            yield
        finally:
            if worker is not None:
                worker[1].set()
                worker[0].join(timeout=10)

    app = FastAPI(
        title="doorstep",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # doorstep.openapi serves the docs page, under its own policy
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    _add_error_handlers(app)
    _add_routes_and_middleware(app, runtime)
    _mount_static_files(app)
    route_index.install(app)
    return app
