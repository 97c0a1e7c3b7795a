"""The RTSP/file motion agent: watches one camera stream (or a video file), cuts each
motion span (with pre-roll and post-roll) to an H.264 MP4 and hands it to doorstep.

Threads: the frame loop (decode with PyAV, detect, keep the pre-roll ring buffer), one
encoder thread per clip being written (x264 never stalls the frame loop), and the
delivery thread (the durable outbox; in local-first mode it also answers the owner's
shares from the kept clips and applies their retention).

Upload mode: each clip goes through the outbox to ``POST /clips``. Local-first mode: the
clip is kept in ``keep_dir`` as ``<ref>.mp4`` for ``keep_days``, the event is reported
with ``device_ref = agent:<ref>``, and the file is sent only when the owner shares it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import structlog

from doorstep.integrations.client import (
    DeviceAPIError,
    DeviceClient,
    DeviceUnavailable,
    RetryPolicy,
)
from doorstep.integrations.motion import MotionDetector, MotionSettings, Polygon, Span, SpanTracker
from doorstep.integrations.outbox import QUEUED, DeviceOutbox

log = structlog.get_logger(__name__)

Yuv = npt.NDArray[np.uint8]  # one yuv420p frame: (height * 3 / 2, width)
REF_PREFIX = "agent:"
_REF = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class AgentConfig:
    source: str
    camera_id: uuid.UUID
    token: str = field(repr=False)
    server_url: str
    state_dir: Path
    masks: Sequence[Polygon] = ()
    motion: MotionSettings = field(default_factory=MotionSettings)
    pre_roll_s: float = 2.0
    post_roll_s: float = 3.0
    max_clip_s: float = 300.0
    kind: str = "motion"
    local_first: bool = False
    keep_dir: Path | None = None
    keep_days: float = 7.0
    # Wall-clock time of a file's first frame (default: its mtime minus its duration).
    source_start: datetime | None = None
    poll_uploads_s: float = 30.0
    delivery_poll_s: float = 5.0
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0

    @property
    def is_file(self) -> bool:
        return "://" not in self.source and Path(self.source).exists()


@dataclass(frozen=True)
class RecordedClip:
    ref: str
    path: Path
    started_at: datetime
    ended_at: datetime
    motion: Span


class ClipRecorder:
    """Encodes one clip on its own thread; ``add`` blocks only if x264 falls far behind."""

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: float,
        started_at: datetime,
        on_done: Callable[[RecordedClip], None],
        max_queued: int = 300,
    ) -> None:
        self.ref = uuid.uuid4().hex
        self.path = path
        self.started_at = started_at
        self.frames = 0
        self._size = (width, height)
        self._rate = Fraction(fps).limit_denominator(1001)
        self._on_done = on_done
        self._queue: queue.Queue[Yuv | Span] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(
            target=self._encode, name=f"clip-{self.ref[:8]}", daemon=True
        )
        self._thread.start()

    @property
    def duration_s(self) -> float:
        return self.frames / float(self._rate)

    def add(self, frame: Yuv) -> None:
        self.frames += 1
        self._queue.put(frame)

    def close(self, motion: Span) -> None:
        """Finish the file; ``on_done`` runs on the encoder thread once it is complete."""
        self._queue.put(motion)

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _encode(self) -> None:
        partial = self.path.with_suffix(".part")
        count = 0
        try:
            with av.open(
                str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}
            ) as container:
                stream = container.add_stream("libx264", rate=self._rate)
                stream.width, stream.height = self._size
                stream.pix_fmt = "yuv420p"
                stream.options = {"preset": "veryfast", "crf": "23"}
                while True:
                    item = self._queue.get()
                    if isinstance(item, Span):
                        motion = item
                        break
                    frame = av.VideoFrame.from_ndarray(item, format="yuv420p")
                    frame.pts = count
                    count += 1
                    container.mux(stream.encode(frame))
                container.mux(stream.encode(None))
            os.replace(partial, self.path)
        except Exception:
            log.exception("agent_encode_failed", path=str(self.path))
            partial.unlink(missing_ok=True)
            return
        ended_at = self.started_at + timedelta(seconds=count / float(self._rate))
        try:
            self._on_done(RecordedClip(self.ref, self.path, self.started_at, ended_at, motion))
        except Exception:
            log.exception("agent_clip_handoff_failed", path=str(self.path))


class MotionAgent:
    """One camera: frames in, clips or local-first events out, through the outbox."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        outbox: DeviceOutbox | None = None,
        client: DeviceClient | None = None,
    ) -> None:
        if config.local_first and config.keep_dir is None:
            raise ValueError("local-first mode needs a keep_dir for the clips it keeps")
        self.config = config
        self.recording_dir = config.state_dir / "recording"
        self.recording_dir.mkdir(parents=True, exist_ok=True)
        if config.keep_dir is not None:
            config.keep_dir.mkdir(parents=True, exist_ok=True)
        self._stop_delivery = threading.Event()
        self.outbox = outbox or DeviceOutbox(
            config.state_dir, retry=RetryPolicy(0, config.retry_base_s, config.retry_max_s)
        )
        self.client = client or DeviceClient(
            config.server_url,
            config.camera_id,
            config.token,
            retry=RetryPolicy(
                attempts=3,
                base_delay_s=min(0.5, config.retry_base_s),
                max_delay_s=min(5.0, config.retry_max_s),
            ),
            sleep=self._stop_delivery.wait,
        )
        self.clips: list[RecordedClip] = []
        self._recorders: list[ClipRecorder] = []
        self._last_poll = self._last_prune = 0.0

    def close(self) -> None:
        self._stop_delivery.set()
        self.client.close()
        self.outbox.close()

    # ------------------------------------------------------------ running

    def run(self, stop: threading.Event | None = None, *, drain_timeout_s: float = 120.0) -> None:
        """Watch the source until ``stop`` (a stream) or its end (a file, then deliver
        what is queued, waiting at most ``drain_timeout_s``)."""
        stop = stop or threading.Event()
        self._stop_delivery.clear()
        delivery = threading.Thread(
            target=self.outbox.run,
            args=({str(self.config.camera_id): self.client}, self._stop_delivery),
            kwargs={"poll_s": self.config.delivery_poll_s, "on_round": self.housekeeping},
            name="agent-delivery",
            daemon=True,
        )
        delivery.start()
        try:
            if self.config.is_file:
                self.process_source(stop)
            else:
                self._watch_stream(stop)
            self.wait_for_clips()
            if self.config.is_file:
                deadline = time.monotonic() + drain_timeout_s
                while self.outbox.count(QUEUED) and time.monotonic() < deadline:
                    stop.wait(0.05)
        finally:
            self._stop_delivery.set()
            delivery.join(30)

    def _watch_stream(self, stop: threading.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            began = time.monotonic()
            try:
                self.process_source(stop)
                log.warning("agent_stream_ended", source=self.config.source)
            except (av.FFmpegError, OSError) as exc:
                log.warning("agent_stream_failed", source=self.config.source, error=str(exc))
            if time.monotonic() - began > 60:
                delay = 1.0
            stop.wait(delay)
            delay = min(60.0, delay * 2)

    def process_source(self, stop: threading.Event | None = None) -> list[Span]:
        """One pass over the source; returns the motion spans (seconds from its first frame)."""
        cfg = self.config
        options = {"rtsp_transport": "tcp"} if cfg.source.startswith("rtsp") else {}
        spans: list[Span] = []
        with av.open(cfg.source, options=options, timeout=(15.0, 15.0)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 10)
            width, height = stream.width - stream.width % 2, stream.height - stream.height % 2
            anchor = self._anchor(container)
            detector = MotionDetector(width, height, fps, cfg.motion, cfg.masks)
            tracker = SpanTracker(
                start_frames=cfg.motion.start_frames,
                gap_s=max(cfg.post_roll_s, 0.5),
                frame_s=1 / fps,
            )
            ring: deque[tuple[float, Yuv]] = deque(
                maxlen=round(cfg.pre_roll_s * fps) + cfg.motion.start_frames + 1
            )
            recorder: ClipRecorder | None = None
            first: float | None = None
            for index, frame in enumerate(container.decode(stream)):
                if stop is not None and stop.is_set():
                    break
                t_abs = frame.time if frame.time is not None else index / fps
                first = t_abs if first is None else first
                t = t_abs - first
                if (frame.width, frame.height) != (width, height):
                    frame = frame.reformat(width=width, height=height)
                yuv = np.asarray(frame.to_ndarray(format="yuv420p"), dtype=np.uint8)
                started, ended = tracker.update(t, detector.moving(yuv[:height]))
                if recorder is None:
                    ring.append((t, yuv))
                    if started is not None:
                        clip_start = started.start_s - cfg.pre_roll_s
                        kept = [(ft, fy) for ft, fy in ring if ft >= clip_start - 1e-6]
                        recorder = self._recorder(
                            anchor + timedelta(seconds=kept[0][0]), width, height, fps
                        )
                        for _ft, fy in kept:
                            recorder.add(fy)
                        ring.clear()
                    continue
                recorder.add(yuv)
                if ended is not None:
                    spans.append(ended)
                    recorder.close(ended)
                    recorder = None
                elif recorder.duration_s >= cfg.max_clip_s and tracker.current is not None:
                    # A long span is cut into clips the server accepts; it goes on.
                    recorder.close(Span(tracker.current.start_s, t))
                    tracker.current.start_s = t
                    recorder = self._recorder(anchor + timedelta(seconds=t), width, height, fps)
            last = tracker.finish()
            if last is not None:
                spans.append(last)
                if recorder is not None:
                    recorder.close(last)
        return spans

    def _anchor(self, container: av.container.InputContainer) -> datetime:
        """The wall-clock time of the first frame."""
        if not self.config.is_file:
            return datetime.now(UTC)
        if self.config.source_start is not None:
            return self.config.source_start
        duration_s = (container.duration or 0) / 1_000_000
        mtime = min(Path(self.config.source).stat().st_mtime, time.time())
        return datetime.fromtimestamp(mtime - duration_s, UTC)

    def _recorder(self, started_at: datetime, width: int, height: int, fps: float) -> ClipRecorder:
        self._recorders = [r for r in self._recorders if r.running]
        recorder = ClipRecorder(
            self.recording_dir / f"{uuid.uuid4().hex}.mp4",
            width=width,
            height=height,
            fps=fps,
            started_at=started_at,
            on_done=self._hand_off,
        )
        self._recorders.append(recorder)
        return recorder

    def wait_for_clips(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        for recorder in list(self._recorders):
            recorder.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------ hand-off

    def _hand_off(self, clip: RecordedClip) -> None:
        """On the encoder thread: queue the finished clip (or its event) durably."""
        cfg = self.config
        ref = f"{REF_PREFIX}{clip.ref}"
        if cfg.local_first:
            assert cfg.keep_dir is not None
            kept = cfg.keep_dir / f"{clip.ref}.mp4"
            _move(clip.path, kept)
            clip = RecordedClip(clip.ref, kept, clip.started_at, clip.ended_at, clip.motion)
            self.outbox.enqueue_event(
                camera_id=cfg.camera_id,
                started_at=clip.started_at,
                ended_at=clip.ended_at,
                kind=cfg.kind,
                key=ref,
                device_ref=ref,
            )
        else:
            self.outbox.enqueue_clip(
                camera_id=cfg.camera_id,
                started_at=clip.started_at,
                clip=clip.path,
                move=True,
                kind=cfg.kind,
                key=ref,
                device_ref=ref,
            )
        log.info(
            "agent_clip",
            ref=ref,
            started_at=clip.started_at.isoformat(),
            seconds=round((clip.ended_at - clip.started_at).total_seconds(), 2),
            local_first=cfg.local_first,
        )
        self.clips.append(clip)

    # ------------------------------------------------------------ local-first upkeep

    def housekeeping(self) -> None:
        """On the delivery thread: answer shares and apply retention, each on its cadence."""
        if not self.config.local_first:
            return
        now = time.monotonic()
        if now - self._last_prune >= 3600:
            self._last_prune = now
            self.prune_kept_clips()
        if now - self._last_poll >= self.config.poll_uploads_s:
            self._last_poll = now
            with contextlib.suppress(DeviceUnavailable, DeviceAPIError):
                self.serve_pending_uploads()

    def serve_pending_uploads(self) -> int:
        """Queue the kept file of each event the owner shared; returns how many were queued."""
        keep_dir = self.config.keep_dir
        assert keep_dir is not None
        queued = 0
        for pending in self.client.list_pending_uploads():
            ref = (pending.device_ref or "").removeprefix(REF_PREFIX)
            if not (pending.device_ref or "").startswith(REF_PREFIX) or not _REF.fullmatch(ref):
                continue
            kept = keep_dir / f"{ref}.mp4"
            if not kept.exists():
                # Past its retention on this device: there is nothing left to send.
                log.warning(
                    "agent_shared_clip_gone",
                    device_ref=pending.device_ref,
                    evidence_id=str(pending.evidence_id),
                )
                continue
            if self.outbox.enqueue_fulfil(
                camera_id=self.config.camera_id, evidence_id=pending.evidence_id, clip=kept
            ):
                queued += 1
        return queued

    def prune_kept_clips(self, now: float | None = None) -> int:
        """Delete kept clips older than ``keep_days``; returns how many were deleted."""
        keep_dir = self.config.keep_dir
        if keep_dir is None:
            return 0
        cutoff = (now or time.time()) - self.config.keep_days * 86400
        removed = 0
        for path in keep_dir.glob("*.mp4"):
            if _REF.fullmatch(path.stem) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("agent_kept_clips_pruned", removed=removed)
        return removed


def _move(source: Path, target: Path) -> None:
    """Rename, or copy under a temporary name and rename when ``target`` is on another
    disk (a keep dir on an SD card): the kept file is complete or absent."""
    try:
        os.replace(source, target)
        return
    except OSError:
        pass
    partial = target.with_suffix(".part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    source.unlink(missing_ok=True)
