"""The device client: retries and backoff, permanent refusals, and the durable outbox
surviving a doorstep outage, a restart and an unanswered request."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from doorstep.integrations.client import (
    DeviceAPIError,
    DeviceClient,
    DeviceUnavailable,
    RetryPolicy,
)
from doorstep.integrations.outbox import DELIVERED, FAILED, QUEUED, DeviceOutbox, OutboxBusy
from doorstep.runtime import Runtime
from tests.factories import make_camera, make_person
from tests.integrations.support import LiveServer, LoseFirstAnswer, sha256_of, share_events

FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)


def _ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


# ---------------------------------------------------------------- retries (no server)


def _scripted(answers: list[httpx.Response | Exception]) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


def _event_json(camera_id: uuid.UUID) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "camera_id": str(camera_id),
        "camera_name": "x",
        "kind": "motion",
        "started_at": now,
        "ended_at": now,
        "on_device": True,
        "clip": None,
    }


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=1.0, max_delay_s=5.0)
    for retry, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0]):
        delays = [policy.delay_s(retry) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    # the server's Retry-After wins when longer, within the ceiling
    assert policy.delay_s(0, retry_after_s=3.0) == 3.0
    assert policy.delay_s(0, retry_after_s=99.0) == 5.0


def test_5xx_429_and_network_errors_are_retried_then_succeed() -> None:
    camera_id = uuid.uuid4()
    transport, seen = _scripted(
        [
            httpx.ConnectError("refused"),
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(201, json=_event_json(camera_id)),
        ]
    )
    sleeps: list[float] = []
    client = DeviceClient(
        "http://doorstep.test",
        camera_id,
        "tok",
        retry=FAST,
        transport=transport,
        sleep=sleeps.append,
    )
    event = client.report_event(started_at=_ago(1), device_ref="x:1")
    assert event.on_device and len(seen) == 4 and len(sleeps) == 3


def test_4xx_is_permanent_and_carries_the_servers_code() -> None:
    transport, seen = _scripted(
        [
            httpx.Response(
                400,
                json={"error": {"code": "event_too_long", "message": "An event lasts at most 600"}},
            )
        ]
    )
    client = DeviceClient(
        "http://doorstep.test",
        uuid.uuid4(),
        "tok",
        retry=FAST,
        transport=transport,
        sleep=lambda _s: None,
    )
    with pytest.raises(DeviceAPIError) as refused:
        client.report_event(started_at=_ago(1))
    assert refused.value.status_code == 400 and refused.value.code == "event_too_long"
    assert len(seen) == 1  # not retried


def test_exhausted_retries_say_whether_the_server_may_have_the_request() -> None:
    never_sent, _ = _scripted([httpx.ConnectError("refused")] * 4)
    client = DeviceClient(
        "http://doorstep.test",
        uuid.uuid4(),
        "tok",
        retry=FAST,
        transport=never_sent,
        sleep=lambda _s: None,
    )
    with pytest.raises(DeviceUnavailable) as down:
        client.report_event(started_at=_ago(1))
    assert down.value.maybe_delivered is False
    lost_answer, _ = _scripted([httpx.ReadTimeout("slow")] + [httpx.ConnectError("x")] * 3)
    client = DeviceClient(
        "http://doorstep.test",
        uuid.uuid4(),
        "tok",
        retry=FAST,
        transport=lost_answer,
        sleep=lambda _s: None,
    )
    with pytest.raises(DeviceUnavailable) as down:
        client.report_event(started_at=_ago(1))
    assert down.value.maybe_delivered is True


# ---------------------------------------------------------------- against doorstep


def test_client_against_a_live_server(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    with DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client:
        uploaded = client.upload_clip(
            videos["frigate"], started_at=_ago(2), device_ref="test:clip-1"
        )
        assert uploaded.clip_id is not None and not uploaded.on_device
        reported = client.report_event(
            started_at=_ago(2),
            ended_at=_ago(2) + timedelta(seconds=9),
            kind="person",
            device_ref="test:event-1",
        )
        assert reported.on_device and reported.kind == "person"
        assert client.list_pending_uploads() == []
        not_video = tmp_path / "notes.mp4"
        not_video.write_bytes(b"hello, this is not a video" * 20)
        with pytest.raises(DeviceAPIError) as refused:
            client.upload_clip(not_video, started_at=_ago(1))
        assert refused.value.status_code == 415 and refused.value.code == "not_a_video"
    with DeviceClient(live_server.url, cam.camera.id, "wrong-token", retry=FAST) as bad:
        with pytest.raises(DeviceAPIError) as refused:
            bad.report_event(started_at=_ago(1))
        assert refused.value.code == "invalid_camera_token" and refused.value.is_credential_problem
    refs = sorted(e.device_ref or "" for e in live_server.events(cam.camera.id))
    assert refs == ["test:clip-1", "test:event-1"]


def test_outbox_survives_an_outage_and_a_restart(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    state = tmp_path / "state"
    fast = RetryPolicy(attempts=0, base_delay_s=0.01, max_delay_s=0.05)
    live_server.stop()  # doorstep is down
    outbox = DeviceOutbox(state, retry=fast)
    client = DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST)
    clients = {str(cam.camera.id): client}
    outbox.enqueue_clip(
        camera_id=cam.camera.id,
        started_at=_ago(2),
        clip=videos["frigate"],
        key="dev:1",
        device_ref="dev:1",
    )
    outbox.enqueue_event(
        camera_id=cam.camera.id,
        started_at=_ago(2),
        ended_at=_ago(1.99),
        key="dev:2",
        device_ref="dev:2",
    )
    assert (
        outbox.enqueue_event(
            camera_id=cam.camera.id, started_at=_ago(2), ended_at=_ago(1.99), key="dev:2"
        )
        is None
    )  # a duplicate
    outcome = outbox.deliver_due(clients)
    assert outcome.server_down and outcome.delivered == 0
    assert outbox.count(QUEUED) == 2
    # A second process on the same state dir would send things twice: refused.
    with pytest.raises(OutboxBusy):
        DeviceOutbox(state)
    outbox.close()  # the device restarts ...
    live_server.start()  # ... and doorstep comes back

    outbox = DeviceOutbox(state, retry=fast)
    assert outbox.drain(clients, timeout_s=20)
    assert [d.status for d in outbox.items()] == [DELIVERED, DELIVERED]
    assert list((state / "clips").iterdir()) == []  # sent clips are removed
    # the keys are remembered: the same items are not queued again
    assert (
        outbox.enqueue_event(
            camera_id=cam.camera.id, started_at=_ago(2), ended_at=_ago(1.99), key="dev:2"
        )
        is None
    )
    outbox.close()
    client.close()
    refs = sorted(e.device_ref or "" for e in live_server.events(cam.camera.id))
    assert refs == ["dev:1", "dev:2"]


def test_an_unanswered_send_is_resent_and_recorded_once(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    """The server recorded the event, the answer was lost, so the outbox sends it again
    (at least once on the wire); the server knows the device_ref and keeps one event."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    client = DeviceClient(
        live_server.url,
        cam.camera.id,
        cam.token,
        retry=RetryPolicy(attempts=1),
        transport=LoseFirstAnswer(),
    )
    with DeviceOutbox(
        tmp_path / "state", retry=RetryPolicy(0, base_delay_s=0.01, max_delay_s=0.02)
    ) as outbox:
        item = outbox.enqueue_event(
            camera_id=cam.camera.id,
            started_at=_ago(2),
            ended_at=_ago(1.99),
            key="dev:lost",
            device_ref="dev:lost",
        )
        assert item is not None
        assert outbox.drain({str(cam.camera.id): client}, timeout_s=10)
        sent = outbox.get(item.id)
        assert sent is not None and sent.status == DELIVERED and sent.maybe_sent
    client.close()
    refs = [e.device_ref for e in live_server.events(cam.camera.id)]
    assert refs == ["dev:lost"]


def test_a_shared_clip_is_fulfilled_once_even_when_the_answer_is_lost(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    with DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client:
        event = client.report_event(
            started_at=_ago(2), ended_at=_ago(2) + timedelta(seconds=3), device_ref="sd:/0001.mp4"
        )
    share_events(live_server, owner, [str(event.id)])
    lossy = DeviceClient(
        live_server.url,
        cam.camera.id,
        cam.token,
        retry=RetryPolicy(attempts=1),
        transport=LoseFirstAnswer(),
    )
    pending = lossy.list_pending_uploads()
    assert [p.device_ref for p in pending] == ["sd:/0001.mp4"]
    with DeviceOutbox(
        tmp_path / "state", retry=RetryPolicy(0, base_delay_s=0.01, max_delay_s=0.02)
    ) as outbox:
        item = outbox.enqueue_fulfil(
            camera_id=cam.camera.id, evidence_id=pending[0].evidence_id, clip=videos["frigate"]
        )
        assert item is not None
        assert (
            outbox.enqueue_fulfil(
                camera_id=cam.camera.id, evidence_id=pending[0].evidence_id, clip=videos["frigate"]
            )
            is None
        )
        assert outbox.drain({str(cam.camera.id): lossy}, timeout_s=10)
        done = outbox.get(item.id)
        assert done is not None and done.status == DELIVERED
        # the first send landed; the resend was told "not pending any more"
        assert done.maybe_sent and done.result == {"not_pending": True}
    assert lossy.list_pending_uploads() == []
    lossy.close()
    evidence = live_server.evidence(pending[0].evidence_id)
    assert evidence is not None and evidence.original_sha256 == sha256_of(videos["frigate"])


def test_refusals_fail_the_item_but_a_refused_token_keeps_it(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    fast = RetryPolicy(0, base_delay_s=0.01, max_delay_s=0.02)
    with DeviceOutbox(tmp_path / "state", retry=fast) as outbox:
        too_long = outbox.enqueue_event(
            camera_id=cam.camera.id, started_at=_ago(3), ended_at=_ago(1), key="dev:long"
        )
        assert too_long is not None
        with DeviceClient(live_server.url, cam.camera.id, cam.token, retry=FAST) as client:
            outcome = outbox.deliver_due({str(cam.camera.id): client})
        failed = outbox.get(too_long.id)
        assert outcome.failed == 1 and failed is not None and failed.status == FAILED
        assert failed.last_error is not None and "event_too_long" in failed.last_error

        fine = outbox.enqueue_event(
            camera_id=cam.camera.id, started_at=_ago(2), ended_at=_ago(1.99), key="dev:fine"
        )
        assert fine is not None
        with DeviceClient(live_server.url, cam.camera.id, "rotated", retry=FAST) as stale:
            outcome = outbox.deliver_due({str(cam.camera.id): stale})
        kept = outbox.get(fine.id)
        assert outcome.server_down and kept is not None and kept.status == QUEUED
        assert kept.last_error is not None and "invalid_camera_token" in kept.last_error


def test_a_crash_mid_send_is_remembered_and_half_written_files_are_swept(
    tmp_path: Path, videos: dict[str, Path]
) -> None:
    state = tmp_path / "state"
    outbox = DeviceOutbox(state)
    item = outbox.enqueue_clip(
        camera_id=uuid.uuid4(), started_at=_ago(1), clip=videos["frigate"], key="dev:crash"
    )
    assert item is not None and item.clip_file is not None
    outbox._update(item.id, in_flight=1)  # the process dies while sending
    (state / "clips" / "0123.part").write_bytes(b"half a download")
    outbox.close()
    reopened = DeviceOutbox(state)
    again = reopened.get(item.id)
    assert again is not None and again.maybe_sent and again.status == QUEUED
    assert sorted(p.name for p in (state / "clips").iterdir()) == [item.clip_file]
    assert sha256_of(state / "clips" / item.clip_file) == sha256_of(videos["frigate"])
    reopened.close()


def test_finished_items_are_forgotten_after_remember_days(tmp_path: Path) -> None:
    with DeviceOutbox(tmp_path / "state", remember_days=30) as outbox:
        cam = uuid.uuid4()
        old = outbox.enqueue_event(
            camera_id=cam, started_at=_ago(1), ended_at=_ago(1), key="dev:old"
        )
        recent = outbox.enqueue_event(
            camera_id=cam, started_at=_ago(1), ended_at=_ago(1), key="dev:recent"
        )
        assert old is not None and recent is not None
        outbox._update(old.id, status=DELIVERED, finished_at=time.time() - 31 * 86400)
        outbox._update(recent.id, status=DELIVERED, finished_at=time.time() - 29 * 86400)
        assert outbox.forget_finished() == 1
        assert not outbox.has_key("dev:old") and outbox.has_key("dev:recent")
