"""Fan-out benchmark: one footage request that reaches 10,000 owners.

Two figures, both on PostgreSQL with the product's own code paths:

- **Queueing.** A moderator approves a request whose area holds 10,000 owners' cameras
  with footage in the window. The clock runs from the approval call to its commit: the
  targeting, one recipient row and one notice job per owner, the feed post and the audit
  record, all in one transaction (``footage.service.review_request``). When it commits,
  every notice is queued.
- **Delivery.** ``doorstep worker`` processes (two by default), started before the
  approval and idle until then, drain the outbox: each notice job writes the owner's
  in-app notification and queues his channels; the channel jobs send one email to a
  local SMTP sink (aiosmtpd) and one signed webhook to a local HTTP sink. The clock runs
  from the commit until both sinks hold one delivery per owner. The rate is channel
  deliveries (emails + webhooks) per second; owners notified per second is half that.

The benchmark makes its own database (``doorstep_bench_fanout`` on the server of
``--db``), so the 10,000 owners can all live inside one request's area. Owners, their
preferences (email on), webhooks, cameras and one event each are inserted in bulk with
the models' own defaults (creating 10,000 accounts through argon2 would take minutes and
measure nothing here); the agency, its officer, the moderator and the requests go
through the services. The sinks and the workers are separate processes on this machine.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from h3.api import basic_int as h3_int
from sqlalchemy import func, insert, select

from doorstep import geo
from doorstep.accounts import service as account_service
from doorstep.accounts.models import NotificationPreference, Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyMembership, AgencyType, MemberRole
from doorstep.bench import output
from doorstep.bench.ingest import _conninfo, _cpu_s, _drop, _free_port, _recreate
from doorstep.bench.targeting import machine
from doorstep.cameras.models import Camera, CameraKind, EventKind, MotionEvent
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.footage import area as request_area
from doorstep.footage import service as request_service
from doorstep.footage.models import FootageRequest, IncidentType, Recipient
from doorstep.migrate import upgrade
from doorstep.notify.models import OutboxJob, Webhook
from doorstep.runtime import Runtime
from doorstep.security import hash_password

__all__ = ["run", "summary", "write_results"]

DATABASE = "doorstep_bench_fanout"
# Philadelphia's centre; any place works, the jurisdiction is drawn around it.
CENTRE = (39.9526, -75.1652)
# The request's area: a square of 1,120 m a side, 0.484 sq mi (the default policy allows
# 0.5). The owners' cameras stand inside it, 20 m clear of its edge.
HALF_SIDE_M = 560.0
CAMERAS_HALF_SIDE_M = 540.0
METRES_PER_DEG_LAT = 111_320.0


# ---------------------------------------------------------------- the sinks


def _sink_main(smtp_port: int, http_port: int) -> None:
    """A local SMTP server and a local webhook receiver, counting what arrives."""
    import asyncio

    import uvicorn
    from aiosmtpd.controller import Controller

    lock = threading.Lock()
    state: dict[str, Any] = {"emails": 0, "webhooks": 0, "last": 0.0}
    recipients: set[str] = set()
    deliveries: set[str] = set()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with lock:
                state["emails"] += 1
                recipients.update(envelope.rcpt_tos)
                state["last"] = time.time()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["path"] == "/stats":
            with lock:
                body = json.dumps(
                    {
                        **state,
                        "distinct_recipients": len(recipients),
                        "distinct_deliveries": len(deliveries),
                    }
                ).encode()
            status = 200
        else:
            headers = dict(scope["headers"])
            with lock:
                state["webhooks"] += 1
                deliveries.add(headers.get(b"x-doorstep-delivery", b"").decode())
                state["last"] = time.time()
            body, status = b"", 204
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=http_port, log_level="warning", access_log=False, lifespan="off"
    )
    asyncio.run(uvicorn.Server(config).serve())


class Sinks:
    def __init__(self) -> None:
        self.smtp_port = _free_port()
        self.http_port = _free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=_sink_main, args=(self.smtp_port, self.http_port), daemon=True
        )

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/hook"

    def start(self) -> None:
        self.process.start()
        until = time.monotonic() + 30
        while time.monotonic() < until:
            try:
                self.stats()
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the sinks did not start")

    def stats(self) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{self.http_port}/stats", timeout=5.0)
        result: dict[str, Any] = answer.json()
        return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


# ---------------------------------------------------------------- the data


@dataclass
class Scene:
    officer_id: uuid.UUID
    moderator_id: uuid.UUID
    area: dict[str, Any]
    window_start: datetime
    window_end: datetime


def _square(half_side_m: float) -> dict[str, Any]:
    lat, lng = CENTRE
    dlat = half_side_m / METRES_PER_DEG_LAT
    dlng = half_side_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    ring = [
        [lng - dlng, lat - dlat],
        [lng + dlng, lat - dlat],
        [lng + dlng, lat + dlat],
        [lng - dlng, lat + dlat],
        [lng - dlng, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _setup(runtime: Runtime, *, owners: int, webhook_url: str, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    now = utcnow()
    event_at = now - timedelta(hours=2)
    lat, lng = CENTRE
    dlat = CAMERAS_HALF_SIDE_M / METRES_PER_DEG_LAT
    dlng = CAMERAS_HALF_SIDE_M / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    lats = (lat + rng.uniform(-dlat, dlat, owners)).tolist()
    lngs = (lng + rng.uniform(-dlng, dlng, owners)).tolist()
    # One argon2 hash for all (argon2 is slow by design); nobody signs in as an owner.
    password_hash = hash_password(uuid.uuid4().hex)
    ids = [uuid.uuid4() for _ in range(owners)]
    camera_ids = [uuid.uuid4() for _ in range(owners)]
    with runtime.db.transaction() as session:
        session.execute(
            insert(User),
            [
                {
                    "id": ids[i],
                    "email": f"owner-{i}@fanout.bench.invalid",
                    "display_name": f"Owner {i}",
                    "password_hash": password_hash,
                    "role": Role.resident,
                }
                for i in range(owners)
            ],
        )
        session.execute(
            insert(NotificationPreference),
            [
                {
                    "user_id": user_id,
                    "in_app": True,
                    "email": True,
                    "push": False,
                    "event_kinds": [k.value for k in EventKind],
                }
                for user_id in ids
            ],
        )
        session.execute(
            insert(Webhook),
            [
                {"user_id": user_id, "url": webhook_url, "secret": uuid.uuid4().hex}
                for user_id in ids
            ],
        )
        cells = [
            h3_int.latlng_to_cell(a, b, geo.INDEX_RESOLUTION)
            for a, b in zip(lats, lngs, strict=True)
        ]
        session.execute(
            insert(Camera),
            [
                {
                    "id": camera_ids[i],
                    "owner_id": ids[i],
                    "name": "Front door",
                    "kind": CameraKind.doorbell,
                    "exact_latitude": lats[i],
                    "exact_longitude": lngs[i],
                    "index_cell": cells[i],
                    "coarse_cell": h3_int.cell_to_parent(cells[i], geo.COARSE_RESOLUTION),
                    "accepts_requests": True,
                }
                for i in range(owners)
            ],
        )
        session.execute(
            insert(MotionEvent),
            [
                {
                    "camera_id": camera_ids[i],
                    "owner_id": ids[i],
                    "kind": EventKind.person,
                    "started_at": event_at,
                    "ended_at": event_at + timedelta(seconds=30),
                    "on_device": True,
                }
                for i in range(owners)
            ],
        )

    with runtime.db.transaction() as session:
        applicant, admin, officer, moderator = (
            account_service.create_user(
                session=session,
                actor=None,
                email=f"{name.lower()}@fanout.bench.invalid",
                display_name=name,
                password=uuid.uuid4().hex,
            )
            for name in ("Chief", "Admin", "Officer", "Moderator")
        )
        admin.role = Role.admin
        moderator.role = Role.moderator
        # Two-factor sign-in is what the agency gate checks; its setup is tested elsewhere.
        applicant.totp_enabled = officer.totp_enabled = True
        session.flush()
        agency = agency_service.apply_for_agency(
            session=session,
            applicant=applicant,
            name="Fan-out Police Department",
            agency_type=AgencyType.police,
            city="Philadelphia",
            state="PA",
            jurisdiction=_square(5_000.0),
            contact_email="records@fanout.bench.invalid",
            website="https://fanout.bench.invalid",
        )
        agency_service.change_status(
            session=session, actor=admin, agency_id=agency.id, action="verify", reason=None
        )
        officer.role = Role.agency_member
        session.add(
            AgencyMembership(agency_id=agency.id, user_id=officer.id, role=MemberRole.officer)
        )
        scene = Scene(
            officer_id=officer.id,
            moderator_id=moderator.id,
            area=_square(HALF_SIDE_M),
            window_start=now - timedelta(hours=3),
            window_end=now - timedelta(hours=1),
        )
    return scene


def _pending_review(runtime: Runtime, scene: Scene, case: int) -> uuid.UUID:
    with runtime.db.transaction() as session:
        officer = session.get(User, scene.officer_id)
        assert officer is not None
        request = request_service.draft_request(
            session=session,
            actor=officer,
            area=scene.area,
            circle=None,
            window_start=scene.window_start,
            window_end=scene.window_end,
            case_number=f"2026-FAN-{case:04d}",
            incident_type=IncidentType.burglary,
            message="A house on this block was broken into in the afternoon. Footage of "
            "people walking by may help the investigation.",
            investigator_contact="Det. Rivera, (555) 010-0000",
        )
        request_service.submit_request(session=session, actor=officer, request_id=request.id)
        return request.id


def _activate(runtime: Runtime, scene: Scene, request_id: uuid.UUID) -> dict[str, float]:
    """Approve the request; the clock stops when the notices are committed."""
    started = time.perf_counter()
    with runtime.db.transaction() as session:
        moderator = session.get(User, scene.moderator_id)
        assert moderator is not None
        request_service.review_request(
            session=session, actor=moderator, request_id=request_id, approve=True, note=None
        )
        in_transaction = time.perf_counter()
    committed = time.perf_counter()
    return {
        "queued_s": committed - started,
        "commit_s": committed - in_transaction,
        "committed_at": time.time(),
    }


def _targeting_only(runtime: Runtime, scene: Scene) -> float:
    """The targeting part alone, read-only, for the breakdown."""
    from doorstep.footage.targeting import target_owners

    area = request_area.parse_request_area(area=scene.area, circle=None).geometry
    with runtime.db.transaction() as session:
        started = time.perf_counter()
        target_owners(
            session=session, area=area, window_start=scene.window_start, window_end=scene.window_end
        )
        return time.perf_counter() - started


# ---------------------------------------------------------------- the workers


def _start_workers(
    count: int, database_url: str, data_dir: Path, sinks: Sinks
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DOORSTEP_DATABASE_URL": database_url,
        "DOORSTEP_DATA_DIR": str(data_dir),
        "DOORSTEP_SMTP_HOST": "127.0.0.1",
        "DOORSTEP_SMTP_PORT": str(sinks.smtp_port),
        "DOORSTEP_SMTP_STARTTLS": "false",
        "DOORSTEP_WORKER_POLL_S": "0.05",
        # The webhook sink is plain http on 127.0.0.1, refused unless the operator allows it.
        "DOORSTEP_WEBHOOK_ALLOW_HTTP": "true",
        "DOORSTEP_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1",
    }
    # The workers log one line a job, as in production; to a file, so no pipe fills up.
    return [
        subprocess.Popen(
            [sys.executable, "-m", "doorstep", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(data_dir / f"worker-{i}.log").open("ab"),
        )
        for i in range(count)
    ]


def _wait_delivered(sinks: Sinks, emails: int, webhooks: int, timeout_s: float) -> dict[str, Any]:
    until = time.monotonic() + timeout_s
    while True:
        stats = sinks.stats()
        if stats["emails"] >= emails and stats["webhooks"] >= webhooks:
            return stats
        if time.monotonic() > until:
            raise RuntimeError(f"delivery did not finish in {timeout_s:.0f} s: {stats}")
        time.sleep(0.05)


def _jobs_by_status(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(OutboxJob.kind, OutboxJob.status, func.count()).group_by(
                OutboxJob.kind, OutboxJob.status
            )
        ).all()
    return {f"{kind}:{status.value}": n for kind, status, n in rows}


# ---------------------------------------------------------------- the run


@output.warnings_only
def run(
    *,
    url: str,
    owners: int = 10_000,
    workers: int = 2,
    rounds: int = 3,
    seed: int = 7,
    timeout_s: float = 600.0,
    keep: bool = False,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Set up the scene, then ``rounds`` times: approve a request, wait for delivery."""
    _recreate(url, DATABASE)
    database_url = _conninfo(url, DATABASE).replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade(database_url)
    folder = data_dir or Path(tempfile.mkdtemp(prefix="doorstep-bench-fanout-"))
    folder.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(Settings(database_url=database_url, data_dir=folder))
    sinks = Sinks()
    sinks.start()
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {
        "benchmark": "fanout",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "database": "postgresql",
        "owners": owners,
        "workers": workers,
        "channels_per_owner": ["email (SMTP sink)", "webhook (HTTP sink)"],
        "rounds": [],
    }
    try:
        clock = time.perf_counter()
        scene = _setup(runtime, owners=owners, webhook_url=sinks.webhook_url, seed=seed)
        results["setup_s"] = round(time.perf_counter() - clock, 2)
        processes = _start_workers(workers, database_url, folder, sinks)
        time.sleep(2.0)  # the workers import and start polling
        for round_no in range(rounds):
            request_id = _pending_review(runtime, scene, round_no)
            before = sinks.stats()
            cpu_before = [_cpu_s(p.pid) for p in processes]
            sink_cpu_before = _cpu_s(sinks.process.pid or 0)
            timing = _activate(runtime, scene, request_id)
            with runtime.db.transaction() as session:
                asked = session.scalar(
                    select(func.count())
                    .select_from(Recipient)
                    .where(Recipient.request_id == request_id)
                )
                request = session.get(FootageRequest, request_id)
                assert request is not None and request.asked_count == asked
            stats = _wait_delivered(
                sinks, before["emails"] + owners, before["webhooks"] + owners, timeout_s
            )
            delivery_s = stats["last"] - timing["committed_at"]
            deliveries = (stats["emails"] - before["emails"]) + (
                stats["webhooks"] - before["webhooks"]
            )
            results["rounds"].append(
                {
                    "owners_asked": asked,
                    "queued_s": round(timing["queued_s"], 4),
                    "commit_s": round(timing["commit_s"], 4),
                    "delivery_s": round(delivery_s, 3),
                    "emails": stats["emails"] - before["emails"],
                    "webhooks": stats["webhooks"] - before["webhooks"],
                    "deliveries_per_s": round(deliveries / delivery_s, 1),
                    "owners_notified_per_s": round(asked / delivery_s, 1) if asked else 0.0,
                    "worker_cpu_s": [
                        round(_cpu_s(p.pid) - b, 2)
                        for p, b in zip(processes, cpu_before, strict=True)
                    ],
                    "sink_cpu_s": round(_cpu_s(sinks.process.pid or 0) - sink_cpu_before, 2),
                }
            )
            print(f"round {round_no + 1}: {results['rounds'][-1]}", file=sys.stderr)
        results["targeting_only_s"] = round(_targeting_only(runtime, scene), 4)
        final = sinks.stats()
        results["check"] = {
            "distinct_email_recipients": final["distinct_recipients"],
            "distinct_webhook_deliveries": final["distinct_deliveries"],
            "jobs": _jobs_by_status(runtime),
        }
        queued = [r["queued_s"] for r in results["rounds"]]
        rates = [r["deliveries_per_s"] for r in results["rounds"]]
        results["queued"] = {"median_s": statistics.median(queued), "max_s": max(queued)}
        results["delivery"] = {"median_per_s": statistics.median(rates), "min_per_s": min(rates)}
        results["goals"] = {
            "queued_under_1s": max(queued) < 1.0,
            "delivery_at_least_1000_per_s": min(rates) >= 1000.0,
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        sinks.stop()
        runtime.db.dispose()
        if not keep:
            _drop(url, DATABASE)
    return results


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("fanout", results, folder)


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"fan-out to {results['owners']:,} owners, {results['workers']} worker processes, "
        "email + webhook per owner",
        f"{'round':>5} {'asked':>7} {'queued':>9} {'commit':>8} {'delivered in':>13} "
        f"{'deliveries/s':>13} {'owners/s':>9}",
    ]
    for i, r in enumerate(results["rounds"], 1):
        lines.append(
            f"{i:>5} {r['owners_asked']:>7,} {r['queued_s'] * 1000:>7.0f}ms "
            f"{r['commit_s'] * 1000:>6.0f}ms {r['delivery_s']:>12.2f}s "
            f"{r['deliveries_per_s']:>13,.0f} {r['owners_notified_per_s']:>9,.0f}"
        )
    lines.append(f"targeting alone: {results['targeting_only_s'] * 1000:.0f} ms")
    goals = results["goals"]
    lines.append(
        f"goal queued < 1 s: {'met' if goals['queued_under_1s'] else 'NOT met'}; "
        f"goal >= 1,000 deliveries/s: "
        f"{'met' if goals['delivery_at_least_1000_per_s'] else 'NOT met'}"
    )
    return "\n".join(lines)
