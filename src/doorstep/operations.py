"""What an operator watches: ``/healthz``, ``/readyz``, ``/metrics`` and the request timer.

- ``/healthz``: the process answers (no database call, no connection slot).
- ``/readyz``: the database and the media storage answer; 503 naming what does not. Each
  read replica is reported (answering, lagging, down) but does not make the process
  unready: reads fall back to the primary, so a process with a replica down still answers
  every request rightly, and failing them all at once would turn one replica's outage
  into the whole site's.
- ``/metrics``: Prometheus's text format. What the process measured as it worked
  (``doorstep.telemetry``: request latency per route, job durations and failures, the
  retention sweep), and what is read from the database when scraped (the outbox's depth,
  its oldest waiting job and its failed jobs per kind; the connection pool in use; each
  read replica's lag).
  Only the networks of ``DOORSTEP_METRICS_ALLOWED_NETWORKS`` (default: this machine) or
  a request with the bearer token ``DOORSTEP_METRICS_TOKEN`` may read it.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorstep import logs
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.errors import Forbidden
from doorstep.http import RuntimeDep
from doorstep.notify import outbox
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime
from doorstep.telemetry import HTTP_SECONDS
from doorstep.telemetry import REGISTRY as PROCESS_REGISTRY

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

# Paths that need no database and no connection slot (see ``app.ConnectionGate``).
UNGATED_PATHS = ("/static/", "/vendor/", "/healthz")


class RequestIds:
    """Gives every HTTP request an id (the client's ``X-Request-ID`` when sound), bound to
    its log lines and to the jobs it queues, and sent back in ``X-Request-ID``.

    It runs on every request, so it does the least it can: one pass over the request's
    headers, an id from 16 random bytes, one context variable set and reset, and the
    answer's header list extended rather than rebuilt (``bench.http_load`` measures it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                sent = value
        request_id = logs.request_id_from(sent.decode("latin-1") or None)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if any(h[0] == b"x-request-id" for h in headers):
                    headers = [h for h in headers if h[0] != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = logs.bind_request_id(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.unbind_request_id(token)


class RequestTimer:
    """Times every HTTP request, from its arrival (the wait for a connection slot
    included) to the start of its answer, labelled by route template, not by path, so
    that ids in paths do not multiply the series. The histogram's child per (method,
    route, status) is looked up once and kept: ``labels()`` takes a lock and converts
    its arguments on every call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.series: dict[tuple[str, str, int], Any] = {}

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        key = (scope["method"], route, status)
        child = self.series.get(key)
        if child is None:
            child = self.series[key] = HTTP_SECONDS.labels(key[0], route, str(status))
        child.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timed = False

        async def send_timed(message: Message) -> None:
            nonlocal timed
            if message["type"] == "http.response.start" and not timed:
                timed = True
                self._observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            if not timed:  # no answer started: the request failed or was cut off
                self._observe(scope, 500, time.perf_counter() - started)


class DatabaseCollector(Collector):
    """The figures read when ``/metrics`` is scraped: the outbox and the pool."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "doorstep_outbox_depth", "Outbox jobs waiting to run, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "doorstep_outbox_oldest_age_seconds",
            "Age of the oldest waiting outbox job, by kind.",
            labels=["kind"],
        )
        failed = GaugeMetricFamily(
            "doorstep_outbox_failed_jobs",
            "Outbox jobs that failed for good (attempts spent or a permanent error), by kind.",
            labels=["kind"],
        )
        with self.runtime.db.read_only() as session:
            figures = outbox.queue_figures(session=session)
        now = utcnow()
        for figure in figures:
            depth.add_metric([figure.kind], figure.pending)
            failed.add_metric([figure.kind], figure.failed)
            if figure.oldest_pending_at is not None:
                age_s = (now - figure.oldest_pending_at).total_seconds()
                oldest.add_metric([figure.kind], max(age_s, 0.0))
        yield from (depth, oldest, failed)
        yield from self._pool()
        yield from self._replicas()

    def _pool(self) -> Iterator[GaugeMetricFamily]:
        pool = self.runtime.db.engine.pool
        if not isinstance(pool, QueuePool):  # SQLite opens a connection per session
            return
        yield GaugeMetricFamily(
            "doorstep_db_pool_in_use", "Database connections checked out.", value=pool.checkedout()
        )
        yield GaugeMetricFamily(
            "doorstep_db_pool_capacity",
            "Connections the pool may hand out (its size and overflow).",
            value=pool.size() + pool._max_overflow,
        )

    def _replicas(self) -> Iterator[GaugeMetricFamily]:
        if not self.runtime.replicas.configured:
            return
        up = GaugeMetricFamily(
            "doorstep_replica_up", "1 when the read replica answers, else 0.", labels=["replica"]
        )
        lag = GaugeMetricFamily(
            "doorstep_replica_lag_seconds",
            "How far the read replica's replay is behind the primary (0: it has replayed all"
            " it received).",
            labels=["replica"],
        )
        for replica, state in self.runtime.replicas.states():
            up.add_metric([replica.name], 0 if state is None else 1)
            if state is not None:
                lag.add_metric([replica.name], state.lag_s)
        yield from (up, lag)


def _may_read_metrics(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    host = request.client.host if request.client else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.metrics_allowed_networks
    )


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is alive and answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready to serve: the database answers a query and the media storage a lookup; the
    read replicas are reported, not required (see the module's doc)."""
    checks: dict[str, str] = {}
    for name, check in (("database", _ping_database), ("storage", _ping_storage)):
        try:
            check(runtime)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the log has the detail
            log.warning("readyz.failed", check=name, error=repr(exc))
            checks[name] = f"unreachable ({type(exc).__name__})"
    ready = all(state == "ok" for state in checks.values())
    answer: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if runtime.replicas.configured:
        answer["replicas"] = _replica_report(runtime)
    return JSONResponse(answer, status_code=200 if ready else 503)


def _replica_report(runtime: Runtime) -> dict[str, str]:
    """Each replica's state in words: "ok", "lagging (12.0 s)", "not a standby" or
    "unreachable"."""
    report = {}
    for replica, state in runtime.replicas.states():
        if state is None:
            report[replica.name] = "unreachable"
        elif not state.standby:
            report[replica.name] = "not a standby"
        elif state.lag_s > runtime.replicas.max_lag_s:
            report[replica.name] = f"lagging ({state.lag_s:.1f} s)"
        else:
            report[replica.name] = "ok"
    return report


def _ping_database(runtime: Runtime) -> None:
    with runtime.db.read_only() as session:
        session.execute(text("SELECT 1"))


def _ping_storage(runtime: Runtime) -> None:
    runtime.storage.exists("readyz-probe")


@router.get("/metrics")
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus's text format, for the allowed networks or the bearer of the token."""
    if not _may_read_metrics(request, runtime.settings):
        raise Forbidden(
            "Metrics are read from the allowed networks or with the metrics token.",
            code="metrics_forbidden",
        )
    scraped = CollectorRegistry()
    scraped.register(DatabaseCollector(runtime))
    body = generate_latest(PROCESS_REGISTRY) + generate_latest(scraped)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
