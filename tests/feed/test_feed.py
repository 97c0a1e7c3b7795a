"""The feed: radius (just inside, just outside, a brute-force oracle), keyset pagination that
stays put while new posts arrive, filters, the GeoJSON map, and the H3 index in the plan."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from h3.api import basic_int as h3_int
from sqlalchemy import event, insert, text, update

from doorstep import geo
from doorstep.db import new_id, utcnow
from doorstep.feed import areas, timeline
from doorstep.feed.models import Category, Post, PostStatus
from doorstep.runtime import Runtime
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    feed_ids,
    ids,
    make_person,
    make_post,
    post_at_cell,
    set_home,
)

MILE = areas.METRES_PER_MILE


def _cell_at_distance(target_m: float) -> tuple[int, float]:
    """A coarse cell near home whose centre lies about ``target_m`` away, with its distance."""
    origin = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    best = min(
        h3_int.grid_disk(origin, 20),
        key=lambda c: abs(areas.centre_distance_m(HOME_LAT, HOME_LNG, c) - target_m),
    )
    return int(best), areas.centre_distance_m(HOME_LAT, HOME_LNG, best)


def test_post_just_inside_and_just_outside_the_radius(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author, lat=40.2, lng=-75.5)  # far away: its own posts are elsewhere
    cell, distance_m = _cell_at_distance(1.7 * MILE)
    post = post_at_cell(runtime, author, cell)

    inside = make_person(runtime)
    set_home(runtime, inside, radius_mi=(distance_m + 2) / MILE)
    outside = make_person(runtime)
    set_home(runtime, outside, radius_mi=(distance_m - 2) / MILE)

    assert feed_ids(client, inside) == ids(post)
    assert feed_ids(client, outside) == []
    assert client.get("/api/v1/feed/map", headers=outside.headers).json()["features"] == []

    # The area is the cell: posting from anywhere inside the same cell changes nothing.
    lat, lng = geo.cell_center(cell)
    boundary = h3_int.cell_to_boundary(cell)
    near_edge = (
        lat + 0.9 * (boundary[0][0] - lat),
        lng + 0.9 * (boundary[0][1] - lng),
    )
    assert geo.cell_of(*near_edge, geo.COARSE_RESOLUTION) == cell
    second = make_post(runtime, author, lat=near_edge[0], lng=near_edge[1])
    assert feed_ids(client, inside) == ids(second, post)
    assert feed_ids(client, outside) == []


def test_feed_matches_a_brute_force_oracle(client: TestClient, runtime: Runtime) -> None:
    rnd = random.Random(7)
    author = make_person(runtime)
    set_home(runtime, author, lat=45.0, lng=-100.0)
    origin = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    cells = rnd.sample(sorted(h3_int.grid_disk(origin, 14)), 60)
    posts = [post_at_cell(runtime, author, c, title=f"Post {i}") for i, c in enumerate(cells)]

    for radius_mi in (0.5, 1.0, 2.3, 5.0):
        viewer = make_person(runtime)
        set_home(runtime, viewer, radius_mi=radius_mi)
        expected = {
            str(p.id)
            for p in posts
            if areas.centre_distance_m(HOME_LAT, HOME_LNG, p.coarse_cell) <= radius_mi * MILE
        }
        got = feed_ids(client, viewer, limit=100)
        assert set(got) == expected, radius_mi
        assert len(got) == len(expected)


def test_cells_within_equals_a_wide_brute_force() -> None:
    rnd = random.Random(3)
    for _ in range(25):
        lat, lng = rnd.uniform(-80, 80), rnd.uniform(-179, 179)
        radius_m = rnd.uniform(areas.miles_to_m(0.5), areas.MAX_RADIUS_M + areas.CELL_REACH_M)
        origin = geo.cell_of(lat, lng, geo.COARSE_RESOLUTION)
        wide = h3_int.grid_disk(origin, 40)
        expected = sorted(int(c) for c in wide if areas.centre_distance_m(lat, lng, c) <= radius_m)
        assert areas.cells_within(lat, lng, radius_m) == expected


def test_the_viewer_needs_a_home(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    r = client.get("/api/v1/feed", headers=person.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "home_required"
    r = client.get("/api/v1/feed/home", headers=person.headers)
    assert r.status_code == 409
    r = client.put(
        "/api/v1/feed/home",
        headers=person.headers,
        json={"latitude": HOME_LAT, "longitude": HOME_LNG, "radius_mi": 6},
    )
    assert r.status_code == 422
    r = client.put(
        "/api/v1/feed/home",
        headers=person.headers,
        json={"latitude": HOME_LAT, "longitude": HOME_LNG},
    )
    assert r.status_code == 200 and r.json()["radius_mi"] == 1.0
    assert r.json()["latitude"] == HOME_LAT  # his own view
    assert client.get("/api/v1/feed", headers=person.headers).json() == {
        "posts": [],
        "next_cursor": None,
    }


def _walk(client: TestClient, viewer: Any, limit: int, between: Any = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/feed", headers=viewer.headers, params=params).json()
        seen += [p["id"] for p in body["posts"]]
        cursor = body["next_cursor"]
        if between is not None:
            between()
        if cursor is None:
            return seen


def test_pagination_is_stable_while_new_posts_arrive(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    posts = [make_post(runtime, author, title=f"Post {i}") for i in range(8)]
    # Three posts share one publication instant: the id breaks the tie, none is lost.
    same = utcnow() - timedelta(minutes=5)
    with runtime.db.transaction() as session:
        session.execute(
            update(Post).where(Post.id.in_([p.id for p in posts[2:5]])).values(published_at=same)
        )
    expected = feed_ids(client, viewer, limit=100)
    assert sorted(expected) == sorted(ids(*posts))

    arrived: list[Post] = []

    def more() -> None:
        arrived.append(make_post(runtime, author, title=f"New {len(arrived)}"))

    walked = _walk(client, viewer, 3, between=more)
    assert walked == expected  # no duplicates, nothing skipped, new posts not mixed in
    assert feed_ids(client, viewer, limit=100)[: len(arrived)] == ids(*reversed(arrived))

    r = client.get("/api/v1/feed", headers=viewer.headers, params={"cursor": "garbage!"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"


def test_filters_by_category_and_date(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    pet = make_post(runtime, author, category=Category.lost_found_pet, title="Grey cat found")
    fair = make_post(runtime, author, category=Category.community, title="Street fair")
    old = make_post(runtime, author, category=Category.safety, title="Old pothole")
    with runtime.db.transaction() as session:
        session.execute(
            update(Post)
            .where(Post.id == old.id)
            .values(published_at=datetime(2026, 1, 10, 12, tzinfo=UTC))
        )
    assert feed_ids(client, viewer, category="lost_found_pet") == ids(pet)
    assert set(feed_ids(client, viewer, category=["lost_found_pet", "community"])) == set(
        ids(pet, fair)
    )
    assert feed_ids(client, viewer, until="2026-02-01T00:00:00Z") == ids(old)
    assert old.id not in feed_ids(client, viewer, since="2026-02-01T00:00:00Z")
    assert (
        client.get(
            "/api/v1/feed", headers=viewer.headers, params={"category": "weather"}
        ).status_code
        == 422
    )


def test_map_is_geojson_of_coarse_cells(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    post = make_post(runtime, author, title="Loose dog")
    r = client.get("/api/v1/feed/map", headers=author.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["next_cursor"] is None
    (feature,) = body["features"]
    assert feature["id"] == str(post.id)
    assert feature["geometry"] == geo.cell_geojson(post.coarse_cell)
    assert feature["properties"]["title"] == "Loose dog"
    assert feature["properties"]["url"] == f"/posts/{post.id}"
    assert post.coarse_cell == geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)


def _seed_many_posts(runtime: Runtime, author_id: Any, n: int = 4000) -> None:
    """Bulk rows for the planner only (thousands of posts through the service would be slow):
    a realistic spread of cells over a region, so the index is worth using."""
    rnd = random.Random(11)
    origin = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    region = sorted(h3_int.grid_disk(origin, 60))
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "author_id": author_id,
            "category": rnd.choice(list(Category)),
            "title": "Seed",
            "body": "Seed",
            "coarse_cell": int(rnd.choice(region)),
            "status": PostStatus.published,
            "created_at": now,
            "published_at": now - timedelta(minutes=rnd.randint(0, 100_000)),
        }
        for _ in range(n)
    ]
    with runtime.db.transaction() as session:
        session.execute(insert(Post), rows)


def test_feed_query_uses_the_h3_index(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    _seed_many_posts(runtime, author.user.id)
    engine = runtime.db.engine
    with engine.begin() as conn:
        conn.execute(text("ANALYZE feed_posts" if runtime.db.is_postgres else "ANALYZE"))

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # The keyset query over the cells (SQLite), or their per-cell merge (PostgreSQL).
        if "coarse_cell IN" in statement or "coarse_cell = home_cells.cell" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        first = client.get(
            "/api/v1/feed", headers=author.headers, params={"limit": 5, "category": "crime"}
        ).json()
        client.get(
            "/api/v1/feed",
            headers=author.headers,
            params={"limit": 5, "cursor": first["next_cursor"], "since": "2026-01-01T00:00:00Z"},
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(captured) == 2
    for statement, parameters in captured:
        with engine.connect() as conn:
            if runtime.db.is_postgres:
                plan = "\n".join(
                    row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)
                )
                assert "Seq Scan on feed_posts" not in plan, plan
            else:
                plan = "\n".join(
                    str(row[-1])
                    for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                )
                assert "SCAN feed_posts" not in plan.replace("USING INDEX", "~"), plan
        assert "ix_feed_posts_coarse_cell_published_at" in plan, plan


def test_feed_statement_reads_only_the_cells_in_the_radius() -> None:
    cells = areas.cells_within(HOME_LAT, HOME_LNG, 5 * MILE)
    assert 200 < len(cells) < 400  # a 5-mile radius is a few hundred coarse cells
    sql = str(timeline.feed_statement(timeline.PageQuery(cells=cells)).compile())
    assert "feed_posts.coarse_cell IN" in sql
    assert "ORDER BY feed_posts.published_at DESC, feed_posts.id DESC" in sql
