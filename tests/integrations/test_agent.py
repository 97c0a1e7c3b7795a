"""The motion agent end to end: a video file in, clips or local-first events in doorstep,
shared clips served from the device, and the kept clips' retention."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import typer
from typer.testing import CliRunner

from doorstep.integrations.agent import AgentConfig, MotionAgent
from doorstep.integrations.cli import agent as agent_command
from doorstep.integrations.outbox import DELIVERED
from doorstep.runtime import Runtime
from tests.factories import make_camera, make_person
from tests.integrations.support import (
    LiveServer,
    free_port,
    sha256_of,
    share_events,
    wait_until,
)


def _config(
    server: LiveServer, cam_id: uuid.UUID, token: str, source: Path | str, tmp: Path, **over: object
) -> AgentConfig:
    values: dict[str, object] = {
        "source": str(source),
        "camera_id": cam_id,
        "token": token,
        "server_url": server.url,
        "state_dir": tmp / "agent-state",
        "source_start": datetime.now(UTC) - timedelta(hours=2),
        "retry_base_s": 0.05,
        "retry_max_s": 0.2,
        "delivery_poll_s": 0.05,
    }
    values.update(over)
    return AgentConfig(**values)  # type: ignore[arg-type]


def _duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        return float(stream.duration * stream.time_base)


def test_agent_uploads_each_motion_span_with_pre_and_post_roll(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    cfg = _config(live_server, cam.camera.id, cam.token, videos["motion_3_6"], tmp_path)
    agent = MotionAgent(cfg)
    try:
        agent.run(drain_timeout_s=30)
        assert [d.status for d in agent.outbox.items()] == [DELIVERED]
    finally:
        agent.close()
    [clip] = agent.clips
    assert (clip.motion.start_s, clip.motion.end_s) == (3.0, 6.0)
    events = live_server.events(cam.camera.id)
    assert len(events) == 1 and events[0].clip_id is not None
    assert events[0].device_ref == f"agent:{clip.ref}"
    # 2 s pre-roll before 3.0 and 3 s post-roll after 6.0
    assert abs((events[0].started_at - cfg.source_start).total_seconds() - 1.0) < 0.2  # type: ignore[operator]
    assert abs((events[0].ended_at - events[0].started_at).total_seconds() - 8.0) < 0.5


def test_a_static_scene_yields_no_clip(
    runtime: Runtime, videos: dict[str, Path], tmp_path: Path, live_server: LiveServer
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    agent = MotionAgent(_config(live_server, cam.camera.id, cam.token, videos["static"], tmp_path))
    try:
        agent.run(drain_timeout_s=5)
        assert agent.clips == [] and agent.outbox.items() == []
    finally:
        agent.close()
    assert live_server.events(cam.camera.id) == []


def test_long_motion_is_cut_into_clips_the_server_accepts(
    runtime: Runtime, videos: dict[str, Path], tmp_path: Path, live_server: LiveServer
) -> None:
    cfg = _config(
        live_server,
        uuid.uuid4(),
        "unused",
        videos["motion_3_6"],
        tmp_path,
        max_clip_s=3.0,
        pre_roll_s=0.0,
        post_roll_s=1.0,
    )
    agent = MotionAgent(cfg)
    try:
        agent.process_source()
        agent.wait_for_clips()
        durations = sorted(
            _duration_s(agent.outbox.clips_dir / (d.clip_file or "")) for d in agent.outbox.items()
        )
    finally:
        agent.close()
    assert len(durations) == 2 and max(durations) <= 3.1
    assert abs(sum(durations) - 4.0) <= 0.3  # 3 s of motion and 1 s of post-roll


def test_local_first_keeps_the_clip_and_sends_it_when_shared(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    keep = tmp_path / "kept"
    cfg = _config(
        live_server,
        cam.camera.id,
        cam.token,
        videos["noisy_2_4"],
        tmp_path,
        local_first=True,
        keep_dir=keep,
        keep_days=7.0,
    )
    agent = MotionAgent(cfg)
    try:
        agent.run(drain_timeout_s=30)
        [clip] = agent.clips
        assert clip.path == keep / f"{clip.ref}.mp4" and clip.path.exists()
        [event] = live_server.events(cam.camera.id)
        assert event.on_device and event.clip_id is None
        assert event.device_ref == f"agent:{clip.ref}"

        shared = share_events(live_server, owner, [str(event.id)])
        assert [s["status"] for s in shared] == ["pending_upload"]
        assert agent.serve_pending_uploads() == 1
        assert agent.serve_pending_uploads() == 0  # queued once
        assert agent.outbox.drain({str(cam.camera.id): agent.client}, timeout_s=30)
        assert agent.client.list_pending_uploads() == []
    finally:
        agent.close()
    evidence = live_server.evidence(uuid.UUID(shared[0]["id"]))
    assert evidence is not None and evidence.original_sha256 == sha256_of(clip.path)
    assert clip.path.exists()  # the device keeps its copy until its own retention


def test_kept_clips_expire_and_an_expired_share_is_not_sent(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    keep = tmp_path / "kept"
    cfg = _config(
        live_server,
        cam.camera.id,
        cam.token,
        videos["motion_3_6"],
        tmp_path,
        local_first=True,
        keep_dir=keep,
        keep_days=2.0,
    )
    agent = MotionAgent(cfg)
    try:
        agent.run(drain_timeout_s=30)
        [clip] = agent.clips
        unrelated = keep / "notes.mp4"
        unrelated.write_bytes(b"not ours")
        three_days_ago = time.time() - 3 * 86400
        os.utime(clip.path, (three_days_ago, three_days_ago))
        os.utime(unrelated, (three_days_ago, three_days_ago))
        assert agent.prune_kept_clips() == 1
        assert not clip.path.exists() and unrelated.exists()

        [event] = live_server.events(cam.camera.id)
        share_events(live_server, owner, [str(event.id)])
        assert agent.serve_pending_uploads() == 0  # nothing left to send
    finally:
        agent.close()


def test_agent_command_uploads_from_a_file(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    app = typer.Typer()
    app.command()(agent_command)
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    result = CliRunner().invoke(
        app,
        [
            "--source",
            str(videos["late_7_9"]),
            "--camera",
            str(cam.camera.id),
            "--server",
            live_server.url,
            "--state-dir",
            str(tmp_path / "state"),
            "--source-start",
            start,
            "--mask",
            "0,0 10,0 10,10",
            "--post-roll",
            "1",
        ],
        env={"DOORSTEP_CAMERA_TOKEN": cam.token},
    )
    assert result.exit_code == 0, result.output
    assert "1 clip(s) recorded; 0 waiting" in result.output
    [event] = live_server.events(cam.camera.id)
    assert event.clip_id is not None and event.kind.value == "motion"

    refused = CliRunner().invoke(
        app,
        [
            "--source",
            str(videos["late_7_9"]),
            "--camera",
            str(cam.camera.id),
            "--server",
            live_server.url,
            "--token",
            "t",
            "--local-first",
        ],
    )
    assert refused.exit_code == 2 and "--keep-dir" in refused.output


def test_a_stream_source_is_read_and_watched_again_after_it_drops(
    runtime: Runtime, live_server: LiveServer, videos: dict[str, Path], tmp_path: Path
) -> None:
    """A stream (here file://, as an RTSP camera would be) is stamped with wall-clock
    time, and the agent reconnects when it ends or cannot be reached, until stopped."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    source = f"file://{videos['late_7_9']}"
    cfg = _config(
        live_server, cam.camera.id, cam.token, source, tmp_path, source_start=None, post_roll_s=0.5
    )
    agent = MotionAgent(cfg)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    before = datetime.now(UTC)
    try:
        runner.start()
        wait_until(
            lambda: live_server.events(cam.camera.id), timeout_s=30, what="the stream's first clip"
        )
        stop.set()
        runner.join(timeout=30)
        assert not runner.is_alive()
    finally:
        stop.set()
        agent.close()
    event = live_server.events(cam.camera.id)[0]
    assert event.clip_id is not None
    # first frame at wall-clock "now", motion at 7 s less 2 s of pre-roll
    assert abs((event.started_at - before).total_seconds() - 5.0) < 3.0

    unreachable = _config(
        live_server,
        cam.camera.id,
        cam.token,
        f"rtsp://127.0.0.1:{free_port()}/cam",
        tmp_path / "down",
    )
    agent = MotionAgent(unreachable)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    try:
        runner.start()
        time.sleep(1.5)  # a refused connection, a backoff, another try
        stop.set()
        runner.join(timeout=30)
        assert not runner.is_alive() and agent.clips == []
    finally:
        stop.set()
        agent.close()
