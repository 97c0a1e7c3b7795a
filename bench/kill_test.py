"""Kill test: `kill -9` a worker in the middle of a 10,000-owner fan-out; nothing is lost.

    .venv/bin/python -m bench.kill_test \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        [--owners 10000] [--kill-at 0.3] [--lease 5]

Builds the fan-out benchmark's scene (bench.fanout: owners with a camera, an event, email on
and a webhook, inside one request's area) in a database of its own
(doorstep_bench_kill_<random> or --database NAME, dropped at the end unless --keep), with a
local SMTP sink and a local webhook sink that count every arrival by recipient and by
``X-Doorstep-Delivery``. One `doorstep worker` process starts; a moderator approves the
request (one notice job per owner); when the sink holds --kill-at of the webhooks, the
worker gets SIGKILL. A second worker starts and finishes: the dead worker's leased jobs come
back when their lease (--lease seconds) runs out.

The requirement: 0 notices lost (every owner has his in-app notice, an email and a
webhook delivery key), and every duplicate prevented by the idempotency key: a webhook
that arrives twice carries a key the receiver has seen (so it drops it), no webhook comes
without a key, and no email or in-app notice is doubled (they carry no key a receiver
could dedupe on). Prints the figures and writes bench/results/kill-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import databases, fanout_scene, output
from bench.machine import machine
from bench.sinks import KeyedArrivals, Sinks
from doorstep.config import Settings
from doorstep.migrate import upgrade
from doorstep.notify.models import JobStatus, Notification, OutboxJob
from doorstep.runtime import Runtime


def _start_worker(
    name: str, database_url: str, folder: Path, sinks: Sinks, lease_s: int
) -> subprocess.Popen[bytes]:
    env = {
        **sinks.worker_env(database_url, folder),
        "DOORSTEP_WORKER_LEASE_S": str(lease_s),
        "DOORSTEP_WORKER_BACKOFF_BASE_S": "0.1",
        "DOORSTEP_WORKER_BACKOFF_MAX_S": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "doorstep", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / f"worker-{name}.log").open("ab"),
    )


def _jobs(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(OutboxJob.kind, OutboxJob.status, func.count()).group_by(
                OutboxJob.kind, OutboxJob.status
            )
        ).all()
    return {f"{kind}:{status.value}": n for kind, status, n in rows}


def _leased(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxJob)
                .where(OutboxJob.status == JobStatus.pending, OutboxJob.locked_by.is_not(None))
            )
            or 0
        )


def _notices(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.topic == "footage_request")
        )
        users = session.scalar(
            select(func.count(func.distinct(Notification.user_id))).where(
                Notification.topic == "footage_request"
            )
        )
    return {"rows": int(rows or 0), "owners": int(users or 0)}


def _wait(
    runtime: Runtime, sinks: Sinks, owners: int, timeout_s: float
) -> tuple[dict[str, Any], bool]:
    """Until every owner's email and webhook key arrived and no job is left pending."""
    until = time.monotonic() + timeout_s
    while True:
        stats = sinks.stats()
        jobs = _jobs(runtime)
        pending = sum(n for k, n in jobs.items() if k.endswith(":pending"))
        if stats["webhook_keys"] >= owners and stats["email_recipients"] >= owners and not pending:
            return stats, True
        if time.monotonic() > until:
            return stats, False
        time.sleep(0.1)


def _kill_at(
    runtime: Runtime,
    sinks: Sinks,
    worker: subprocess.Popen[bytes],
    owners: int,
    kill_at: float,
    timeout_s: float,
    clock: float,
) -> dict[str, Any]:
    """SIGKILL ``worker`` once the sink holds ``kill_at`` of the webhooks; what had
    arrived then, and the jobs it held."""
    threshold = max(1, int(owners * kill_at))
    until = time.monotonic() + timeout_s
    while sinks.stats()["webhooks"] < threshold:
        if time.monotonic() > until or worker.poll() is not None:
            raise RuntimeError("the first worker never reached the kill point")
        time.sleep(0.005)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(30)
    at_kill = sinks.stats()
    return {
        "seconds_after_approval": round(time.perf_counter() - clock, 2),
        "webhook_keys": at_kill["webhook_keys"],
        "email_recipients": at_kill["email_recipients"],
        "jobs_leased_to_the_dead_worker": _leased(runtime),
        "jobs": _jobs(runtime),
    }


def _verdict(results: dict[str, Any], owners: int) -> dict[str, Any]:
    """What was lost, what came twice (and whether a key protects it), and the requirement."""
    final, notices = results["sinks"], results["notices"]
    lost = {
        "in_app": owners - notices["owners"],
        "email": owners - final["email_recipients"],
        "webhook": owners - final["webhook_keys"],
    }
    unprotected = {
        "webhooks_without_key": final["unkeyed"],
        "doubled_emails": final["doubled_emails"],
        "doubled_in_app": notices["rows"] - notices["owners"],
    }
    failed = sum(n for k, n in results["jobs"].items() if k.endswith(":failed"))
    return {
        "lost": lost,
        "duplicates": {
            # arrivals whose key the receiver had seen: it drops them
            "webhooks_deduplicated_by_key": final["repeat_arrivals"],
            "keys_seen_more_than_once": final["repeated_keys"],
            **unprotected,
        },
        "ok": (
            results["finished"]
            and not any(lost.values())
            and not any(unprotected.values())
            and failed == 0
            and 0 < results["at_kill"]["webhook_keys"] < owners
        ),
    }


def _stop_workers(workers: Sequence[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()


@output.warnings_only
def run(
    *,
    url: str,
    owners: int = 10_000,
    kill_at: float = 0.3,
    lease_s: int = 5,
    sink_delay_s: float = 0.0,
    seed: int = 7,
    timeout_s: float = 900.0,
    data_dir: Path | None = None,
    database: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Approve one request to ``owners``; SIGKILL the worker at ``kill_at`` of the
    webhooks; a second worker finishes. Returns the counts at the kill and at the end."""
    database = database or databases.scratch_name("kill")
    databases.recreate(url, database)
    database_url = databases.database_url(url, database)
    folder = data_dir or Path(tempfile.mkdtemp(prefix="doorstep-bench-kill-"))
    folder.mkdir(parents=True, exist_ok=True)
    sinks = Sinks(KeyedArrivals, sink_delay_s)
    runtime: Runtime | None = None
    workers: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {
        "benchmark": "kill",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "database": "postgresql",
        "owners": owners,
        "kill_at": kill_at,
        "lease_s": lease_s,
    }
    try:
        upgrade(database_url)
        runtime = Runtime(Settings(database_url=database_url, data_dir=folder))
        sinks.start()
        scene = fanout_scene.setup_scene(
            runtime, owners=owners, webhook_url=sinks.webhook_url, seed=seed
        )
        workers.append(_start_worker("first", database_url, folder, sinks, lease_s))
        request_id = fanout_scene.pending_review(runtime, scene, 0)
        fanout_scene.activate(runtime, scene, request_id)
        clock = time.perf_counter()
        results["at_kill"] = _kill_at(runtime, sinks, workers[0], owners, kill_at, timeout_s, clock)
        workers.append(_start_worker("second", database_url, folder, sinks, lease_s))
        final, finished = _wait(runtime, sinks, owners, timeout_s)
        notices = _notices(runtime)
        results["finished"] = finished
        results["seconds_to_finish"] = round(time.perf_counter() - clock, 2)
        results["sinks"] = final
        results["notices"] = notices
        results["jobs"] = _jobs(runtime)
        results |= _verdict(results, owners)
    finally:
        _stop_workers(workers)
        sinks.stop()
        if runtime is not None:
            runtime.db.dispose()
        if not keep:
            databases.drop(url, database)
    return results


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("kill", results, folder)


def summary(results: dict[str, Any]) -> str:
    k, lost, dup = results["at_kill"], results["lost"], results["duplicates"]
    return "\n".join(
        [
            f"kill -9 at {k['webhook_keys']:,} of {results['owners']:,} webhooks "
            f"({k['jobs_leased_to_the_dead_worker']} jobs leased to the dead worker); "
            f"a second worker finished in {results['seconds_to_finish']:.1f} s "
            f"after the approval",
            f"lost: in-app {lost['in_app']}, email {lost['email']}, webhook {lost['webhook']}",
            f"webhooks delivered again with a known key (receiver drops them): "
            f"{dup['webhooks_deduplicated_by_key']}; without a key: "
            f"{dup['webhooks_without_key']}; doubled emails: {dup['doubled_emails']}; "
            f"doubled in-app notices: {dup['doubled_in_app']}",
            f"jobs: {results['jobs']}",
            f"requirement (0 lost, every duplicate keyed): {'met' if results['ok'] else 'NOT met'}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of any database on the PostgreSQL server (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--owners", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.3, help="fraction of webhooks")
    parser.add_argument("--lease", type=int, default=5, help="worker lease, seconds")
    parser.add_argument("--sink-delay", type=float, default=0.0, help="webhook answer delay, s")
    parser.add_argument("--seed", type=int, default=7)
    databases.add_options(parser, "kill")
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        owners=args.owners,
        kill_at=args.kill_at,
        lease_s=args.lease,
        sink_delay_s=args.sink_delay,
        seed=args.seed,
        database=args.database,
        keep=args.keep,
    )
    output.report(summary(results), write_results(results, args.out))


if __name__ == "__main__":
    main()
