"""Moving motion events into monthly partitions: the one-transaction migration against the
online move, on the same data, in one run, with the app's writes going on.

    .venv/bin/python -m bench generate --db URL --cameras 20000 --events 1000000 --days 360
    .venv/bin/python -m bench.online_partitions --db URL [--rounds 1] [--batch 50000]

``URL`` is a PostgreSQL database of its own at the latest revision (events partitioned).
Each round takes it back to revision 20261205_0014_event_alerts (the events in one table;
not timed), then:

- ``plain``: ``doorstep migrate --revision 20261205_0015``, the copy in one transaction;
- back to 20261205_0014 again (not timed);
- ``online``: ``doorstep events prepare-partitions`` (the copy, month by month), then the
  same migration, which only swaps.

All the while a writer inserts one event every ``--write-every-s`` seconds, each in its own
transaction, as a device's ingest would, and times each insert: the longest insert is how
long the move kept writes out. At the end the events must be the rows there before, plus
every insert. Writes bench/results/online-partitions-<UTC timestamp>.json; the database is
left at the latest revision. Method and numbers: BENCHMARKS.md section 9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench import output
from bench.machine import machine
from doorstep.db import make_engine
from doorstep.migrate import downgrade, upgrade
from doorstep.migrations import online_partitions

SWAP = "20261205_0015"


class Writer:
    """Inserts an event every ``every_s`` seconds on its own connection, timing each."""

    def __init__(self, engine: Engine, every_s: float) -> None:
        self.engine = engine
        self.every_s = every_s
        self.waits: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        with engine.connect() as conn:
            self.camera_id, self.owner_id = conn.execute(
                text("SELECT id, owner_id FROM cameras ORDER BY id LIMIT 1")
            ).one()

    def _run(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not self._stop.is_set():
                started = time.perf_counter()
                conn.execute(
                    text(
                        "INSERT INTO motion_events (id, camera_id, owner_id, kind, started_at,"
                        " ended_at, on_device, created_at) VALUES (:id, :camera, :owner,"
                        " 'motion', now(), now(), true, now())"
                    ),
                    {"id": uuid.uuid4(), "camera": self.camera_id, "owner": self.owner_id},
                )
                self.waits.append(time.perf_counter() - started)
                self._stop.wait(self.every_s)

    @contextmanager
    def running(self) -> Iterator[Writer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM motion_events")) or 0)


def _timed(step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _writes(writer: Writer) -> dict[str, Any]:
    return {
        "inserts": len(writer.waits),
        "longest_insert_s": round(max(writer.waits, default=0.0), 3),
        "median_insert_ms": round(statistics.median(writer.waits or [0.0]) * 1000, 2),
    }


def one_round(
    engine: Engine, url: str, *, batch: int, every_s: float, say: Callable[[str], None]
) -> dict[str, Any]:
    downgrade(url, online_partitions.BEFORE)
    events = _events(engine)
    say(f"plain: the one-transaction migration of {events} events")
    with Writer(engine, every_s).running() as writer:
        plain_s = _timed(lambda: upgrade(url, SWAP))
    plain = {"migration_s": round(plain_s, 2)} | _writes(writer)
    kept = _events(engine) == events + len(writer.waits)
    downgrade(url, online_partitions.BEFORE)
    events = _events(engine)
    say(f"online: prepare-partitions (batches of {batch}), then the swap")
    months: list[online_partitions.Progress] = []
    with Writer(engine, every_s).running() as writer:
        prepare_s = _timed(
            lambda: online_partitions.prepare(
                engine, batch_rows=batch, report=lambda p: months.append(p) if p.done else None
            )
        )
        during_prepare = _writes(writer)
        swap_waits_from = len(writer.waits)
        swap_s = _timed(lambda: upgrade(url, SWAP))
    swap_waits = writer.waits[swap_waits_from:]
    online = {
        "prepare_s": round(prepare_s, 2),
        "swap_s": round(swap_s, 3),
        "slowest_month_s": round(max(p.seconds for p in months), 2),
        "months": len(months),
        "during_prepare": during_prepare,
        "longest_insert_during_swap_s": round(max(swap_waits, default=0.0), 3),
    } | _writes(writer)
    kept = kept and _events(engine) == events + len(writer.waits)
    return {"events": events, "plain": plain, "online": online, "every_write_kept": kept}


def run(
    *, url: str, rounds: int, batch: int, every_s: float, progress: Callable[[str], None]
) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        upgrade(url)
        load_before = os.getloadavg()
        results = []
        for i in range(rounds):
            progress(f"round {i + 1} of {rounds}")
            results.append(one_round(engine, url, batch=batch, every_s=every_s, say=progress))
        upgrade(url)
    finally:
        engine.dispose()
    ratios = [r["online"]["swap_s"] / r["plain"]["migration_s"] for r in results]
    return {
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "batch": batch,
        "write_every_s": every_s,
        "rounds": results,
        "swap_over_plain": {
            "min": min(ratios),
            "median": statistics.median(ratios),
            "max": max(ratios),
        },
    }


def _summary(results: dict[str, Any]) -> str:
    lines = [f"load average {results['load_average_before']} -> {results['load_average_after']}"]
    for r in results["rounds"]:
        plain, online = r["plain"], r["online"]
        lines.append(
            f"{r['events']} events: plain {plain['migration_s']} s (longest insert "
            f"{plain['longest_insert_s']} s); online prepare {online['prepare_s']} s "
            f"(longest insert {online['during_prepare']['longest_insert_s']} s), swap "
            f"{online['swap_s']} s (longest insert {online['longest_insert_during_swap_s']} s);"
            f" every write kept: {r['every_write_kept']}"
        )
    return "\n".join(lines)


@output.warnings_only
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("DOORSTEP_BENCH_DB"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--write-every-s", type=float, default=0.05)
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        rounds=args.rounds,
        batch=args.batch,
        every_s=args.write_every_s,
        progress=lambda line: print(line, flush=True),
    )
    output.report(_summary(results), output.write_results("online-partitions", results, args.out))


if __name__ == "__main__":
    main()
