"""Feed at scale: the first page and a later page of the feed for random residents, at
one density of posts and, in the same run, at ten times the posts in the same cells.

    .venv/bin/python -m bench generate --db URL --cameras 100000 --events 0 --posts 100000
    .venv/bin/python -m bench generate --db DENSE --cameras 100000 --events 0 --posts 1000000
    .venv/bin/python -m bench.feed --db URL [--dense-db DENSE] [--rounds 3] [--residents 1000]

Two databases generated with the same seed and cameras hold the same residents and homes
(the generator places them before the posts), so the second one is the first with ten
times the posts in the same cells. Each round times, for the same random residents on
each database in turn:

- **the page**, :func:`doorstep.feed.timeline.feed` as the product serves it (the home,
  its cells, the one statement that reads the page with its authors, comment counts and
  clips, and the views), then its JSON as the API writes it (``FeedPage``): the first
  page, and the fourth after following ``next_cursor`` three times (the "later" page);
- **the page's keys alone** by the two queries: the plain keyset query over all the cells
  (``feed_statement``, the query the feed ran before, SQLite's) and the per-cell merge
  (``newest_per_cell_statement``, PostgreSQL's), first page: the baseline in the same run.

Each call runs in its own session with the transaction open and the viewer loaded (the
API's authentication loads him first), so connection checkout is not timed. Caches are
warm. Writes bench/results/feed-<UTC timestamp>.json and prints p50/p99 per round,
min/median/max over the rounds and the dense/plain ratios. Method and numbers:
BENCHMARKS.md section 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bench import databases, output
from bench.feed_report import main_with, summary, write_results
from bench.machine import machine
from doorstep.accounts.models import User
from doorstep.db import make_engine
from doorstep.feed import areas, timeline
from doorstep.feed.models import Home, Post, PostStatus
from doorstep.feed.schemas import FeedPage

__all__ = ["run", "summary", "write_results"]

PAGES_FOLLOWED = 3  # the later page is the one after following next_cursor this often
KEY_QUERIES: dict[str, Callable[[timeline.PageQuery], timeline.PageKeys]] = {
    "keyset": timeline.feed_statement,
    "merge": timeline.newest_per_cell_statement,
}


def _timed_page(
    engine: Engine, viewer_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[float, int, str | None]:
    with Session(engine) as session:
        viewer = session.get(User, viewer_id)  # loaded by authentication, not timed
        assert viewer is not None
        started = time.perf_counter()
        page = timeline.feed(
            session=session, viewer=viewer, ask=timeline.PageAsk(cursor=cursor, limit=limit)
        )
        FeedPage(posts=page.posts, next_cursor=page.next_cursor).model_dump_json()
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, len(page.posts), page.next_cursor


def _resident_pages(
    engine: Engine, viewer_id: uuid.UUID, limit: int
) -> tuple[float, int, float | None, int, str | None]:
    """(first-page s, first-page posts, later-page s or None, later-page posts, cursor)."""
    first_s, first_n, cursor = _timed_page(engine, viewer_id, None, limit)
    for _ in range(PAGES_FOLLOWED):
        if cursor is None:
            return first_s, first_n, None, 0, None
        later_s, later_n, next_cursor = _timed_page(engine, viewer_id, cursor, limit)
        last_cursor, cursor = cursor, next_cursor
    return first_s, first_n, later_s, later_n, last_cursor


def _home_cells(session: Session, viewer_id: uuid.UUID) -> tuple[int, ...]:
    home = session.get(Home, viewer_id)
    assert home is not None
    return areas.home_cells(home.exact_latitude, home.exact_longitude, home.radius_m)


def _timed_keys(engine: Engine, viewer_id: uuid.UUID, query: str, limit: int) -> float:
    """Seconds for the first page's keys by one of the two queries (cells known)."""
    with Session(engine) as session:
        cells = _home_cells(session, viewer_id)
        statement = KEY_QUERIES[query](timeline.PageQuery(cells=cells, limit=limit))
        started = time.perf_counter()
        session.execute(statement).all()
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed


def _explain(engine: Engine, viewer_id: uuid.UUID, query: str, limit: int) -> list[str]:
    with Session(engine) as session:
        cells = _home_cells(session, viewer_id)
        statement = KEY_QUERIES[query](timeline.PageQuery(cells=cells, limit=limit))
        expanded = statement.compile(dialect=engine.dialect).construct_expanded_state()
        plan = (
            session.connection()
            .exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {expanded.statement}", expanded.parameters
            )
            .scalars()
        )
        return [str(line) for line in plan]


def _database_facts(engine: Engine, url: str) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """What the database holds, and the residents with a feed home."""
    with Session(engine) as session:
        posts = session.scalar(select(func.count()).select_from(Post)) or 0
        published = (
            session.scalar(
                select(func.count()).select_from(Post).where(Post.status == PostStatus.published)
            )
            or 0
        )
        homes = list(session.scalars(select(Home.user_id).order_by(Home.user_id)))
        server = databases.server_version(session)
    if not homes or not published:
        raise ValueError("the database has no homes or no posts: run `bench generate` first")
    facts = {
        "dialect": engine.dialect.name,
        "server_version": server,
        "url": make_url(url).render_as_string(hide_password=True),
        "feed_posts": posts,
        "published_posts": published,
        "residents_with_home": len(homes),
    }
    return facts, homes


@dataclass
class _Pages:
    """Seconds and posts of every page timed on one database in one round."""

    first_s: list[float] = field(default_factory=list)
    later_s: list[float] = field(default_factory=list)
    first_posts: list[int] = field(default_factory=list)
    later_posts: list[int] = field(default_factory=list)
    keys_s: dict[str, list[float]] = field(default_factory=dict)
    short: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "first_page": output.percentiles(self.first_s),
            "later_page": output.percentiles(self.later_s) if self.later_s else None,
            "keys": {query: output.percentiles(s) for query, s in self.keys_s.items()},
            "first_page_posts": {
                "p50": statistics.median(self.first_posts),
                "min": min(self.first_posts),
                "max": max(self.first_posts),
            },
            "with_later_page": len(self.later_s),
            "without_later_page": self.short,
        }


def _time_pages(
    engine: Engine, viewers: Sequence[uuid.UUID], limit: int, say: Callable[[str], None]
) -> _Pages:
    pages = _Pages()
    queries = list(KEY_QUERIES) if engine.dialect.name == "postgresql" else ["keyset"]
    for i, viewer_id in enumerate(viewers):
        f_s, f_n, l_s, l_n, _cursor = _resident_pages(engine, viewer_id, limit)
        pages.first_s.append(f_s)
        pages.first_posts.append(f_n)
        if l_s is None:
            pages.short += 1
        else:
            pages.later_s.append(l_s)
            pages.later_posts.append(l_n)
        # Alternate which query goes first, so neither always finds the other's pages warm.
        for query in queries if i % 2 else queries[::-1]:
            pages.keys_s.setdefault(query, []).append(_timed_keys(engine, viewer_id, query, limit))
        if (i + 1) % 500 == 0:
            say(f"  {i + 1:,}/{len(viewers):,}")
    return pages


@output.warnings_only
def run(
    *,
    url: str,
    dense_url: str | None = None,
    rounds: int = 3,
    residents: int = 1_000,
    seed: int = 7,
    warmup: int = 50,
    limit: int = 30,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the feed benchmark on the database at ``url`` (and the denser one at
    ``dense_url``, same residents); returns the results."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    urls = {"plain": url} | ({"dense": dense_url} if dense_url else {})
    engines = {label: make_engine(u) for label, u in urls.items()}
    try:
        return _measure(engines, urls, rounds, residents, seed, warmup, limit, say)
    finally:
        for engine in engines.values():
            engine.dispose()


def _measure(
    engines: dict[str, Engine],
    urls: dict[str, str],
    rounds: int,
    residents: int,
    seed: int,
    warmup: int,
    limit: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "benchmark": "feed",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "databases": {},
        "rounds": [],
    }
    homes: list[uuid.UUID] = []
    for label, engine in engines.items():
        facts, found = _database_facts(engine, urls[label])
        results["databases"][label] = facts
        say(f"{label}: {facts['published_posts']:,} published posts, {len(found):,} residents")
        if homes and found != homes:
            raise ValueError("the databases hold different residents: generate both alike")
        homes = found
    picks = np.random.default_rng(seed).choice(len(homes), size=warmup + residents, replace=False)
    viewers = [homes[int(i)] for i in picks]
    results["residents"] = {
        "count": residents,
        "warmup": warmup,
        "seed": seed,
        "page_size": limit,
        "later_page": PAGES_FOLLOWED + 1,
    }
    for engine in engines.values():
        _time_pages(engine, viewers[:warmup], limit, lambda _: None)
    for number in range(1, rounds + 1):
        figures = {}
        for label, engine in engines.items():
            say(f"round {number}/{rounds}, {label}: timing {residents:,} residents")
            figures[label] = _time_pages(engine, viewers[warmup:], limit, say).figures()
        results["rounds"].append(figures)
    results["plans"] = {
        label: {query: _explain(engine, viewers[warmup], query, limit) for query in KEY_QUERIES}
        for label, engine in engines.items()
        if engine.dialect.name == "postgresql"
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument(
        "--dense-db", help="the same residents with more posts in the same cells (optional)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--residents", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--limit", type=int, default=30, help="posts per page")
    main_with(parser, run)


if __name__ == "__main__":
    main()
