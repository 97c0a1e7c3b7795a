"""Queued events go to the batch endpoint, one request per camera, each recorded once:
the outbox the device agent and the Frigate bridge share, against the real app."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from doorstep.integrations.client import DeviceClient, EventReport, RetryPolicy
from doorstep.integrations.outbox import DELIVERED, FAILED, QUEUED, DeviceOutbox
from doorstep.runtime import Runtime
from tests.factories import make_camera, make_person
from tests.integrations.support import LiveServer, LoseFirstAnswer

FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05)
ROUNDS = RetryPolicy(attempts=0, base_delay_s=0.01, max_delay_s=0.02)


def _ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def _queue_events(outbox: DeviceOutbox, camera_id: uuid.UUID, names: list[str]) -> None:
    for n, name in enumerate(names):
        outbox.enqueue_event(
            camera_id=camera_id,
            started_at=_ago(2 - n / 100),
            ended_at=_ago(2 - n / 100 - 0.001),
            key=f"dev:{name}",
            device_ref=f"dev:{name}",
        )


def _refs(server: LiveServer, camera_id: uuid.UUID) -> list[str]:
    return sorted(e.device_ref or "" for e in server.events(camera_id))


def test_events_queued_in_an_outage_arrive_in_one_batch_exactly_once(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    names = [f"e{n}" for n in range(5)]
    live_server.stop()  # doorstep is down while the device queues its events
    with (
        DeviceOutbox(tmp_path / "state", retry=ROUNDS) as outbox,
        DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client,
    ):
        clients = {str(cam.camera.id): client}
        _queue_events(outbox, cam.camera.id, names)
        outcome = outbox.deliver_due(clients)
        assert outcome.server_down and outcome.delivered == 0
        assert outbox.count(QUEUED) == 5
        assert all(d.last_error for d in outbox.items())
        live_server.start()
        assert outbox.drain(clients, timeout_s=20)
        items = outbox.items()
    assert [d.status for d in items] == [DELIVERED] * 5
    assert all(d.result == {"batch": 5, "created": 5, "duplicates": 0} for d in items)
    assert live_server.posts(cam.camera.id, "events/batch") == 1
    assert live_server.posts(cam.camera.id, "events") == 0
    assert _refs(live_server, cam.camera.id) == [f"dev:{name}" for name in names]


def test_a_lone_event_and_one_without_a_device_ref_go_one_by_one(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    """Only a camera's second due event makes a batch; an event without a device_ref
    could not be recognised in a repeated batch, so it is always sent alone."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    with (
        DeviceOutbox(tmp_path / "state", retry=ROUNDS) as outbox,
        DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client,
    ):
        _queue_events(outbox, cam.camera.id, ["alone"])
        outbox.enqueue_event(camera_id=cam.camera.id, started_at=_ago(1), ended_at=_ago(0.99))
        assert outbox.drain({str(cam.camera.id): client}, timeout_s=10)
    assert live_server.posts(cam.camera.id, "events/batch") == 0
    assert live_server.posts(cam.camera.id, "events") == 2
    assert _refs(live_server, cam.camera.id) == ["", "dev:alone"]


def test_a_lost_batch_answer_is_resent_and_each_event_recorded_once(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    """The server recorded the batch but its answer was lost: the outbox sends the batch
    again, the server skips every device_ref it has, and each event exists once."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    client = DeviceClient(
        live_server.url,
        cam.camera.id,
        cam.token,
        retry=RetryPolicy(attempts=1),
        transport=LoseFirstAnswer(),
    )
    with client, DeviceOutbox(tmp_path / "state", retry=ROUNDS) as outbox:
        _queue_events(outbox, cam.camera.id, ["a", "b", "c"])
        assert outbox.drain({str(cam.camera.id): client}, timeout_s=10)
        items = outbox.items()
    assert all(d.status == DELIVERED and d.maybe_sent for d in items)
    assert all(d.result == {"batch": 3, "created": 0, "duplicates": 3} for d in items)
    assert live_server.posts(cam.camera.id, "events/batch") == 2
    assert _refs(live_server, cam.camera.id) == ["dev:a", "dev:b", "dev:c"]


def test_a_refused_batch_is_sent_one_by_one_and_only_the_bad_event_fails(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    """The server records a batch whole or not at all: refused for one bad event, it
    recorded nothing, so each event goes alone and the good ones arrive once."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    with (
        DeviceOutbox(tmp_path / "state", retry=ROUNDS) as outbox,
        DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client,
    ):
        _queue_events(outbox, cam.camera.id, ["good-1"])
        too_long = outbox.enqueue_event(
            camera_id=cam.camera.id,
            started_at=_ago(3),
            ended_at=_ago(1),
            key="dev:long",
            device_ref="dev:long",
        )
        _queue_events(outbox, cam.camera.id, ["good-2"])
        assert too_long is not None
        outcome = outbox.deliver_due({str(cam.camera.id): client})
        failed = outbox.get(too_long.id)
        statuses = sorted(d.status for d in outbox.items())
    assert outcome.delivered == 2 and outcome.failed == 1
    assert failed is not None and failed.last_error is not None
    assert "event_too_long" in failed.last_error
    assert statuses == [DELIVERED, DELIVERED, FAILED]
    assert live_server.posts(cam.camera.id, "events/batch") == 1
    assert live_server.posts(cam.camera.id, "events") == 3
    assert _refs(live_server, cam.camera.id) == ["dev:good-1", "dev:good-2"]


def test_a_refused_token_keeps_the_whole_batch_queued(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    with (
        DeviceOutbox(tmp_path / "state", retry=ROUNDS) as outbox,
        DeviceClient(live_server.url, cam.camera.id, "rotated", retry=FAST) as stale,
    ):
        _queue_events(outbox, cam.camera.id, ["x", "y"])
        outcome = outbox.deliver_due({str(cam.camera.id): stale})
        items = outbox.items()
    assert outcome.server_down and outcome.delivered == 0
    assert [d.status for d in items] == [QUEUED, QUEUED]
    assert all(d.last_error and "invalid_camera_token" in d.last_error for d in items)
    assert live_server.events(cam.camera.id) == []


def test_a_batch_holds_one_to_a_thousand_events() -> None:
    with DeviceClient("http://127.0.0.1:9", uuid.uuid4(), "t") as client:
        with pytest.raises(ValueError, match="1 to 1000"):
            client.report_events([])
        with pytest.raises(ValueError, match="1 to 1000"):
            client.report_events([EventReport(started_at=_ago(1))] * 1001)
