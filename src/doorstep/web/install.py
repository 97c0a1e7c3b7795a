"""What makes doorstep an installable app: the web app manifest (name, colours, icons)
and the offline page that the service worker (``/sw.js``) keeps for when the network is
gone. Neither shows anything of a user, so both can be cached."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from doorstep.routing import GuardedRoute
from doorstep.web.render import templates

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

MANIFEST_TYPE = "application/manifest+json"
THEME_COLOUR = "#1f6feb"
ICON_SIZES = (192, 512)  # scripts/make_icons.py draws these
OFFLINE_PATH = "/offline"


def manifest(instance_name: str) -> dict[str, object]:
    """The web app manifest: the drawing keeps to the icon's safe zone, so the same files
    serve as plain and as maskable icons."""
    icons = [
        {
            "src": f"/static/icons/icon-{size}.png",
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": purpose,
        }
        for size in ICON_SIZES
        for purpose in ("any", "maskable")
    ]
    return {
        "name": instance_name,
        "short_name": instance_name[:12],
        "description": "Your cameras, your neighbours' safety feed, and footage requests "
        "you answer yourself.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": icons,
    }


@router.get("/manifest.webmanifest")
def web_app_manifest(request: Request) -> Response:
    settings = request.app.state.runtime.settings
    return JSONResponse(
        manifest(settings.instance_name),
        media_type=MANIFEST_TYPE,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(OFFLINE_PATH, response_class=HTMLResponse)
def offline(request: Request) -> Response:
    """The page the service worker shows when a page cannot be reached."""
    settings = request.app.state.runtime.settings
    return templates.TemplateResponse(
        request, "offline.html", {"instance_name": settings.instance_name}
    )
