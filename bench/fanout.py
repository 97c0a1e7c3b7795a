"""Fan-out: a footage request reaching 10,000 owners, queued and delivered.

    .venv/bin/python -m bench.fanout --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        [--owners 10000] [--workers 2] [--rounds 3]

Makes its own database (doorstep_bench_fanout_<random>, or --database NAME; dropped at the
end unless --keep) on that server, 10,000 owners with a
camera, an event, email on and a webhook inside one request's area, a local SMTP sink and
a local webhook sink, and two `doorstep worker` processes. Times the approval that queues
every notice, then the delivery of one email and one webhook per owner. Writes
bench/results/fanout-<UTC timestamp>.json. Method and numbers: BENCHMARKS.md.

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

The benchmark makes its own database (``doorstep_bench_fanout_<random>`` on the server of
``--db``), so the 10,000 owners can all live inside one request's area. Owners, their
preferences (email on), webhooks, cameras and one event each are inserted in bulk with
the models' own defaults (creating 10,000 accounts through argon2 would take minutes and
measure nothing here); the agency, its officer, the moderator and the requests go
through the services. The sinks and the workers are separate processes on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import databases, output
from bench.fanout_scene import Scene, activate, pending_review, setup_scene
from bench.machine import cpu_s, machine
from bench.sinks import Deliveries, Sinks
from doorstep.config import Settings
from doorstep.footage import area as request_area
from doorstep.footage.models import FootageRequest, Recipient
from doorstep.migrate import upgrade
from doorstep.notify.models import OutboxJob
from doorstep.runtime import Runtime

__all__ = ["run", "summary", "write_results"]


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
    count: int, database_url: str, data_dir: Path, sinks: Sinks, source: Path | None
) -> list[subprocess.Popen[bytes]]:
    """``count`` workers of this tree's code, or of the ``src`` folder ``source`` (the
    baseline: another version of doorstep on the same database, sinks and machine)."""
    env = sinks.worker_env(database_url, data_dir)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    # The workers log one line a job, as in production; to a file, so no pipe fills up.
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "doorstep", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(data_dir / f"worker-{i}.log").open("ab"),
        )
        for i in range(count)
    ]
    time.sleep(2.0)  # the workers import and start polling
    return processes


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


def _round(
    runtime: Runtime,
    scene: Scene,
    sinks: Sinks,
    processes: Sequence[subprocess.Popen[bytes]],
    round_no: int,
    owners: int,
    timeout_s: float,
) -> dict[str, Any]:
    """One request approved and delivered: the queueing and delivery figures."""
    request_id = pending_review(runtime, scene, round_no)
    before = sinks.stats()
    cpu_before = [cpu_s(p.pid) for p in processes]
    sink_cpu_before = cpu_s(sinks.process.pid or 0)
    timing = activate(runtime, scene, request_id)
    with runtime.db.transaction() as session:
        asked = session.scalar(
            select(func.count()).select_from(Recipient).where(Recipient.request_id == request_id)
        )
        request = session.get(FootageRequest, request_id)
        assert request is not None and request.asked_count == asked
    stats = _wait_delivered(
        sinks, before["emails"] + owners, before["webhooks"] + owners, timeout_s
    )
    delivery_s = stats["last"] - timing["committed_at"]
    deliveries = (stats["emails"] - before["emails"]) + (stats["webhooks"] - before["webhooks"])
    return {
        "owners_asked": asked,
        "queued_s": round(timing["queued_s"], 4),
        "commit_s": round(timing["commit_s"], 4),
        "delivery_s": round(delivery_s, 3),
        "emails": stats["emails"] - before["emails"],
        "webhooks": stats["webhooks"] - before["webhooks"],
        "deliveries_per_s": round(deliveries / delivery_s, 1),
        "owners_notified_per_s": round(asked / delivery_s, 1) if asked else 0.0,
        "worker_cpu_s": [
            round(cpu_s(p.pid) - b, 2) for p, b in zip(processes, cpu_before, strict=True)
        ],
        "sink_cpu_s": round(cpu_s(sinks.process.pid or 0) - sink_cpu_before, 2),
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "min": min(values),
        "median": round(statistics.median(values), 3),
        "max": max(values),
    }


def _conclusions(
    runtime: Runtime,
    sinks: Sinks,
    rounds: Sequence[dict[str, Any]],
    baseline: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """What arrived in all, the jobs' states, the rounds' medians and the goals met; with a
    baseline, each round's rate against the baseline round run just before it."""
    final = sinks.stats()
    queued = [r["queued_s"] for r in rounds]
    rates = [r["deliveries_per_s"] for r in rounds]
    compared: dict[str, Any] = {}
    if baseline:
        base_rates = [r["deliveries_per_s"] for r in baseline]
        compared = {
            "baseline_delivery_per_s": _spread(base_rates),
            "delivery_vs_baseline": _spread(
                [round(new / old, 2) for new, old in zip(rates, base_rates, strict=True)]
            ),
        }
    return compared | {
        "check": {
            "distinct_email_recipients": final["distinct_recipients"],
            "distinct_webhook_deliveries": final["distinct_deliveries"],
            "jobs": _jobs_by_status(runtime),
        },
        "queued": {"median_s": statistics.median(queued), "max_s": max(queued)},
        "delivery": {
            "median_per_s": statistics.median(rates),
            "min_per_s": min(rates),
            "max_per_s": max(rates),
        },
        "goals": {
            "queued_under_1s": max(queued) < 1.0,
            "delivery_at_least_1000_per_s": min(rates) >= 1000.0,
        },
    }


def _stop_workers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@output.warnings_only
def run(
    *,
    url: str,
    owners: int = 10_000,
    workers: int = 2,
    rounds: int = 3,
    seed: int = 7,
    timeout_s: float = 600.0,
    database: str | None = None,
    keep: bool = False,
    data_dir: Path | None = None,
    baseline_src: Path | None = None,
) -> dict[str, Any]:
    """Set up the scene in a database of its own (``database``, or a fresh name), then
    ``rounds`` times: approve a request, wait for delivery. With ``baseline_src`` (the
    ``src`` folder of another doorstep, e.g. main's), each round first runs the same
    request with workers of that code, then with this tree's: a ratio measured on the
    same database, sinks and machine load."""
    with databases.scratch_postgres(
        url, database or databases.scratch_name("fanout"), keep=keep
    ) as database_url:
        return _run_in(
            database_url,
            owners=owners,
            workers=workers,
            rounds=rounds,
            seed=seed,
            timeout_s=timeout_s,
            data_dir=data_dir,
            baseline_src=baseline_src,
        )


def _run_in(
    database_url: str,
    *,
    owners: int,
    workers: int,
    rounds: int,
    seed: int,
    timeout_s: float,
    data_dir: Path | None,
    baseline_src: Path | None,
) -> dict[str, Any]:
    upgrade(database_url)
    folder = data_dir or Path(tempfile.mkdtemp(prefix="doorstep-bench-fanout-"))
    folder.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(Settings(database_url=database_url, data_dir=folder))
    sinks = Sinks(Deliveries)
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
        "load_average_at_start": os.getloadavg(),
        "baseline_src": str(baseline_src) if baseline_src else None,
        "rounds": [],
        "baseline_rounds": [],
    }
    contestants: list[tuple[str, Path | None]] = []
    if baseline_src is not None:
        contestants.append(("baseline_rounds", baseline_src))
    contestants.append(("rounds", None))
    try:
        clock = time.perf_counter()
        scene = setup_scene(runtime, owners=owners, webhook_url=sinks.webhook_url, seed=seed)
        results["setup_s"] = round(time.perf_counter() - clock, 2)
        case = 0
        for round_no in range(rounds):
            for key, source in contestants:
                processes = _start_workers(workers, database_url, folder, sinks, source)
                figures = _round(runtime, scene, sinks, processes, case, owners, timeout_s)
                _stop_workers(processes)
                processes, case = [], case + 1
                results[key].append(figures)
                print(f"round {round_no + 1} ({key}): {figures}", file=sys.stderr)
        results["load_average_at_end"] = os.getloadavg()
        results["targeting_only_s"] = round(_targeting_only(runtime, scene), 4)
        results |= _conclusions(runtime, sinks, results["rounds"], results["baseline_rounds"])
    finally:
        _stop_workers(processes)
        sinks.stop()
        runtime.db.dispose()
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
    for i, r in enumerate(results["baseline_rounds"], 1):
        lines.append(
            f"baseline round {i}: delivered in {r['delivery_s']:.2f}s, "
            f"{r['deliveries_per_s']:,.0f} deliveries/s"
        )
    if results["baseline_rounds"]:
        ratio = results["delivery_vs_baseline"]
        lines.append(
            f"deliveries/s against the baseline ({results['baseline_src']}), round by round: "
            f"min {ratio['min']:.2f}x, median {ratio['median']:.2f}x, max {ratio['max']:.2f}x"
        )
    lines.append(f"targeting alone: {results['targeting_only_s'] * 1000:.0f} ms")
    goals = results["goals"]
    lines.append(
        f"goal queued < 1 s: {'met' if goals['queued_under_1s'] else 'NOT met'}; "
        f"goal >= 1,000 deliveries/s: "
        f"{'met' if goals['delivery_at_least_1000_per_s'] else 'NOT met'}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of any database on the PostgreSQL server (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--owners", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="src folder of another doorstep (e.g. `git archive main src | tar -x -C DIR`, "
        "then DIR/src) whose workers deliver the same request first in each round",
    )
    databases.add_options(parser, "fanout")
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        owners=args.owners,
        workers=args.workers,
        rounds=args.rounds,
        seed=args.seed,
        database=args.database,
        keep=args.keep,
        baseline_src=args.baseline_src,
    )
    output.report(summary(results), write_results(results, args.out))


if __name__ == "__main__":
    main()
