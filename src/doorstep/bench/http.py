"""HTTP load benchmark: requests per second and latency of the resident's feed and of the
public request log under wrk, against a bare FastAPI endpoint on the same server.

The server is :func:`doorstep.app.create_app` served by uvicorn on 127.0.0.1, in
``workers`` separate processes (``spawn``; one by default) that share the port with
``SO_REUSEPORT``. Each process adds two bare endpoints to the same app, the ceiling:

- ``GET /bench/bare``: ``async def`` returning ``{"ok": true}``;
- ``GET /bench/bare-sync``: the same as a plain ``def``, so it runs in the threadpool
  like every doorstep route.

Both go through everything the app puts in front of a route: uvicorn (uvloop,
httptools), Starlette's error middleware, the app's security-headers middleware (a
``BaseHTTPMiddleware``), FastAPI's exception middleware and routing, and the JSON
response. They bypass the rest of a doorstep request: the database session and its
transaction (pool checkout, ``BEGIN``, ``COMMIT``), authentication (the token's hash
lookup and the user), the service's queries, the pydantic response model and, for pages,
the Jinja template.

The endpoints measured (each with the same levels of connections):

- ``bare`` and ``bare-sync``: above.
- ``feed``: ``GET /api/v1/feed`` (first page, 30 posts) with ``Authorization: Bearer``
  of a random resident on every request, drawn from ``residents`` residents with a feed
  home. Generated residents cannot sign in, so the benchmark issues them API tokens with
  :func:`doorstep.accounts.service.create_api_token` (audited, like any token) and revokes
  them at the end with :func:`~doorstep.accounts.service.revoke_api_token`. Every token
  is used once before the timed runs (this checks each answers 200), so the token's
  ``last_used_at`` write of its first use is not timed; later it is written at most every
  5 minutes per token, as in production.
- ``log-html``: the public request log page ``/transparency/requests``, signed out.
- ``log-json``: its machine form ``/api/v1/transparency/requests`` (100 a page).

Both log endpoints rotate through the first page, pages 2 to 5 and the first page sorted
by ``asked`` and by ``shared`` (:data:`LOG_HTML_PATHS`, :data:`LOG_JSON_PATHS`).

The generator creates no footage requests. When the log holds fewer than
``log_requests`` requests, the benchmark adds the missing ones by bulk insert (ORM
``insert`` of rows matching :class:`~doorstep.footage.models.FootageRequest`,
:class:`~doorstep.footage.models.Recipient` and
:class:`~doorstep.agencies.models.Agency`): areas of 0.1 to 0.5 sq mi around random
cameras and windows of 1 to 12 h inside the events' span (as in the targeting
benchmark), checked by :func:`~doorstep.footage.area.parse_request_area`, public cells
from :func:`~doorstep.footage.area.public_cells` at the policy's resolution, and the
owners asked from :func:`~doorstep.footage.targeting.target_owners` (the activation's
own targeting); about 30% shared and 30% declined. The activation's side effects are not
written: no audit records, no feed post, no notice jobs. All of it is marked: the user
``http-bench@bench.invalid`` (agency member) applied for the agencies ("Bench HTTP police
department ..."; state ``ZZ``) and drafted the requests (case numbers ``BENCH-HTTP-...``),
so the rows stay in the database for the next run and the feed and targeting benchmarks,
which read neither table, are unaffected.

The load: wrk (``wrk -t2``, fewer threads than connections never) with a Lua script
written at run time. It pre-formats one request per (path, token), picks one at random
per request, counts every response's status and empty bodies per thread, and prints
one JSON line from ``done`` (latency percentiles, requests, bytes, socket errors). Each
endpoint gets a warm-up at the middle level, then the levels run in turn, all endpoints
at one level before the next level. CPU seconds of the server processes, of wrk and of
the rest of the machine (mostly PostgreSQL) come from ``/proc``, as in the ingest
benchmark.

Between runs the benchmark waits until the requests wrk left behind are done: the
workers idle and a ``def`` route answering (threads blocked on the database pool use no
CPU). A server that does not get there within ``drain_cap_s`` is restarted, so the next
run starts clean; the result says so. The workers log to files (structlog filtered to
warnings, as in the ingest benchmark, otherwise the app's own renderer), and each run
records the unhandled errors (500s) logged during and after it, wrk's view included or
not (a request wrk gave up on is not in its counts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import structlog
from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import ApiToken, Role, User
from doorstep.agencies.models import Agency, AgencyMembership, AgencyStatus, AgencyType, MemberRole
from doorstep.bench import output
from doorstep.bench.ingest import _cpu_s, _free_port, _machine_busy
from doorstep.bench.requests import MAX_EVENT_S, camera_homes_and_span, random_requests
from doorstep.bench.targeting import machine
from doorstep.cameras.models import Camera
from doorstep.config import Settings
from doorstep.feed.models import Home, Post, PostStatus
from doorstep.footage import area as request_area
from doorstep.footage import policy as policy_service
from doorstep.footage.models import (
    FootageRequest,
    IncidentType,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.targeting import target_owners
from doorstep.runtime import Runtime

__all__ = [
    "BARE_PATH",
    "BARE_SYNC_PATH",
    "ENDPOINTS",
    "add_bare_endpoints",
    "run",
    "summary",
    "write_results",
]

BARE_PATH = "/bench/bare"
BARE_SYNC_PATH = "/bench/bare-sync"
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

BENCH_EMAIL = "http-bench@bench.invalid"
TOKEN_NAME = "bench-http"  # noqa: S105 - a label, not a secret
AGENCY_PREFIX = "Bench HTTP"
CASE_PREFIX = "BENCH-HTTP-"
REQUESTS_PER_AGENCY = 25  # under the policy's default monthly cap of 30
INCIDENTS = (
    IncidentType.package_theft,
    IncidentType.burglary,
    IncidentType.vehicle_break_in,
    IncidentType.vehicle_theft,
    IncidentType.robbery,
    IncidentType.vandalism,
    IncidentType.hit_and_run,
    IncidentType.assault,
    IncidentType.missing_person,
)
MARKER = "DOORSTEP-WRK-JSON "
UNHANDLED = "http.unhandled_error"  # doorstep.app's log event for a 500
ANYIO_THREADPOOL_TOKENS = 40  # anyio's default, the threadpool of every ``def`` route


@dataclass(frozen=True)
class Endpoint:
    name: str
    label: str
    paths: tuple[str, ...]
    accept: str
    authenticated: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("bare", "bare (async def)", (BARE_PATH,), JSON),
        Endpoint("bare-sync", "bare (def)", (BARE_SYNC_PATH,), JSON),
        Endpoint("feed", "feed API", (FEED_PATH,), JSON, authenticated=True),
        Endpoint("log-html", "log page", LOG_HTML_PATHS, HTML),
        Endpoint("log-json", "log API", LOG_JSON_PATHS, JSON),
    )
}


# ---------------------------------------------------------------- the server


def add_bare_endpoints(app: FastAPI) -> None:
    """The ceiling: two routes that answer a constant, with no dependency at all."""

    async def bare() -> dict[str, bool]:
        return {"ok": True}

    def bare_sync() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route(BARE_PATH, bare, methods=["GET"], include_in_schema=False)
    app.add_api_route(BARE_SYNC_PATH, bare_sync, methods=["GET"], include_in_schema=False)


def _serve(
    database_url: str,
    data_dir: str,
    port: int,
    ready: multiprocessing.synchronize.Event,
    log_path: str,
) -> None:
    import uvicorn

    from doorstep.app import create_app

    # The worker's output (uvicorn's and the app's log lines) goes to a file the
    # benchmark reads for unhandled errors (a request wrk gave up on is not in its counts).
    sys.stdout = sys.stderr = open(log_path, "a", buffering=1)  # noqa: SIM115
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runtime = Runtime(Settings(database_url=database_url, data_dir=Path(data_dir)))
    app = create_app(runtime)
    add_bare_endpoints(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=2048
    )
    server = uvicorn.Server(config)

    def signal_ready() -> None:
        while not server.started:
            time.sleep(0.05)
        ready.set()

    threading.Thread(target=signal_ready, daemon=True).start()
    server.run(sockets=[sock])


class Servers:
    """``workers`` uvicorn processes on one port (SO_REUSEPORT); restartable."""

    def __init__(self, database_url: str, data_dir: str, workers: int) -> None:
        self.database_url, self.data_dir, self.workers = database_url, data_dir, workers
        self.generation = 0
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.logs: list[Path] = []
        self.read_up_to: dict[Path, int] = {}
        self.start()

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        logs = [
            Path(self.data_dir) / f"uvicorn-{self.generation}-{n}.log" for n in range(self.workers)
        ]
        self.logs.extend(logs)
        events = []
        for log in logs:
            ready = context.Event()
            process = context.Process(
                target=_serve,
                args=(self.database_url, self.data_dir, self.port, ready, str(log)),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
            events.append(ready)
        until = time.monotonic() + 60.0
        for ready, started in zip(events, self.processes, strict=True):
            while not ready.wait(0.2):
                if not started.is_alive():
                    self.stop()
                    raise RuntimeError("a uvicorn worker exited before it started")
                if time.monotonic() > until:
                    self.stop()
                    raise RuntimeError("the uvicorn workers did not start within 60 s")

    def restart(self) -> None:
        self.stop()
        self.generation += 1
        self.start()

    def read_log(self) -> str:
        """What the workers wrote since the last call."""
        parts = []
        for log in self.logs:
            if not log.exists():
                continue
            with log.open("rb") as stream:
                stream.seek(self.read_up_to.get(log, 0))
                data = stream.read()
            self.read_up_to[log] = self.read_up_to.get(log, 0) + len(data)
            parts.append(data.decode(errors="replace"))
        return "".join(parts)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def cpu_s(self) -> float:
        return sum(_cpu_s(pid) for pid in self.pids)

    def drain(self, cap_s: float) -> tuple[float, bool]:
        """Wait until the requests wrk left behind are done: the workers are idle and a
        ``def`` route (it needs a threadpool thread, as every doorstep route) answers. Idle
        alone is not enough: threads blocked on the database pool use no CPU."""
        started = time.monotonic()
        last = self.cpu_s()
        window = 0.25
        while (left := cap_s - (time.monotonic() - started)) > 0:
            time.sleep(window)
            now = self.cpu_s()
            idle = now - last < 0.05 * window * len(self.processes)
            last = now
            if not idle:
                continue
            try:
                answered = httpx.get(f"{self.base}{BARE_SYNC_PATH}", timeout=max(left, 0.1))
            except httpx.HTTPError:
                continue
            if answered.status_code == 200:
                return time.monotonic() - started, True
            last = self.cpu_s()
        return time.monotonic() - started, False

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
        self.processes = []


def _uvicorn_setup() -> dict[str, str]:
    import importlib.util

    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return {"uvicorn": uvicorn.__version__, "loop": loop, "http": http}


# ---------------------------------------------------------------- the data


def _residents(session: Session, rng: np.random.Generator, count: int) -> list[uuid.UUID]:
    homes = list(session.scalars(select(Home.user_id).order_by(Home.user_id)))
    if not homes:
        raise ValueError("the database has no residents with a home: run `bench generate` first")
    picks = rng.choice(len(homes), size=min(count, len(homes)), replace=False)
    return [homes[int(i)] for i in picks]


def _issue_tokens(runtime: Runtime, residents: Sequence[uuid.UUID], stamp: str) -> list[str]:
    """One API token per resident through the accounts service (one audited record each)."""
    tokens: list[str] = []
    with runtime.db.transaction() as session:
        for user_id in residents:
            user = session.get_one(User, user_id)
            _row, token = account_service.create_api_token(
                session=session, user=user, name=f"{TOKEN_NAME} {stamp}"
            )
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", token):
                raise ValueError("an API token has characters the Lua script cannot carry")
            tokens.append(token)
    return tokens


def _revoke_tokens(runtime: Runtime, stamp: str) -> int:
    with runtime.db.transaction() as session:
        rows = list(
            session.scalars(
                select(ApiToken).where(
                    ApiToken.name == f"{TOKEN_NAME} {stamp}", ApiToken.revoked_at.is_(None)
                )
            )
        )
        for row in rows:
            account_service.revoke_api_token(
                session=session, user=session.get_one(User, row.user_id), token_id=row.id
            )
    return len(rows)


def _bench_user(session: Session) -> User:
    user = session.scalar(select(User).where(User.email == BENCH_EMAIL))
    if user is None:
        user = account_service.create_user(
            session=session,
            actor=None,
            email=BENCH_EMAIL,
            display_name="HTTP benchmark officer",
            password=uuid.uuid4().hex,
            role=Role.agency_member,
        )
    return user


def _log_size(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FootageRequest)
            .where(FootageRequest.activated_at.is_not(None))
        )
        or 0
    )


def _fill_request_log(
    runtime: Runtime, count: int, rng: np.random.Generator, say: Callable[[str], None]
) -> dict[str, Any]:
    """Bulk-insert active and closed requests until the log holds ``count`` (see module)."""
    started = time.perf_counter()
    with runtime.db.transaction() as session:
        existing = _log_size(session)
        missing = count - existing
        info: dict[str, Any] = {
            "wanted": count,
            "existing_before": existing,
            "created": max(missing, 0),
            "method": (
                "bulk insert (ORM insert of footage_requests, footage_recipients, agencies,"
                " agency_memberships rows); areas via footage.area.parse_request_area,"
                " public cells via footage.area.public_cells, owners asked via"
                " footage.targeting.target_owners; no audit records, feed posts or notice jobs"
            ),
            "marked_by": {
                "user_email": BENCH_EMAIL,
                "agency_name_prefix": AGENCY_PREFIX,
                "agency_state": "ZZ",
                "case_number_prefix": CASE_PREFIX,
            },
        }
        if missing <= 0:
            info["in_log"] = existing
            return info
        say(f"adding {missing:,} footage requests to the public log (bulk insert)")
        homes, span = camera_homes_and_span(session)
        user = _bench_user(session)
        policy = policy_service.effective_policy(session=session)
        now = datetime.now(UTC)
        plan = random_requests(
            rng=rng, homes=homes, count=missing, span_start=span[0], span_end=span[1]
        )
        # agencies: one per 1-degree cell of the requests' centres, 25 requests each at most
        taken = session.scalar(
            select(func.count()).select_from(Agency).where(Agency.applied_by == user.id)
        )
        agency_of: dict[tuple[int, int, int], uuid.UUID] = {}
        per_cell: dict[tuple[int, int], int] = {}
        agencies: list[dict[str, Any]] = []
        requests: list[dict[str, Any]] = []
        recipients: list[dict[str, Any]] = []
        asked: list[int] = []
        first_case = existing + 1
        for n, planned in enumerate(plan):
            centre = planned.area.centroid
            cell = (int(np.floor(centre.y)), int(np.floor(centre.x)))
            slot = per_cell.get(cell, 0)
            per_cell[cell] = slot + 1
            key = (*cell, slot // REQUESTS_PER_AGENCY)
            if key not in agency_of:
                agency_id = uuid.uuid4()
                agency_of[key] = agency_id
                number = (taken or 0) + len(agencies) + 1
                lat0, lon0 = cell
                ring = [
                    [lon0 - 0.05, lat0 - 0.05],
                    [lon0 + 1.05, lat0 - 0.05],
                    [lon0 + 1.05, lat0 + 1.05],
                    [lon0 - 0.05, lat0 + 1.05],
                    [lon0 - 0.05, lat0 - 0.05],
                ]
                joined = span[0] - timedelta(days=60)
                agencies.append(
                    {
                        "id": agency_id,
                        "name": f"{AGENCY_PREFIX} police department {number}",
                        "agency_type": AgencyType.police if number % 3 else AgencyType.sheriff,
                        "city": f"Bench town {lat0:+d} {lon0:+d}",
                        "state": "ZZ",
                        "jurisdiction": {"type": "Polygon", "coordinates": [ring]},
                        "contact_email": f"agency-{number}@bench.invalid",
                        "website": f"https://bench.invalid/agency-{number}",
                        "status": AgencyStatus.verified,
                        "applied_by": user.id,
                        "applied_at": joined,
                        "verified_at": joined + timedelta(days=1),
                    }
                )
            area = request_area.parse_request_area(
                area={
                    "type": "Polygon",
                    "coordinates": [
                        [[float(x), float(y)] for x, y in planned.area.exterior.coords]
                    ],
                },
                circle=None,
            )
            owners = target_owners(
                session=session,
                area=area.geometry,
                window_start=planned.window_start,
                window_end=planned.window_end,
                max_event_s=MAX_EVENT_S,
            )
            activated = min(
                planned.window_end + timedelta(hours=float(rng.uniform(0.5, 48.0))),
                now - timedelta(minutes=1),
            )
            submitted = activated - timedelta(minutes=float(rng.uniform(1, 30)))
            closes = activated + timedelta(days=policy.request_open_days)
            closed = closes if closes <= now else None
            request_id = uuid.uuid4()
            requests.append(
                {
                    "id": request_id,
                    "agency_id": agency_of[key],
                    "created_by": user.id,
                    "case_number": f"{CASE_PREFIX}{first_case + n:06d}",
                    "incident_type": INCIDENTS[int(rng.integers(len(INCIDENTS)))],
                    "message": "Footage request added by the HTTP benchmark (doorstep.bench.http).",
                    "investigator_contact": BENCH_EMAIL,
                    "area": area.geojson,
                    "circle": None,
                    "area_sq_mi": planned.area_sq_mi,
                    "public_cells": request_area.public_cells(
                        area.geometry, policy.public_h3_resolution
                    ),
                    "window_start": planned.window_start,
                    "window_end": planned.window_end,
                    "status": RequestStatus.closed if closed else RequestStatus.active,
                    "created_at": submitted - timedelta(minutes=float(rng.uniform(5, 60))),
                    "submitted_at": submitted,
                    "activated_at": activated,
                    "closes_at": closes,
                    "closed_at": closed,
                    "close_reason": "expired" if closed else None,
                    "asked_count": len(owners),
                }
            )
            asked.append(len(owners))
            numbers = rng.permutation(len(owners)) + 1
            for owner, number in zip(owners, numbers, strict=True):
                draw = float(rng.random())
                status = (
                    RecipientStatus.shared
                    if draw < 0.3
                    else RecipientStatus.declined
                    if draw < 0.6
                    else RecipientStatus.pending
                )
                answered = (
                    None
                    if status == RecipientStatus.pending
                    else min(activated + timedelta(hours=float(rng.uniform(0.2, 72))), now)
                )
                recipients.append(
                    {
                        "id": uuid.uuid4(),
                        "request_id": request_id,
                        "owner_id": owner.owner_id,
                        "camera_ids": [str(c) for c in owner.camera_ids],
                        "status": status,
                        "neighbor_number": int(number),
                        "reveal_identity": False,
                        "answered_at": answered,
                        "reminders_sent": 0,
                        "next_reminder_at": None,
                        "created_at": activated,
                    }
                )
        if agencies:
            session.execute(insert(Agency), agencies)
            session.execute(
                insert(AgencyMembership),
                [
                    {"agency_id": a["id"], "user_id": user.id, "role": MemberRole.officer}
                    for a in agencies
                ],
            )
        session.execute(insert(FootageRequest), requests)
        if recipients:
            session.execute(insert(Recipient), recipients)
        info |= {
            "in_log": existing + len(requests),
            "agencies_created": len(agencies),
            "recipients_created": len(recipients),
            "asked_per_request": {
                "p50": float(np.percentile(asked, 50)),
                "p99": float(np.percentile(asked, 99)),
                "max": int(max(asked)),
                "none": int(sum(1 for a in asked if a == 0)),
            },
            "active": sum(1 for r in requests if r["status"] == RequestStatus.active),
            "closed": sum(1 for r in requests if r["status"] == RequestStatus.closed),
        }
    info["seconds"] = round(time.perf_counter() - started, 2)
    return info


# ---------------------------------------------------------------- checks before the load


async def _touch(
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


# ---------------------------------------------------------------- wrk


LUA_TEMPLATE = """-- written by doorstep.bench.http for one wrk run
local paths = %(paths)s
local tokens = %(tokens)s
local accept = %(accept)s
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed((tonumber(args[1]) or 7) * 7919 + id)
  statuses = {}
  empty = 0
  responses = 0
  prepared = {}
  for _, path in ipairs(paths) do
    if #tokens == 0 then
      prepared[#prepared + 1] = wrk.format("GET", path, {["Accept"] = accept})
    else
      for _, token in ipairs(tokens) do
        prepared[#prepared + 1] = wrk.format(
          "GET", path, {["Accept"] = accept, ["Authorization"] = "Bearer " .. token})
      end
    end
  end
end

function request()
  return prepared[math.random(#prepared)]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  responses = responses + 1
  if body == nil or #body == 0 then
    empty = empty + 1
  end
end

function done(summary, latency, requests)
  local all, empties, answered = {}, 0, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      all[key] = (all[key] or 0) + n
    end
    empties = empties + thread:get("empty")
    answered = answered + thread:get("responses")
  end
  local parts = {}
  for key, n in pairs(all) do
    parts[#parts + 1] = string.format('"%%s":%%.0f', key, n)
  end
  local e = summary.errors
  local ok = summary.requests > 0
  io.write("%(marker)s", string.format(
    '{"duration_us":%%.0f,"requests":%%.0f,"bytes":%%.0f,' ..
    '"errors":{"connect":%%.0f,"read":%%.0f,"write":%%.0f,"status":%%.0f,"timeout":%%.0f},' ..
    '"latency_us":{"min":%%.0f,"max":%%.0f,"mean":%%.1f,"stdev":%%.1f,' ..
    '"p50":%%.0f,"p90":%%.0f,"p99":%%.0f},' ..
    '"responses":%%.0f,"empty_bodies":%%.0f,"statuses":{%%s}}',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    ok and latency.min or 0, ok and latency.max or 0,
    ok and latency.mean or 0, ok and latency.stdev or 0,
    ok and latency:percentile(50) or 0, ok and latency:percentile(90) or 0,
    ok and latency:percentile(99) or 0,
    answered, empties, table.concat(parts, ",")), "\\n")
end
"""


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def write_script(folder: Path, endpoint: Endpoint, tokens: Sequence[str]) -> Path:
    path = folder / f"{endpoint.name}.lua"
    path.write_text(
        LUA_TEMPLATE
        % {
            "paths": _lua_list(endpoint.paths),
            "tokens": _lua_list(tokens if endpoint.authenticated else ()),
            "accept": json.dumps(endpoint.accept),
            "marker": MARKER,
        }
    )
    return path


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return found


def wrk_version(binary: str) -> str:
    done = subprocess.run(  # noqa: S603 - wrk from PATH, fixed arguments
        [binary, "-v"], capture_output=True, text=True, check=False
    )
    return (done.stdout or done.stderr).splitlines()[0].strip()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    *,
    binary: str,
    base: str,
    script: Path,
    connections: int,
    threads: int,
    duration_s: int,
    timeout_s: int,
    seed: int,
) -> dict[str, Any]:
    """One wrk run; the script's JSON line, parsed."""
    command = [
        binary,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        f"-s{script}",
        f"{base}/",
        "--",
        str(seed),
    ]
    done = subprocess.run(  # noqa: S603 - wrk from PATH, our own arguments
        command, capture_output=True, text=True, check=False, timeout=duration_s + timeout_s + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )
    parsed: dict[str, Any] = json.loads(line[len(MARKER) :])
    return parsed


def _level_result(raw: dict[str, Any], cpu: dict[str, float]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    statuses = {k: int(v) for k, v in sorted(raw["statuses"].items())}
    non_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    errors = {k: int(v) for k, v in raw["errors"].items()}
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    latency = raw["latency_us"]
    return {
        "requests": int(raw["requests"]),
        "responses": int(raw["responses"]),
        "seconds": round(seconds, 3),
        "requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "bytes_per_s": round(raw["bytes"] / seconds, 1) if seconds else 0.0,
        "bytes_per_response": round(raw["bytes"] / raw["requests"], 1) if raw["requests"] else 0,
        "latency": {
            "p50_ms": round(latency["p50"] / 1000, 3),
            "p90_ms": round(latency["p90"] / 1000, 3),
            "p99_ms": round(latency["p99"] / 1000, 3),
            "max_ms": round(latency["max"] / 1000, 3),
            "mean_ms": round(latency["mean"] / 1000, 3),
        },
        "statuses": statuses,
        "non_2xx": non_2xx,
        "empty_bodies": int(raw["empty_bodies"]),
        "errors": errors,
        "socket_errors": socket_errors,
        "cpu_s": cpu,
    }


def _measured(
    servers: Servers,
    binary: str,
    script: Path,
    connections: int,
    threads: int,
    duration_s: int,
    timeout_s: int,
    seed: int,
    drain_cap_s: float,
) -> dict[str, Any]:
    servers.read_log()  # what came before this run
    server_cpu, wrk_cpu, busy = servers.cpu_s(), _children_cpu_s(), _machine_busy()
    raw = run_wrk(
        binary=binary,
        base=servers.base,
        script=script,
        connections=connections,
        threads=threads,
        duration_s=duration_s,
        timeout_s=timeout_s,
        seed=seed,
    )
    busy_after = _machine_busy()
    server_s = servers.cpu_s() - server_cpu
    wrk_s = _children_cpu_s() - wrk_cpu
    share = (busy_after[0] - busy[0]) / max(busy_after[1] - busy[1], 1)
    machine_s = share * (os.cpu_count() or 1) * raw["duration_us"] / 1e6
    cpu = {
        "server_processes": round(server_s, 2),
        "wrk": round(wrk_s, 2),
        "rest_mostly_postgresql": round(max(0.0, machine_s - server_s - wrk_s), 2),
        "machine_busy_share": round(share, 3),
    }
    result = _level_result(raw, cpu)
    result["after_wrk"] = _after(servers, drain_cap_s)
    return result


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): ", re.MULTILINE)


def _after(servers: Servers, drain_cap_s: float) -> dict[str, Any]:
    """Wait for the server to finish what wrk left behind; what it logged meanwhile. A
    server that does not drain within the cap is restarted, so the next run starts clean."""
    drain_s, drained = servers.drain(drain_cap_s)
    log = servers.read_log()
    if not drained:
        servers.restart()
    kinds: dict[str, int] = {}
    for name in EXCEPTION_LINE.findall(log):
        kinds[name] = kinds.get(name, 0) + 1
    return {
        "drain_s": round(drain_s, 1),
        "drained": drained,
        "server_restarted": not drained,
        "server_unhandled_errors": log.count(UNHANDLED),
        "exception_lines_logged": kinds,
    }


# ---------------------------------------------------------------- the run


@output.warnings_only
def run(
    *,
    url: str,
    connections: Sequence[int] = (1, 16, 64),
    duration_s: int = 15,
    warmup_s: int = 3,
    threads: int = 2,
    workers: int = 1,
    residents: int = 1_000,
    log_requests: int = 1_000,
    endpoints: Sequence[str] = tuple(ENDPOINTS),
    timeout_s: int = 30,
    drain_cap_s: float = 60.0,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the HTTP benchmark against the database at ``url`` (PostgreSQL)."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError("the HTTP benchmark needs PostgreSQL (several server processes)")
    unknown = [name for name in endpoints if name not in ENDPOINTS]
    if unknown:
        raise ValueError(f"unknown endpoints {unknown}; known: {', '.join(ENDPOINTS)}")
    if duration_s < 1:
        raise ValueError("wrk runs for whole seconds: duration_s >= 1")
    binary = wrk_binary()
    chosen = [ENDPOINTS[name] for name in endpoints]
    rng = np.random.default_rng(seed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data_dir = tempfile.mkdtemp(prefix="doorstep-bench-http-")
    runtime = Runtime(Settings(database_url=url, data_dir=Path(data_dir)))
    servers: Servers | None = None
    issued = False
    try:
        results: dict[str, Any] = {
            "benchmark": "http",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
        }
        with runtime.db.transaction() as session:
            results["database"] = {
                "dialect": "postgresql",
                "server_version": session.scalar(text("SHOW server_version")),
                "url": make_url(url).render_as_string(hide_password=True),
                "residents_with_home": session.scalar(select(func.count()).select_from(Home)),
                "published_posts": session.scalar(
                    select(func.count())
                    .select_from(Post)
                    .where(Post.status == PostStatus.published)
                ),
                "cameras": session.scalar(select(func.count()).select_from(Camera)),
            }
            viewers = _residents(session, rng, residents)
        say(
            f"{results['database']['residents_with_home']:,} residents,"
            f" {results['database']['published_posts']:,} posts"
        )
        setup: dict[str, Any] = {}
        if any(e.name.startswith("log") for e in chosen):
            setup["request_log"] = _fill_request_log(runtime, log_requests, rng, say)
        tokens: list[str] = []
        if any(e.authenticated for e in chosen):
            say(f"issuing API tokens to {len(viewers):,} random residents")
            started = time.perf_counter()
            issued = True
            tokens = _issue_tokens(runtime, viewers, stamp)
            setup["tokens"] = {
                "residents": len(tokens),
                "issued_with": "doorstep.accounts.service.create_api_token (audited)",
                "name": f"{TOKEN_NAME} {stamp}",
                "seconds": round(time.perf_counter() - started, 2),
            }
        pool = runtime.db.engine.pool
        results["server"] = {
            "uvicorn_workers": workers,
            "process": "separate processes (spawn), one port shared with SO_REUSEPORT",
            "host": "127.0.0.1",
            **_uvicorn_setup(),
            "threadpool_tokens_per_worker": ANYIO_THREADPOOL_TOKENS,
            "db_pool_per_worker": {
                "size": getattr(pool, "size", lambda: None)(),
                "max_overflow": getattr(pool, "_max_overflow", None),
            },
            "bare_endpoints": {
                BARE_PATH: "async def, returns {'ok': true}",
                BARE_SYNC_PATH: "def (runs in the threadpool), returns {'ok': true}",
                "passes_through": (
                    "uvicorn (HTTP parsing, event loop), Starlette ServerErrorMiddleware,"
                    " doorstep's security-headers middleware (BaseHTTPMiddleware),"
                    " ExceptionMiddleware, FastAPI routing and JSON response"
                ),
                "bypasses": (
                    "the DB session dependency and its transaction (pool checkout, BEGIN,"
                    " COMMIT), authentication (token hash lookup, user load), the service's"
                    " queries, pydantic response models, Jinja templates"
                ),
            },
        }
        say(f"starting {workers} uvicorn worker(s)")
        servers = Servers(url, data_dir, workers)
        say("checking every token and log page once")
        started = time.perf_counter()
        setup["checks"] = asyncio.run(
            _touch(
                servers.base,
                tokens,
                [(p, e.accept) for e in chosen if e.name.startswith("log") for p in e.paths],
            )
        )
        setup["checks"]["seconds"] = round(time.perf_counter() - started, 2)
        results["setup"] = setup
        version = wrk_version(binary)
        results["load_tool"] = {
            "name": "wrk",
            "version": version,
            "threads": threads,
            "duration_s_per_level": duration_s,
            "warmup_s": warmup_s,
            "timeout_s": timeout_s,
            "between_runs": (
                f"wait until the server processes are idle (under 5% of a core) and a def route"
                f" (GET {BARE_SYNC_PATH}, it needs a threadpool thread) answers, at most"
                f" {drain_cap_s:.0f} s, else the server is restarted: requests wrk left behind"
                " finish before the next run"
            ),
            "script": (
                "Lua written at run time: one pre-formatted request per (path, token), a"
                " random one per request; counts statuses and empty bodies; percentiles from"
                " wrk's latency histogram"
            ),
        }
        results["endpoints"] = {
            e.name: {
                "label": e.label,
                "paths": list(e.paths),
                "accept": e.accept,
                "auth": f"Bearer, {len(tokens)} residents" if e.authenticated else "none",
            }
            for e in chosen
        }
        folder = Path(data_dir) / "wrk"
        folder.mkdir()
        scripts = {e.name: write_script(folder, e, tokens) for e in chosen}
        middle = sorted(connections)[len(connections) // 2]
        if warmup_s > 0:
            for e in chosen:
                say(f"warm-up: {e.name}, {middle} connections, {warmup_s} s")
                run_wrk(
                    binary=binary,
                    base=servers.base,
                    script=scripts[e.name],
                    connections=middle,
                    threads=threads,
                    duration_s=warmup_s,
                    timeout_s=timeout_s,
                    seed=seed,
                )
                warm = _after(servers, drain_cap_s)
                if not warm["drained"] or warm["server_unhandled_errors"]:
                    say(f"  warm-up left the server busy or failing: {warm}")
        levels: list[dict[str, Any]] = []
        for n, level in enumerate(connections):
            measured: dict[str, Any] = {}
            for e in chosen:
                result = _measured(
                    servers,
                    binary,
                    scripts[e.name],
                    level,
                    threads,
                    duration_s,
                    timeout_s,
                    seed + n + 1,
                    drain_cap_s,
                )
                measured[e.name] = result
                say(
                    f"{e.name:>9}, {level:>3} connections: {result['requests_per_s']:>9,.1f}"
                    f" req/s, p50 {result['latency']['p50_ms']} ms,"
                    f" p99 {result['latency']['p99_ms']} ms, non-2xx {result['non_2xx']},"
                    f" drained in {result['after_wrk']['drain_s']} s"
                )
            ceiling = measured.get("bare", {}).get("requests_per_s")
            for result in measured.values():
                result["rate_vs_bare"] = (
                    round(result["requests_per_s"] / ceiling, 4) if ceiling else None
                )
            levels.append(
                {"connections": level, "threads": min(threads, level), "endpoints": measured}
            )
        results["levels"] = levels
        results["all_ok"] = all(
            r["non_2xx"] == 0
            and r["socket_errors"] == 0
            and r["empty_bodies"] == 0
            and r["responses"] == r["requests"] > 0
            and r["after_wrk"]["server_unhandled_errors"] == 0
            and r["after_wrk"]["drained"]
            for level_result in levels
            for r in level_result["endpoints"].values()
        )
        return results
    finally:
        if servers is not None:
            servers.stop()
        if issued:
            revoked = _revoke_tokens(runtime, stamp)
            say(f"revoked {revoked:,} API tokens")
        runtime.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def remove_log_data(url: str) -> dict[str, int]:
    """Delete what :func:`run` added to the request log (its agencies, requests, answers);
    the benchmark user stays (audited role)."""
    runtime = Runtime(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())))
    try:
        with runtime.db.transaction() as session:
            user_id = session.scalar(select(User.id).where(User.email == BENCH_EMAIL))
            if user_id is None:
                return {"requests": 0, "agencies": 0}
            request_ids = select(FootageRequest.id).where(FootageRequest.created_by == user_id)
            session.execute(delete(Recipient).where(Recipient.request_id.in_(request_ids)))
            requests = len(
                session.scalars(
                    delete(FootageRequest)
                    .where(FootageRequest.created_by == user_id)
                    .returning(FootageRequest.id)
                ).all()
            )
            session.execute(delete(AgencyMembership).where(AgencyMembership.user_id == user_id))
            agencies = len(
                session.scalars(
                    delete(Agency).where(Agency.applied_by == user_id).returning(Agency.id)
                ).all()
            )
            session.execute(update(User).where(User.id == user_id).values(is_active=False))
        return {"requests": requests, "agencies": agencies}
    finally:
        runtime.close()


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("http", results, folder)


def summary(results: dict[str, Any]) -> str:
    tool, server = results["load_tool"], results["server"]
    log = results["setup"].get("request_log")
    tokens = results["setup"].get("tokens")
    head = (
        f"wrk -t{tool['threads']}, {tool['duration_s_per_level']} s a level,"
        f" {server['uvicorn_workers']} uvicorn worker(s)"
    )
    if tokens:
        head += f", feed: {tokens['residents']:,} residents' tokens"
    if log:
        head += f", log: {log['in_log']:,} requests"
    header = (
        f"{'endpoint':<17} {'conns':>5} {'req/s':>9} {'vs bare':>7} {'p50 ms':>8}"
        f" {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>7} {'errors':>6}"
        f" {'KB/s':>8} {'server CPU':>10} {'500s':>5} {'drain s':>7}"
    )
    lines = [head, "", header, "-" * len(header)]
    names = list(results["endpoints"])
    for name in names:
        label = results["endpoints"][name]["label"]
        for level in results["levels"]:
            r = level["endpoints"][name]
            ratio = r["rate_vs_bare"]
            lat = r["latency"]
            cores = r["cpu_s"]["server_processes"] / r["seconds"] if r["seconds"] else 0.0
            restarted = "R" if r["after_wrk"]["server_restarted"] else " "
            lines.append(
                f"{label:<17} {level['connections']:>5} {r['requests_per_s']:>9,.1f}"
                f" {'' if ratio is None else f'{ratio:.3f}':>7} {lat['p50_ms']:>8.2f}"
                f" {lat['p90_ms']:>8.2f} {lat['p99_ms']:>8.2f} {lat['max_ms']:>8.1f}"
                f" {r['non_2xx']:>7} {r['socket_errors']:>6} {r['bytes_per_s'] / 1024:>8.1f}"
                f" {cores:>7.2f} cores {r['after_wrk']['server_unhandled_errors']:>5}"
                f" {r['after_wrk']['drain_s']:>6.1f}{restarted}"
            )
        lines.append("")
    lines.append(
        "non-2xx: answers wrk saw; errors: wrk's socket errors and timeouts; 500s: unhandled"
        " errors the server logged (also after wrk stopped); drain: seconds until the server"
        " was idle after wrk stopped (R: not within the cap, so it was restarted)"
    )
    lines.append(
        "all responses 2xx with a body, no errors, no 500s, server drained: "
        + ("yes" if results["all_ok"] else "NO (see the JSON)")
    )
    return "\n".join(lines)
