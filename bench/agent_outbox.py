"""The ingest benchmark's device path: local-first events queued in the durable outbox
that the motion agent and the Frigate bridge keep (``doorstep.integrations.outbox``), as
after an outage, then drained to the server by the outbox's own delivery rounds through
``DeviceClient``. Timed from the first request to an empty queue.

Two ways, alternated round by round on the same server: the outbox as it is (a camera's
due events in one request to the batch endpoint), and one event a request (the delivery
it had before: the same rounds with batching left out, every event through
``POST /events``)."""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from bench.event_senders import BenchCamera, random_event
from doorstep.integrations.client import DeviceClient, parse_time
from doorstep.integrations.outbox import Delivery, DeliveryRound, DeviceOutbox

WAYS = ("one_by_one", "batched")


class _OneByOne(DeviceOutbox):
    """The outbox without batches: each event its own request, as before them."""

    def _deliver_batches(
        self, items: list[Delivery], clients: Mapping[str, DeviceClient], outcome: DeliveryRound
    ) -> list[Delivery]:
        return items


def _drain(
    *,
    base: str,
    cameras: Sequence[BenchCamera],
    events_per_camera: int,
    way: str,
    rng: np.random.Generator,
    prefix: str,
) -> dict[str, Any]:
    """Queue the events, then time the outbox draining them; events per second."""
    kind = DeviceOutbox if way == "batched" else _OneByOne
    now = datetime.now(UTC)
    clients = {camera.id: DeviceClient(base, camera.id, camera.token) for camera in cameras}
    with tempfile.TemporaryDirectory(prefix="doorstep-bench-outbox-") as folder:
        outbox = kind(Path(folder))
        try:
            for camera in cameras:
                for n in range(events_per_camera):
                    body = random_event(rng, now, n, prefix)
                    outbox.enqueue_event(
                        camera_id=camera.id,
                        started_at=parse_time(body["started_at"]),
                        ended_at=parse_time(body["ended_at"]),
                        kind=body["kind"],
                        device_ref=body["device_ref"],
                    )
            clock = time.perf_counter()
            drained = outbox.drain(clients, timeout_s=900.0)
            seconds = time.perf_counter() - clock
        finally:
            outbox.close()
    for client in clients.values():
        client.close()
    if not drained:
        raise RuntimeError(f"the outbox ({way}) did not drain in 900 s")
    events = len(cameras) * events_per_camera
    return {"events": events, "seconds": round(seconds, 3), "events_per_s": round(events / seconds)}


def measure(
    *,
    base: str,
    cameras: Sequence[BenchCamera],
    events_per_camera: int,
    rounds: int,
    rng: np.random.Generator,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """``rounds`` of each way, alternated; min / median / max events per second."""
    # The outbox logs every delivery at info: thousands of lines would be timed too.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    for round_no in range(rounds):
        for way in WAYS:
            result = _drain(
                base=base,
                cameras=cameras,
                events_per_camera=events_per_camera,
                way=way,
                rng=rng,
                prefix=f"agent-{way}-{round_no}",
            )
            say(f"  outbox, {way}, round {round_no + 1}: {result['events_per_s']:,} events/s")
            runs[way].append(result)
    results: dict[str, Any] = {
        "cameras": len(cameras),
        "events_per_camera": events_per_camera,
        "created": sum(r["events"] for way in WAYS for r in runs[way]),
    }
    for way in WAYS:
        rates = [r["events_per_s"] for r in runs[way]]
        results[way] = {
            "rounds": runs[way],
            "events_per_s": {
                "min": min(rates),
                "median": statistics.median(rates),
                "max": max(rates),
            },
        }
    return results


def summary(results: dict[str, Any]) -> list[str]:
    """One line per way: median, min and max events per second."""
    lines = []
    for way in WAYS:
        rate = results[way]["events_per_s"]
        lines.append(
            f"device outbox, {way.replace('_', ' ')}: {rate['median']:,} events/s median"
            f" (min {rate['min']:,}, max {rate['max']:,}; {results['cameras']} cameras x"
            f" {results['events_per_camera']} events)"
        )
    return lines
