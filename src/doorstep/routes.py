"""The one place that mounts routes: every domain's JSON API, every page router, then the
operator's ``/healthz``, ``/readyz`` and ``/metrics``.

The order is the order of matching: among routes that share a path shape, the first
mounted answers (``/posts/new`` before ``/posts/{post_id}``, within one router).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from doorstep import operations
from doorstep.accounts import api as accounts_api
from doorstep.accounts import deps as account_deps
from doorstep.accounts import pages as account_pages
from doorstep.accounts import settings_pages as account_settings_pages
from doorstep.agencies import admin_pages as agency_admin_pages
from doorstep.agencies import api as agencies_api
from doorstep.agencies import pages as agency_pages
from doorstep.cameras import api as cameras_api
from doorstep.cameras import device_api as cameras_device_api
from doorstep.cameras import pages as camera_pages
from doorstep.cameras import uploads as camera_uploads
from doorstep.feed import api as feed_api
from doorstep.feed import moderation_pages as feed_moderation_pages
from doorstep.feed import pages as feed_pages
from doorstep.feed import post_form_pages as feed_post_form_pages
from doorstep.feed import post_pages as feed_post_pages
from doorstep.footage import agency_pages as footage_agency_pages
from doorstep.footage import api as footage_api
from doorstep.footage import moderation_pages as footage_moderation_pages
from doorstep.footage import owner_pages as footage_owner_pages
from doorstep.footage import preview_api as footage_preview_api
from doorstep.footage import preview_pages as footage_preview_pages
from doorstep.footage import summaries as footage_summaries
from doorstep.notify import api as notify_api
from doorstep.notify import pages as notify_pages
from doorstep.notify.service import Summarizer
from doorstep.routing import EarlyAuthenticators
from doorstep.transparency import api as transparency_api
from doorstep.transparency import pages as transparency_pages
from doorstep.transparency import records_admin_pages as transparency_records_admin
from doorstep.transparency import records_api as transparency_records_api
from doorstep.transparency import records_pages as transparency_records_pages
from doorstep.web import install as web_install
from doorstep.web.render import LayoutContext

API_ROUTERS: tuple[APIRouter, ...] = (
    accounts_api.router,
    agencies_api.router,
    cameras_api.router,
    cameras_device_api.router,
    feed_api.router,
    footage_api.router,
    footage_preview_api.router,
    notify_api.router,
    transparency_api.router,
    transparency_records_api.router,
)
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    account_pages.router,  # the start page "/", sign-up, sign-in, sign-out
    account_settings_pages.router,
    camera_pages.router,
    agency_pages.router,
    agency_admin_pages.router,
    feed_moderation_pages.router,
    feed_pages.router,
    feed_post_form_pages.router,
    feed_post_pages.router,
    footage_agency_pages.router,
    footage_owner_pages.router,
    footage_preview_pages.router,
    footage_moderation_pages.router,
    transparency_pages.router,
    transparency_records_pages.router,
    transparency_records_admin.router,
    notify_pages.router,
    web_install.router,
)

# What the layout of every signed-in page shows besides the page (``web.render.show``).
LAYOUT_CONTEXT: tuple[LayoutContext, ...] = (
    notify_pages.layout_context,
    camera_pages.layout_context,
)

# The short line of an alert in a list, by topic, from the domain that sends it.
ALERT_SUMMARIES: dict[str, Summarizer] = {
    footage_summaries.ALERT_TOPIC: footage_summaries.alert_summaries,
}


def include_all(app: FastAPI) -> None:
    """Mount the JSON API (under ``/api/v1``) and the HTML pages on the app, and give the
    pages' layout its context providers and the route guard its early checks."""
    for router in (*API_ROUTERS, *PAGE_ROUTERS, operations.router):
        app.include_router(router)
    app.state.agency_dashboard_requests = footage_agency_pages.dashboard_requests
    app.state.early_authenticators = EarlyAuthenticators(
        user=account_deps.authenticate_api_user, camera=camera_uploads.authenticate_device
    )
    app.state.layout_context = LAYOUT_CONTEXT
    app.state.subject_opened = notify_pages.subject_opened
    app.state.alert_summaries = ALERT_SUMMARIES
