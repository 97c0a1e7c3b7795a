"""Response headers every answer carries: the content security policy and its companions,
and the ``Allow`` list of a 405.

A pure ASGI middleware: it only rewrites the ``http.response.start`` message, so a
streamed body (a video, a CSV, an export) passes through untouched and unbuffered,
which ``BaseHTTPMiddleware`` does not guarantee.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import structlog
from fastapi import routing
from starlette.datastructures import MutableHeaders
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorstep.config import Settings
from doorstep.media.storage import MediaStorage

log = structlog.get_logger(__name__)

# A year, the preload list's minimum; only sent when the instance says it is served over
# HTTPS (cookie_secure), since a browser that pins HTTPS for a plain-HTTP site locks users out.
HSTS = "max-age=31536000; includeSubDomains"
# A key that is never stored: presigning is local arithmetic, so this costs no request.
_PROBE_KEY = "csp-origin-probe"
_TEMPLATE_LABEL = re.compile(r"\{[^}]*\}")


def source_origin(url: str) -> str | None:
    """The CSP source for the origin of ``url``, or None for a relative URL (covered by
    'self'). A URL template's placeholder host label (``{s}.tile.example.org``) becomes
    a wildcard label."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    host = _TEMPLATE_LABEL.sub("*", parts.netloc.rpartition("@")[2])
    return f"{parts.scheme}://{host}"


def media_origin(storage: MediaStorage) -> str | None:
    """Where the browser fetches clips and thumbnails from when the backend answers with
    signed URLs (S3): media links redirect there, and CSP checks the redirect target."""
    try:
        signed = storage.presigned_url(_PROBE_KEY, content_type="video/mp4")
    except Exception:
        # Presigning needs credentials; without them no media plays anyway, and the
        # storage says so itself on first use. The policy must not stop the app starting.
        log.warning("headers.media_origin_unknown", storage=repr(storage), exc_info=True)
        return None
    return source_origin(signed) if signed else None


def content_security_policy(settings: Settings, *, media: str | None) -> str:
    """The pages' policy: scripts, styles and fonts from this origin only (no inline
    script, no inline style, no eval), map tiles from the configured tile server, media
    from this origin or the storage's signed-URL origin, and no framing by anyone."""
    tiles = source_origin(settings.tile_url)
    # data: images: Leaflet points a removed tile's <img> at a 1x1 data: GIF to cancel its load.
    images = ["'self'", "data:", *(s for s in (tiles, media) if s)]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "media-src": ["'self'", *([media] if media else [])],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(v))}" for name, v in directives.items())


def security_headers(settings: Settings, *, media: str | None) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(settings, media=media),
        "X-Content-Type-Options": "nosniff",
        # Older browsers that ignore frame-ancestors.
        "X-Frame-Options": "DENY",
        # Cross-origin requests (map tiles) carry the origin only, never a page's path with
        # its ids; tile servers such as OpenStreetMap's refuse browser requests without it.
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.cookie_secure:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def allowed_methods(app: object, *, path: str, root_path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``. Starlette's own 405 names
    only the first route whose path matched, and a path is often served by several routes
    (``GET`` and ``POST /api/v1/cameras`` are two)."""
    methods: set[str] = set()
    # No route declares this method, so a route whose path matches answers PARTIAL.
    probe: Scope = {"type": "http", "path": path, "root_path": root_path, "method": "\x00"}
    for route in routing.iter_route_contexts(getattr(app, "routes", [])):
        match, _ = route.matches(probe)
        if match == Match.NONE:
            continue
        if isinstance(route.original_route, Mount):
            if isinstance(route.original_route.app, StaticFiles):
                methods.update(("GET", "HEAD"))
            continue
        methods.update(route.methods or ())
    return sorted(methods)


class SecurityHeaders:
    """Adds ``headers`` to every HTTP response that does not set them itself (a route may
    send its own policy), and the full ``Allow`` list to every 405."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str]) -> None:
        self.app = app
        # Encoded once: an answer's header list is extended, not parsed, per request.
        self.raw: tuple[tuple[bytes, bytes], ...] = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Routing rewrites the scope in place (a mount moves its prefix into root_path),
        # so the path as the client sent it is kept for the 405's Allow.
        path, root_path = scope["path"], scope.get("root_path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = list(message.get("headers") or [])
                present = {bytes(name).lower() for name, _ in sent}
                sent.extend(h for h in self.raw if h[0] not in present)
                message = {**message, "headers": sent}
                if message["status"] == 405:
                    methods = allowed_methods(scope.get("app"), path=path, root_path=root_path)
                    if methods:
                        MutableHeaders(scope=message)["Allow"] = ", ".join(methods)
            await send(message)

        await self.app(scope, receive, send_with_headers)
