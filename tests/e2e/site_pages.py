"""Every page of the site, by who sees it, over a small world of one of each thing: the
pages the width and accessibility tests walk (a support module, not a test module)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.factories import (
    Person,
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    make_post,
    set_home,
    set_policy,
)

from doorstep.accounts.models import Role
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652

PUBLIC = ["/", "/signin", "/signup", "/transparency", "/transparency/agencies",
          "/transparency/requests", "/transparency/policy", "/transparency/audit",
          "/transparency/datasets"]  # fmt: skip
RESIDENT = ["/timeline", "/cameras", "/cameras/new", "/feed", "/feed/map", "/feed/home",
            "/feed/mine", "/feed/guidelines", "/posts/new", "/account", "/account/2fa",
            "/account/notifications", "/account/tokens", "/notifications", "/requests",
            "/agencies/apply"]  # fmt: skip
OFFICER = ["/agency", "/agency/requests/new", "/feed/tips"]
ADMIN = ["/admin/agencies", "/admin/records", "/moderation", "/moderation/requests"]


@dataclass
class Site:
    """Who signs in, and the pages each one sees (``None``: nobody signed in)."""

    visits: list[tuple[Person | None, list[str]]]
    officer: Person


def build_site(runtime: Runtime) -> Site:
    set_policy(runtime, moderator_review=False)
    resident = make_person(runtime)
    set_home(runtime, resident)
    camera = make_camera(runtime, resident.user, latitude=LAT, longitude=LNG).camera
    post = make_post(runtime, resident, lat=LAT, lng=LNG)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    moderator = make_person(runtime, role=Role.moderator)
    admin = make_person(runtime, role=Role.admin)
    resident_pages = [
        *RESIDENT,
        f"/cameras/{camera.id}",
        f"/cameras/{camera.id}/delete",
        f"/posts/{post.id}",
        f"/posts/{post.id}/edit",
        "/requests/shared",
        "/agency/invitations/accept",
    ]
    return Site(
        visits=[
            (None, [*PUBLIC, f"/transparency/agencies/{agency.id}"]),
            (resident, resident_pages),
            (officer, [*OFFICER, f"/agency/requests/{request_id}"]),
            (moderator, ["/moderation", "/moderation/requests", "/feed"]),
            (admin, ADMIN),
        ],
        officer=officer,
    )
