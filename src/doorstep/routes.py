"""Mounts every domain's routers on the app."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from doorstep.accounts import api as accounts_api
    from doorstep.agencies import api as agencies_api
    from doorstep.cameras import api as cameras_api
    from doorstep.cameras import device_api as cameras_device_api
    from doorstep.feed import api as feed_api
    from doorstep.footage import api as footage_api
    from doorstep.notify import api as notify_api
    from doorstep.transparency import api as transparency_api

    app.include_router(accounts_api.router)
    app.include_router(agencies_api.router)
    app.include_router(cameras_api.router)
    app.include_router(cameras_device_api.router)
    app.include_router(feed_api.router)
    app.include_router(footage_api.router)
    app.include_router(notify_api.router)
    app.include_router(transparency_api.router)

    from doorstep.web import pages

    pages.include(app)
