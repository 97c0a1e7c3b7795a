"""The feed's page query: the per-cell merge that PostgreSQL runs gives the same pages as
the plain keyset query over all the cells, and both equal a brute-force oracle, on a
seeded dataset with crowded cells, tied publication times, held and hidden posts,
categories, days and cursors. The page as a viewer sees it is built in one statement."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from h3.api import basic_int as h3_int
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from doorstep import geo, paging
from doorstep.db import new_id
from doorstep.feed import areas, timeline
from doorstep.feed.models import Category, Post, PostStatus
from doorstep.runtime import Runtime
from tests.factories import HOME_LAT, HOME_LNG, make_person, make_post, set_home

START = datetime(2026, 11, 1, tzinfo=UTC)
Key = tuple[uuid.UUID, datetime]


@dataclass(frozen=True)
class _Row:
    id: uuid.UUID
    cell: int
    category: Category
    status: PostStatus
    published_at: datetime | None


def _seed(runtime: Runtime, author_id: uuid.UUID, cells: list[int]) -> list[_Row]:
    """1,500 posts over ``cells``, most in the first few (a crowded centre), published on
    whole minutes of one day so that many share an instant; some held, rejected, hidden."""
    rnd = random.Random(16)
    weights = [40, 20, 10] + [2] * (len(cells) - 3)
    statuses = [PostStatus.published] * 8 + [
        PostStatus.pending,
        PostStatus.rejected,
        PostStatus.hidden,
    ]
    rows = []
    for _ in range(1500):
        status = rnd.choice(statuses)
        published = START + timedelta(minutes=rnd.randint(0, 600))
        rows.append(
            _Row(
                id=new_id(),
                cell=rnd.choices(cells, weights)[0],
                category=rnd.choice(list(Category)),
                status=status,
                published_at=None if status == PostStatus.pending else published,
            )
        )
    with runtime.db.transaction() as session:
        session.execute(
            insert(Post),
            [
                {
                    "id": r.id,
                    "author_id": author_id,
                    "category": r.category,
                    "title": "Seed",
                    "body": "Seed",
                    "coarse_cell": r.cell,
                    "status": r.status,
                    "created_at": START,
                    "published_at": r.published_at,
                }
                for r in rows
            ],
        )
    return rows


def _oracle(
    rows: list[_Row],
    cells: set[int],
    categories: list[Category] | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> list[Key]:
    after = paging.decode_cursor(cursor) if cursor else None
    found = [
        (r.published_at, r.id)
        for r in rows
        if r.status == PostStatus.published
        and r.published_at is not None
        and r.cell in cells
        and (not categories or r.category in categories)
        and (since is None or r.published_at >= since)
        and (until is None or r.published_at < until)
        and (after is None or (r.published_at, r.id) < after)
    ]
    found.sort(reverse=True)
    return [(post_id, at) for at, post_id in found[: limit + 1]]


def _keys(session: Session, statement: timeline.PageKeys) -> list[Key]:
    return [(post_id, at) for post_id, at in session.execute(statement) if at is not None]


def test_the_per_cell_merge_gives_the_keyset_querys_pages(runtime: Runtime) -> None:
    author = make_person(runtime)
    origin = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    cells = sorted(int(c) for c in h3_int.grid_disk(origin, 2))
    rows = _seed(runtime, author.user.id, cells)
    rnd = random.Random(5)
    compared = 0
    with runtime.db.transaction() as session:
        by_cell = runtime.db.is_postgres
        for _ in range(120):
            # A random part of the area, now and then with cells that hold no post.
            asked = rnd.sample(cells, rnd.randint(1, len(cells))) + rnd.choice([[], [origin + 1]])
            categories = rnd.choice([None, rnd.sample(list(Category), rnd.randint(1, 3))])
            since = rnd.choice([None, START + timedelta(minutes=rnd.randint(0, 300))])
            until = rnd.choice([None, START + timedelta(minutes=rnd.randint(300, 600))])
            limit = rnd.choice([1, 3, 30, 100])
            cursor = None
            for _page in range(4):
                query = timeline.PageQuery(
                    cells=asked,
                    categories=categories,
                    since=since,
                    until=until,
                    cursor=cursor,
                    limit=limit,
                )

                expected = _oracle(rows, set(asked), categories, since, until, cursor, limit)
                assert _keys(session, timeline.feed_statement(query)) == expected
                if by_cell:
                    assert _keys(session, timeline.newest_per_cell_statement(query)) == expected
                compared += 1
                if len(expected) <= limit:
                    break
                cursor = paging.encode_cursor(expected[limit - 1][1], expected[limit - 1][0])
    assert compared > 200


def test_a_page_is_one_statement_and_its_cells_are_remembered(
    client: TestClient, runtime: Runtime
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    posts = [make_post(runtime, author, title=f"Post {i}") for i in range(5)]
    areas.home_cells.cache_clear()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            body = client.get("/api/v1/feed", headers=author.headers, params={"limit": 2}).json()
            assert [p["id"] for p in body["posts"]] == [str(p.id) for p in posts[:-3:-1]]
            assert body["posts"][0]["author_name"] and body["posts"][0]["comment_count"] == 0
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    # Each request: the home, then the page with its authors, counts and clips.
    assert sum("FROM feed_posts" in s for s in statements) == 3
    assert sum("feed_comments" in s for s in statements) == 3
    info = areas.home_cells.cache_info()
    assert info.misses == 1 and info.hits == 2
