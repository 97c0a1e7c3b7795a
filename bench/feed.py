"""Feed at scale: the first page and a later page of the feed for random residents.

    .venv/bin/python -m bench generate --db URL --cameras 1000000 --posts 1000000 ...
    .venv/bin/python -m bench.feed --db URL [--residents 1000] [--seed 7]

Times doorstep.feed.service.feed for 1,000 random residents with a feed home: the first
page, then follows next_cursor three times and times the fourth page. Writes
bench/results/feed-<UTC timestamp>.json and prints p50/p99 of both. Method and numbers:
BENCHMARKS.md.

For random residents with a feed home it times :func:`doorstep.feed.service.feed` as the
product runs it (the home lookup, the coarse cells within the radius, the one keyset
query), first for the first page, then following ``next_cursor`` three times and timing
the fourth page (the "later" page). Each call runs in its own session with the
transaction already open and the viewer already loaded (the API's authentication has
loaded him before the feed runs), so connection checkout is not timed. Caches are warm.
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
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bench import databases, output
from bench.machine import machine
from doorstep.accounts.models import User
from doorstep.db import make_engine
from doorstep.feed import areas
from doorstep.feed import service as feed_service
from doorstep.feed.models import Home, Post, PostStatus

__all__ = ["run", "summary", "write_results"]

PAGES_FOLLOWED = 3  # the later page is the one after following next_cursor this often


def _timed_page(
    engine: Engine, viewer_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[float, int, str | None]:
    with Session(engine) as session:
        viewer = session.get(User, viewer_id)  # loaded by authentication, not timed
        assert viewer is not None
        started = time.perf_counter()
        page = feed_service.feed(session=session, viewer=viewer, cursor=cursor, limit=limit)
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


def _explain(engine: Engine, viewer_id: uuid.UUID, cursor: str | None, limit: int) -> list[str]:
    with Session(engine) as session:
        home = session.scalar(select(Home).where(Home.user_id == viewer_id))
        assert home is not None
        cells = areas.cells_within(home.exact_latitude, home.exact_longitude, home.radius_m)
        compiled = feed_service.feed_statement(cells=cells, cursor=cursor, limit=limit).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
        )
        plan = (
            session.connection()
            .exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params)
            .scalars()
        )
        return [str(line) for line in plan]


@output.warnings_only
def run(
    *,
    url: str,
    residents: int = 1_000,
    seed: int = 7,
    warmup: int = 50,
    limit: int = 30,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the feed benchmark on the database at ``url``; returns the results."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    engine = make_engine(url)
    try:
        return _measure(
            engine=engine,
            url=url,
            residents=residents,
            seed=seed,
            warmup=warmup,
            limit=limit,
            say=say,
        )
    finally:
        engine.dispose()


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
    """Seconds and posts of every first and later page timed; the residents without a
    later page; one resident (and cursor) whose later page the plans explain."""

    first_s: list[float] = field(default_factory=list)
    later_s: list[float] = field(default_factory=list)
    first_posts: list[int] = field(default_factory=list)
    later_posts: list[int] = field(default_factory=list)
    short: int = 0
    median_cursor: tuple[uuid.UUID, str | None] | None = None


def _time_pages(
    engine: Engine, viewers: Sequence[uuid.UUID], limit: int, say: Callable[[str], None]
) -> _Pages:
    pages = _Pages()
    for i, viewer_id in enumerate(viewers):
        f_s, f_n, l_s, l_n, cursor = _resident_pages(engine, viewer_id, limit)
        pages.first_s.append(f_s)
        pages.first_posts.append(f_n)
        if l_s is None:
            pages.short += 1
        else:
            pages.later_s.append(l_s)
            pages.later_posts.append(l_n)
            if pages.median_cursor is None:
                pages.median_cursor = (viewer_id, cursor)
        if (i + 1) % 200 == 0:
            say(f"  {i + 1:,}/{len(viewers):,}")
    return pages


def _resident_facts(
    pages: _Pages, *, residents: int, warmup: int, seed: int, limit: int
) -> dict[str, Any]:
    return {
        "count": residents,
        "warmup": warmup,
        "seed": seed,
        "page_size": limit,
        "later_page": PAGES_FOLLOWED + 1,
        "first_page_posts": {
            "p50": statistics.median(pages.first_posts),
            "min": min(pages.first_posts),
            "max": max(pages.first_posts),
        },
        "with_later_page": len(pages.later_s),
        "without_later_page": pages.short,
        "later_page_posts": (
            {"p50": statistics.median(pages.later_posts), "min": min(pages.later_posts)}
            if pages.later_posts
            else None
        ),
    }


def _measure(
    *,
    engine: Engine,
    url: str,
    residents: int,
    seed: int,
    warmup: int,
    limit: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "benchmark": "feed",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    results["database"], homes = _database_facts(engine, url)
    published, server = (
        results["database"]["published_posts"],
        results["database"]["server_version"],
    )
    say(f"{published:,} published posts, {len(homes):,} residents ({engine.dialect.name} {server})")

    picks = rng.choice(len(homes), size=warmup + residents, replace=False)
    viewers = [homes[int(i)] for i in picks]
    for viewer_id in viewers[:warmup]:
        _resident_pages(engine, viewer_id, limit)

    say(f"timing {residents:,} residents (first page, then page {PAGES_FOLLOWED + 1})")
    pages = _time_pages(engine, viewers[warmup:], limit, say)
    results["residents"] = _resident_facts(
        pages, residents=residents, warmup=warmup, seed=seed, limit=limit
    )
    results["first_page"] = output.percentiles(pages.first_s)
    results["later_page"] = output.percentiles(pages.later_s) if pages.later_s else None
    worst = max(results["first_page"]["p99_ms"], (results["later_page"] or {}).get("p99_ms", 0.0))
    results["goals"] = {"p99_under_20ms": worst < 20.0}
    if engine.dialect.name == "postgresql" and pages.median_cursor is not None:
        viewer_id, cursor = pages.median_cursor
        results["plans"] = {
            "first_page": _explain(engine, viewer_id, None, limit),
            "later_page": _explain(engine, viewer_id, cursor, limit),
        }
    return results


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("feed", results, folder)


def summary(results: dict[str, Any]) -> str:
    first, later, who = results["first_page"], results["later_page"], results["residents"]
    lines = [f"first page:  p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms"]
    if later is not None:
        lines.append(
            f"page {who['later_page']}:      p50 {later['p50_ms']} ms, p99 {later['p99_ms']} ms"
            f" ({who['with_later_page']}/{who['count']} residents had one)"
        )
    else:
        lines.append("later page:  NOT MEASURED (no resident had that many posts)")
    lines.append(f"goal p99 < 20 ms: {'met' if results['goals']['p99_under_20ms'] else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--residents", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--limit", type=int, default=30, help="posts per page")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    results = run(
        url=args.db, residents=args.residents, seed=args.seed, warmup=args.warmup, limit=args.limit
    )
    path = write_results(results, args.out)
    print(summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
