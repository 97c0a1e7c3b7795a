"""Many processes, one truth: three ``doorstep serve`` processes and two ``doorstep
worker`` processes on a PostgreSQL primary with its streaming replica, S3 (moto's server)
and an SMTP sink run the whole footage-request flow over HTTP. Drafted through one web
process, approved through another, answered through a third; the notices are delivered
by whichever worker claims them, once each, and every process shows the same public
request log."""

from __future__ import annotations

import email
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from doorstep.accounts.models import Role
from doorstep.db import utcnow
from doorstep.footage.redaction import REDACTION_JOB
from doorstep.migrate import upgrade
from doorstep.notify.channels.email import EMAIL_JOB
from doorstep.notify.models import JobStatus, Notification, OutboxJob
from doorstep.runtime import Runtime
from tests.conftest import S3_KEY_ID, S3_REGION, S3_SECRET, make_settings
from tests.factories import (
    HTML,
    Person,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    report_event,
    request_body,
    sample_clip,
    sign_in,
)
from tests.pg_cluster_support import start_cluster
from tests.process_support import ProcessGroup, eventually, process_group
from tests.servers import HoldingMailbox

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.timeout(900)]

LAT, LNG = 39.9526, -75.1652


@dataclass(frozen=True)
class ClusterDatabase:
    """Where the processes' database lives: the primary, and its read replicas if any."""

    primary_url: str
    replica_urls: tuple[str, ...] = ()
    wait_for_replicas: Callable[[], None] = lambda: None

    def environment(self) -> dict[str, str]:
        env = {"DOORSTEP_DATABASE_URL": self.primary_url}
        if self.replica_urls:
            env["DOORSTEP_DATABASE_REPLICA_URLS"] = ",".join(self.replica_urls)
        return env


@pytest.fixture
def cluster_database() -> Iterator[ClusterDatabase]:
    """A primary and its streaming replica of the test's own (``pg_cluster_support``),
    migrated; the processes send their read-only traffic to the replica."""
    cluster = start_cluster()
    try:
        cluster.create_database("doorstep")
        upgrade(cluster.primary_url("doorstep"))
        cluster.wait_for_replay()
        yield ClusterDatabase(
            cluster.primary_url("doorstep"),
            (cluster.replica_url("doorstep"),),
            cluster.wait_for_replay,
        )
    finally:
        cluster.stop()


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"multiproc-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def instance_env(
    cluster_database: ClusterDatabase,
    s3_server: str,
    bucket: str,
    mailbox: tuple[HoldingMailbox, int],
    tmp_path: Path,
) -> dict[str, str]:
    """The environment every process of the instance shares: what is instance-wide."""
    return {
        **cluster_database.environment(),
        "DOORSTEP_MEDIA_URL": f"s3://{bucket}/media",
        "DOORSTEP_S3_ENDPOINT_URL": s3_server,
        "DOORSTEP_S3_REGION": S3_REGION,
        "DOORSTEP_S3_ACCESS_KEY_ID": S3_KEY_ID,
        "DOORSTEP_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "DOORSTEP_SMTP_HOST": "127.0.0.1",
        "DOORSTEP_SMTP_PORT": str(mailbox[1]),
        "DOORSTEP_BASE_URL": "https://doorstep.example.org",
        "DOORSTEP_COOKIE_SECURE": "false",  # the processes serve plain http on 127.0.0.1
        # One key for the instance: each process has its own data dir.
        "DOORSTEP_VAPID_PRIVATE_KEY_PATH": str(tmp_path / "instance" / "vapid_private.pem"),
        "DOORSTEP_WORKER_POLL_S": "0.2",
        "DOORSTEP_WORKER_BACKOFF_BASE_S": "0",
        "DOORSTEP_WORKER_BACKOFF_MAX_S": "0",
        "DOORSTEP_LOG_FORMAT": "json",
        # No proxy from the environment between the test and its processes.
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _jobs(runtime: Runtime) -> list[OutboxJob]:
    with runtime.db.read_only() as session:
        return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


def _mails(box: HoldingMailbox) -> list[email.message.Message]:
    return [email.message_from_bytes(m) for m in box.messages]


def _pending(runtime: Runtime) -> int:
    return sum(1 for job in _jobs(runtime) if job.status == JobStatus.pending)


def test_the_footage_request_flow_across_three_web_processes_and_two_workers(
    instance_env: dict[str, str],
    cluster_database: ClusterDatabase,
    mailbox: tuple[HoldingMailbox, int],
    tmp_path: Path,
) -> None:
    box, _port = mailbox
    settings = make_settings(tmp_path / "seed", cluster_database.primary_url)
    runtime = Runtime(settings)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    moderator = make_person(runtime, role=Role.moderator)
    alice, bob = make_person(runtime), make_person(runtime)
    cam_a = make_camera(runtime, alice.user, latitude=LAT + 0.0005, longitude=LNG)
    cam_b = make_camera(runtime, bob.user, latitude=LAT - 0.0005, longitude=LNG + 0.0005)
    clip = sample_clip(tmp_path / "clips")
    started = utcnow() - timedelta(hours=2)

    try:
        with process_group(instance_env, tmp_path / "processes") as group:
            web = [group.serve(f"web{i}") for i in (1, 2, 3)]
            workers = [group.worker(f"worker{i}") for i in (1, 2)]
            group.wait_ready()
            one, two, three = (httpx.Client(base_url=p.url or "", timeout=60) for p in web)
            world = {
                "officer": officer, "moderator": moderator, "alice": alice, "bob": bob,
                "cam_a": cam_a, "cam_b": cam_b, "started": started, "clip": clip,
                "wait_for_replicas": cluster_database.wait_for_replicas,
                "replicated": bool(cluster_database.replica_urls),
            }  # fmt: skip
            _run_flow(group, runtime, box, (one, two, three), world)
            assert all(w.popen.poll() is None for w in workers)
    finally:
        runtime.close()


def _run_flow(
    group: ProcessGroup,
    runtime: Runtime,
    box: HoldingMailbox,
    clients: tuple[httpx.Client, httpx.Client, httpx.Client],
    world: dict[str, Any],
) -> None:
    one, two, three = clients
    officer, moderator, alice, bob = (world[k] for k in ("officer", "moderator", "alice", "bob"))
    cam_a, cam_b, started = world["cam_a"], world["cam_b"], world["started"]

    # Footage in the window: Alice's camera uploads a clip (to S3), Bob's reports an event.
    with world["clip"].open("rb") as fh:
        r = three.post(
            f"/api/v1/cameras/{cam_a.camera.id}/clips",
            headers=cam_a.headers,
            data={"started_at": started.isoformat(), "kind": "motion"},
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert r.status_code == 201, r.text
    alice_event = r.json()["id"]
    report_event(one, cam_b, started)

    # Drafted and submitted through process 1, approved through process 2.
    r = one.post("/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG))
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    r = one.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    assert r.json()["status"] == "pending_review", r.text
    r = two.post(
        f"/api/v1/requests/{request_id}/review",
        headers=moderator.headers,
        json={"approve": True, "note": "Meets the guidelines"},
    )
    assert r.status_code == 200 and r.json()["status"] == "active", r.text

    # The workers deliver the notices: each owner gets one mail (beside his motion alerts).
    owners = {alice.user.email, bob.user.email}

    def notices_mailed() -> list[email.message.Message] | None:
        asked = [m for m in _mails(box) if "footage" in m["Subject"].lower()]
        return asked if len(asked) >= 2 and _pending(runtime) == 0 else None

    asked = eventually(notices_mailed, what="the notices mailed", group=group)
    assert sorted(m["To"] for m in asked) == sorted(owners)
    with runtime.db.read_only() as session:
        titles = session.scalars(
            select(Notification.title).where(Notification.topic == "footage_request")
        ).all()
    assert len(titles) == 2
    assert all(any(m["Subject"].endswith(t) for t in titles) for m in asked)

    # Answered through process 3: Alice shares her clip, Bob declines.
    r = three.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=alice.headers,
        json={"event_ids": [alice_event]},
    )
    assert r.status_code == 200, r.text
    r = three.post(f"/api/v1/inbox/requests/{request_id}/decline", headers=bob.headers)
    assert r.status_code == 204, r.text

    # The redaction runs in whichever worker claims it; then the agency sees the copy.
    def redacted_evidence() -> list[dict[str, Any]] | None:
        r = one.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers)
        assert r.status_code == 200, r.text
        return list(r.json()) or None

    evidence = eventually(redacted_evidence, what="the redacted evidence", group=group)
    assert len(evidence) == 1 and evidence[0]["redaction"]["redacted_sha256"]
    video = one.get(evidence[0]["video_url"], headers=officer.headers, follow_redirects=True)
    assert video.status_code == 200 and video.content != world["clip"].read_bytes()
    eventually(lambda: _pending(runtime) == 0, what="an empty outbox", group=group)

    # Every process shows the same public figures (read from the replica once it has
    # replayed the answers).
    world["wait_for_replicas"]()
    logs = [c.get("/api/v1/transparency/requests").json() for c in clients]
    rows = [next(row for row in log["requests"] if row["id"] == request_id) for log in logs]
    assert rows[0] == rows[1] == rows[2]
    counts = rows[0]["asked"], rows[0]["shared"], rows[0]["declined"], rows[0]["no_answer"]
    assert counts == (2, 1, 1, 0)
    heads = {c.get("/api/v1/transparency/audit/head").json()["hash"] for c in clients}
    assert len(heads) == 1
    if world["replicated"]:  # the public reads went to the replica, in every process
        for client in clients:
            metrics = client.get("/metrics").text
            served = re.search(
                r'^doorstep_read_sessions_total\{target="replica"\} (\S+)$', metrics, re.M
            )
            assert served is not None and float(served.group(1)) >= 1, metrics

    # Nothing was done twice: every job done at the first try (``attempts`` counts the
    # failed ones), one redaction, and one mail for each mail job, none repeated.
    jobs = _jobs(runtime)
    assert {job.status for job in jobs} == {JobStatus.done}
    assert [job.attempts for job in jobs] == [0] * len(jobs)
    assert [job.kind for job in jobs].count(REDACTION_JOB) == 1
    mail_jobs = [job for job in jobs if job.kind == EMAIL_JOB]
    assert len(box.messages) == len(mail_jobs)
    sent = Counter((m["To"], m["Subject"]) for m in _mails(box))
    assert max(sent.values()) == 1
    _assert_workers_ran(group)
    _assert_one_push_key(clients, alice)


def _assert_one_push_key(clients: tuple[httpx.Client, ...], person: Person) -> None:
    """A browser session opened through one process holds in the others, and all three
    hand out the instance's one Web Push key, though each has a data dir of its own."""
    with httpx.Client(base_url=str(clients[0].base_url), timeout=60) as browser:
        sign_in(browser, person)  # pages as a TestClient drives them: it is an httpx.Client
        keys = set()
        for client in clients:
            page = browser.get(f"{client.base_url}/account/notifications", headers=HTML)
            assert page.status_code == 200, page.text
            found = re.search(r'data-vapid-key="([^"]+)"', page.text)
            assert found is not None
            keys.add(found.group(1))
    assert len(keys) == 1


def _assert_workers_ran(group: ProcessGroup) -> None:
    """Both workers were up, polling the same outbox."""
    worker_logs = [p.log() for p in group.processes if p.name.startswith("worker")]
    assert len(worker_logs) == 2
    assert all('"worker.started"' in text for text in worker_logs), group.logs()
