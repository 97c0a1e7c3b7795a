"""The feed API's one-pass page (``feed.api_page``): the same answers as the dependency
path (``timeline.feed``) for residents with different homes and radii, a moderator,
filters, pages and cursors; a moved home and a revoked token take effect on the next
request; two statements a page; the token's use recorded every few minutes; the caller
authenticated before a body is read."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from doorstep.accounts import api_tokens
from doorstep.accounts.models import ApiToken, Role, User
from doorstep.db import utcnow
from doorstep.feed import moderation, timeline
from doorstep.feed.models import Category
from doorstep.feed.schemas import FeedPage
from doorstep.runtime import Runtime
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    Person,
    feed_ids,
    make_camera,
    make_person,
    make_post,
    set_home,
)

FEED = "/api/v1/feed"

# Places around the home, about 0.3 to 3 km away, so that radii of 0.5 to 2 miles see
# different posts.
_OFFSETS = [(0.0, 0.0), (0.003, 0.002), (-0.006, 0.004), (0.012, -0.01), (-0.02, 0.015)]


def _expected(runtime: Runtime, viewer: Person, params: dict[str, Any]) -> dict[str, Any]:
    """The page the dependency path gives (``timeline.feed``), as the JSON the API sends."""
    with runtime.db.read_only() as session:
        user = session.get(User, viewer.user.id)
        assert user is not None
        ask = timeline.PageAsk(
            params.get("category"),
            params.get("since"),
            params.get("until"),
            params.get("cursor"),
            params.get("limit", 30),
        )
        page = timeline.feed(session=session, viewer=user, ask=ask)
    answer: dict[str, Any] = json.loads(
        FeedPage(posts=page.posts, next_cursor=page.next_cursor).model_dump_json()
    )
    return answer


def _query(params: dict[str, Any]) -> dict[str, Any]:
    sent = dict(params)
    for name in ("since", "until"):
        if name in sent:
            sent[name] = sent[name].isoformat()
    return sent


def _walk_both(client: TestClient, runtime: Runtime, viewer: Person, params: dict[str, Any]) -> int:
    """Every page of ``params`` from the API and from the dependency path, compared;
    returns how many posts the walk saw."""
    seen = 0
    cursor = None
    while True:
        asked = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(FEED, headers=viewer.headers, params=_query(asked))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body == _expected(runtime, viewer, asked)
        # What the route writes without validating it again reads back as a FeedPage.
        assert FeedPage.model_validate(body).model_dump(mode="json") == body
        seen += len(body["posts"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_the_one_pass_page_equals_the_dependency_paths(
    client: TestClient, runtime: Runtime
) -> None:
    authors = [make_person(runtime) for _ in range(3)]
    for author in authors:
        set_home(runtime, author)
    categories = list(Category)
    posts = []
    for n in range(24):
        lat, lng = _OFFSETS[n % len(_OFFSETS)]
        posts.append(
            make_post(
                runtime,
                authors[n % 3],
                title=f"Post number {n}",
                category=categories[n % len(categories)],
                lat=HOME_LAT + lat,
                lng=HOME_LNG + lng,
            )
        )
    moderator = make_person(runtime, role=Role.moderator)
    set_home(runtime, moderator, radius_mi=2.0)
    with runtime.db.transaction() as session:
        actor = session.get(User, moderator.user.id)
        assert actor is not None
        moderation.hide_post(
            session=session, actor=actor, post_id=posts[5].id, reason="Off topic here."
        )
    residents = [
        (authors[0], None),  # sees his own posts as his (is_mine, clip status)
        (make_person(runtime), 0.5),
        (make_person(runtime), 1.0),
        (make_person(runtime), 2.0),
        (moderator, None),
    ]
    for resident, radius_mi in residents:
        if radius_mi is not None:
            set_home(runtime, resident, lat=HOME_LAT + 0.001, radius_mi=radius_mi)
    middle = posts[12].published_at
    assert middle is not None
    asks: list[dict[str, Any]] = [
        {},
        {"limit": 4},
        {"limit": 3, "category": [Category.safety.value, Category.lost_found_pet.value]},
        {"limit": 5, "since": middle - timedelta(seconds=1)},
        {"limit": 2, "until": middle},
    ]
    seen = {
        (str(resident.user.id), n): _walk_both(client, runtime, resident, ask)
        for resident, _radius in residents
        for n, ask in enumerate(asks)
    }
    assert max(seen.values()) >= 20 and min(seen.values()) >= 1
    # The radii see different posts: the comparison covers more than one answer.
    assert len({seen[(str(r.user.id), 0)] for r, _ in residents}) > 1


def test_a_moved_home_takes_effect_on_the_next_request(
    client: TestClient, runtime: Runtime
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    here = make_post(runtime, author, title="Near the first home")
    there = make_post(
        runtime, author, title="Near the second home", lat=HOME_LAT + 0.12, lng=HOME_LNG
    )
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    assert feed_ids(client, viewer) == [str(here.id)]
    set_home(runtime, viewer, lat=HOME_LAT + 0.12)
    assert feed_ids(client, viewer) == [str(there.id)]
    # Half-way (6.7 km from each): nothing within half a mile, both within five.
    set_home(runtime, viewer, lat=HOME_LAT + 0.06, radius_mi=0.5)
    assert feed_ids(client, viewer) == []
    set_home(runtime, viewer, lat=HOME_LAT + 0.06, radius_mi=5.0)
    assert sorted(feed_ids(client, viewer)) == sorted([str(here.id), str(there.id)])


def _resident_near_a_post(runtime: Runtime) -> Person:
    """A resident with a home, and a neighbour's post in his feed."""
    author = make_person(runtime)
    set_home(runtime, author)
    make_post(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    return viewer


def _refusal(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:
    r = client.get(FEED, headers=headers)
    return r.status_code, r.json()["error"]["code"]


def test_a_revoked_token_is_refused_on_the_next_request(
    client: TestClient, runtime: Runtime
) -> None:
    viewer = _resident_near_a_post(runtime)
    assert len(feed_ids(client, viewer)) == 1
    with runtime.db.transaction() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.user_id == viewer.user.id)).one()
        api_tokens.revoke_api_token(session=session, user=viewer.user, token_id=row.id)
    assert _refusal(client, viewer.headers) == (401, "invalid_token")

    # A deactivated user's live token is refused too.
    other = make_person(runtime)
    set_home(runtime, other)
    assert len(feed_ids(client, other)) == 1
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.id == other.user.id).values(is_active=False))
    assert _refusal(client, other.headers) == (401, "invalid_token")


def test_refusals_are_the_dependency_paths(client: TestClient, runtime: Runtime) -> None:
    assert _refusal(client, {}) == (401, "token_required")
    assert _refusal(client, {"Authorization": "Bearer dsk_nothing"}) == (401, "invalid_token")
    owner = make_person(runtime)
    camera = make_camera(runtime, owner.user)
    assert _refusal(client, camera.headers) == (401, "camera_token")
    homeless = make_person(runtime)
    assert _refusal(client, homeless.headers) == (409, "home_required")
    set_home(runtime, homeless)
    r = client.get(FEED, headers=homeless.headers, params={"since": "2026-01-01T00:00:00"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = client.get(FEED, headers=homeless.headers, params={"cursor": "garbage!"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"


def _last_use(runtime: Runtime, person: Person) -> Any:
    with runtime.db.read_only() as session:
        return session.scalar(
            select(ApiToken.last_used_at).where(ApiToken.user_id == person.user.id)
        )


def test_a_page_is_one_statement_once_the_home_is_known_and_the_use_is_recorded(
    client: TestClient, runtime: Runtime
) -> None:
    viewer = _resident_near_a_post(runtime)
    assert _last_use(runtime, viewer) is None
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.split()[0].upper()
        if verb not in ("PRAGMA", "BEGIN"):  # SQLite's own transaction set-up
            statements.append(verb)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        # The first page: the token with its user and home, the page, the use recorded.
        assert len(feed_ids(client, viewer)) == 1
        assert statements == ["SELECT", "SELECT", "UPDATE"]
        first = _last_use(runtime, viewer)
        assert first is not None
        # The next: the caller and the page in one statement, nothing written.
        statements.clear()
        assert len(feed_ids(client, viewer)) == 1
        assert statements == ["SELECT"]
        assert _last_use(runtime, viewer) == first
        with runtime.db.transaction() as session:
            session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == viewer.user.id)
                .values(last_used_at=utcnow() - timedelta(minutes=10))
            )
        statements.clear()
        assert len(feed_ids(client, viewer)) == 1
        assert statements == ["SELECT", "UPDATE"]
        # A moved home: the one statement finds no caller, the two-statement way answers.
        set_home(runtime, viewer, lat=HOME_LAT + 0.12)
        statements.clear()
        assert feed_ids(client, viewer) == []
        assert statements == ["SELECT", "SELECT", "SELECT"]
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    assert _last_use(runtime, viewer) > first


def test_a_revoked_token_with_a_bad_cursor_is_refused_for_the_token(
    client: TestClient, runtime: Runtime
) -> None:
    viewer = _resident_near_a_post(runtime)
    assert len(feed_ids(client, viewer)) == 1  # his home is known
    with runtime.db.transaction() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.user_id == viewer.user.id)).one()
        api_tokens.revoke_api_token(session=session, user=viewer.user, token_id=row.id)
    r = client.get(FEED, headers=viewer.headers, params={"cursor": "garbage!"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_the_caller_is_authenticated_before_a_body_is_read(
    client: TestClient, runtime: Runtime
) -> None:
    """A body larger than the server takes, with no valid token: refused for the token
    (the route is behind a user principal), not read up to the body limit."""
    too_big = b"x" * (runtime.settings.max_body_bytes + 1)
    r = client.request("GET", FEED, content=too_big)
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_required"
    r = client.request("GET", FEED, content=too_big, headers={"Authorization": "Bearer dsk_x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_the_openapi_document_keeps_the_feeds_credentials_and_refusals(
    client: TestClient,
) -> None:
    operation = client.get("/api/v1/openapi.json").json()["paths"][FEED]["get"]
    assert operation["security"] == [{"userToken": []}]
    assert {"400", "401", "403", "409", "422"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeedPage"
    }
