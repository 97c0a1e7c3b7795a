"""Feed factories and helpers: real homes and posts, made through the services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep import geo
from doorstep.accounts.models import User
from doorstep.feed import homes
from doorstep.feed import service as feed_service
from doorstep.feed.models import Category, Post
from doorstep.feed.schemas import PersonFields
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime
from tests.factories import PASSWORD, Person
from tests.pages import HTML, csrf_of

# Philadelphia, City Hall: a home with more digits than any cell centre shares.
HOME_LAT, HOME_LNG = 39.952345678, -75.163456789


def set_home(
    runtime: Runtime,
    person: Person,
    *,
    lat: float = HOME_LAT,
    lng: float = HOME_LNG,
    radius_mi: float = 1.0,
    alerts: list[Category] | None = None,
) -> None:
    with runtime.db.transaction() as session:
        homes.set_home(
            session=session,
            owner=session.merge(person.user),
            latitude=lat,
            longitude=lng,
            radius_mi=radius_mi,
            alert_categories=alerts or [],
        )


def make_post(
    runtime: Runtime,
    author: Person,
    *,
    title: str = "Fence knocked over on the corner",
    body: str = "Someone drove into the fence overnight; watch out for the boards.",
    category: Category = Category.safety,
    lat: float | None = None,
    lng: float | None = None,
    person: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Post:
    with runtime.db.transaction() as session:
        return feed_service.create_post(
            session=session,
            author=session.merge(author.user),
            category=category,
            title=title,
            body=body,
            person=PersonFields(**person) if person else None,
            latitude=lat,
            longitude=lng,
            **kwargs,
        )


def post_at_cell(runtime: Runtime, author: Person, cell: int, **kwargs: Any) -> Post:
    """A post whose area is exactly ``cell`` (placed at the cell's centre)."""
    lat, lng = geo.cell_center(cell)
    return make_post(runtime, author, lat=lat, lng=lng, **kwargs)


def notifications(runtime: Runtime, person: Person) -> list[Notification]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == person.user.id)
                .order_by(Notification.created_at)
            )
        )


def feed_ids(client: TestClient, person: Person, **params: Any) -> list[str]:
    r = client.get("/api/v1/feed", headers=person.headers, params=params)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["posts"]]


def ids(*posts: Post) -> list[str]:
    return [str(p.id) for p in posts]


def new_uuid() -> str:
    return str(uuid.uuid4())


# ---------------------------------------------------------------- pages





def sign_in(client: TestClient, email: str, runtime: Runtime | None = None) -> str:
    """Sign in through the form (with the second factor when the account has one: pass the
    runtime to read its secret); returns the session's CSRF token."""
    page = client.get("/signin", headers=HTML)
    r = client.post(
        "/signin",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    if r.headers["location"].startswith("/signin/2fa"):
        assert runtime is not None, "this account has two-factor sign-in: pass the runtime"
        with runtime.db.transaction() as session:
            secret = session.scalar(select(User.totp_secret).where(User.email == email))
        assert secret
        # The setup used the current step; a code is accepted once, so take the next one.
        code = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))
        page = client.get(r.headers["location"], headers=HTML)
        r = client.post(
            "/signin/2fa",
            data={"csrf_token": csrf_of(page.text), "code": code, "next": "/feed"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    return csrf_of(client.get("/account", headers=HTML).text)
