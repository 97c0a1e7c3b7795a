"""What the HTTP benchmark asks for: its endpoints (each a name, the paths it rotates
through, the ``Accept`` header, whether it takes a resident's token), and one call of
every token and every log page before anything is timed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from bench.plain_app import PLAIN_BARE_PATH, PLAIN_SELECT_PATH
from bench.request_log import CASE_PREFIX
from bench.servers import BARE_PATH, BARE_SYNC_PATH, PLAIN, Servers
from bench.wrk import Endpoint

FEED_PATH = "/api/v1/feed"

LOG_HTML_PATHS = (
    "/transparency/requests",
    "/transparency/requests?page=2",
    "/transparency/requests?page=3",
    "/transparency/requests?page=4",
    "/transparency/requests?page=5",
    "/transparency/requests?sort=asked",
    "/transparency/requests?sort=shared",
)

LOG_JSON_PATHS = (
    "/api/v1/transparency/requests",
    "/api/v1/transparency/requests?offset=100",
    "/api/v1/transparency/requests?offset=200",
    "/api/v1/transparency/requests?offset=300",
    "/api/v1/transparency/requests?offset=400",
    "/api/v1/transparency/requests?sort=asked",
    "/api/v1/transparency/requests?sort=shared",
)

HTML = "text/html,application/xhtml+xml"

JSON = "application/json"


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("plain", "plain FastAPI", (PLAIN_BARE_PATH,), JSON, server=PLAIN),
        Endpoint("plain-select", "plain 20-row SELECT", (PLAIN_SELECT_PATH,), JSON, server=PLAIN),
        Endpoint("bare", "bare (async def)", (BARE_PATH,), JSON, baseline="plain"),
        Endpoint("bare-sync", "bare (def)", (BARE_SYNC_PATH,), JSON, baseline="plain"),
        Endpoint(
            "feed", "feed API", (FEED_PATH,), JSON, authenticated=True, baseline="plain-select"
        ),
        Endpoint("log-html", "log page", LOG_HTML_PATHS, HTML, baseline="plain-select"),
        Endpoint("log-json", "log API", LOG_JSON_PATHS, JSON, baseline="plain-select"),
    )
}


async def touch_once(
    base: str, tokens: Sequence[str], log_paths: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """Use every token once (feed, first page) and open every log path once."""
    statuses: dict[str, int] = {}
    posts: list[int] = []
    log: dict[str, Any] = {}
    queue = list(tokens)
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:

        async def worker() -> None:
            while queue:
                token = queue.pop()
                response = await client.get(
                    FEED_PATH, headers={"Authorization": f"Bearer {token}", "Accept": JSON}
                )
                key = str(response.status_code)
                statuses[key] = statuses.get(key, 0) + 1
                if response.status_code == 200:
                    posts.append(len(response.json()["posts"]))

        await asyncio.gather(*(worker() for _ in range(4)))
        for path, accept in log_paths:
            response = await client.get(path, headers={"Accept": accept})
            entry: dict[str, Any] = {"status": response.status_code, "bytes": len(response.content)}
            if accept == JSON and response.status_code == 200:
                body = response.json()
                entry |= {"total": body["total"], "rows": len(body["requests"])}
            elif response.status_code == 200:
                entry["case_number_mentions"] = len(re.findall(CASE_PREFIX, response.text))
            log[path] = entry
    return {
        "feed": {
            "tokens": len(tokens),
            "statuses": statuses,
            "posts_per_page": (
                {
                    "p50": float(np.percentile(posts, 50)),
                    "min": int(min(posts)),
                    "max": int(max(posts)),
                }
                if posts
                else None
            ),
        },
        "log": log,
    }


def check_once(
    servers: Servers, tokens: Sequence[str], chosen: Sequence[Endpoint]
) -> dict[str, Any]:
    """Every token and every log page once, before anything is timed."""
    started = time.perf_counter()
    checks = asyncio.run(
        touch_once(
            servers.base,
            tokens,
            [(p, e.accept) for e in chosen if e.name.startswith("log") for p in e.paths],
        )
    )
    checks["seconds"] = round(time.perf_counter() - started, 2)
    return checks
