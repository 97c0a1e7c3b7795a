"""``redact_clip``: decode an MP4, redact every frame, encode H.264 with no tags.

Frames stream through: the decoder, the ``Redactor`` (which holds at most a few frames
while the tracker waits for the next key frame) and an encoder thread fed through a short
queue, so memory stays bounded whatever the clip's length. The copy keeps the video
stream only (no audio, no data or subtitle streams), with no container or stream tags and
FFmpeg's bit-exact flags, and no SEI units (x264's version and settings), so it carries
nothing but what playback needs. The redacted
copy's SHA-256 is taken from the finished, cleaned file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.bitstream import BitStreamFilterContext

from doorstep.media.redaction.faces import FaceDetector, FaceSettings
from doorstep.media.redaction.models import file_sha256
from doorstep.media.redaction.options import RedactionOptions, RedactionReport
from doorstep.media.redaction.redactor import RedactedFrame, Redactor
from doorstep.media.redaction.text import TextDetector, TextSettings
from doorstep.media.redaction.zones import validate_zones

Progress = Callable[[int, int], None]
_QUEUE_FRAMES = 8
_STOP = None
_DROP_SEI = "filter_units=remove_types=6"


def open_output(
    dst: Path, *, width: int, height: int, rate: Fraction, options: RedactionOptions
) -> tuple[Any, Any]:
    """An MP4 with one H.264 stream and nothing else: no tags, bit-exact muxing (no
    encoder name), the index first for playback in a browser."""
    container = av.open(
        str(dst), mode="w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"}
    )
    container.metadata.clear()
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    stream.options = {
        "preset": options.x264_preset,
        "crf": str(options.crf),
        "x264-params": "mbtree=0",
    }
    stream.metadata.clear()
    return container, stream


class _Encoder(threading.Thread):
    """Encodes and muxes frames from a short queue on its own thread (PyAV releases the
    GIL while x264 works, so detection and encoding overlap on two cores)."""

    def __init__(self, container: Any, stream: Any, time_base: Fraction) -> None:
        super().__init__(name="redaction-encoder", daemon=True)
        self.frames: queue.Queue[tuple[np.ndarray[Any, Any], int] | None] = queue.Queue(
            _QUEUE_FRAMES
        )
        self.container, self.stream, self.time_base = container, stream, time_base
        self.error: BaseException | None = None
        self._filter: Any = None

    def _mux(self, packets: Any) -> None:
        """Mux ``packets`` (``None``: flush) without their SEI units: x264 writes its
        version and settings into the first frame, which playback does not need."""
        if self._filter is None:
            self._filter = BitStreamFilterContext(_DROP_SEI, self.stream)
        for packet in [None] if packets is None else packets:
            for clean in self._filter.filter(packet):
                clean.stream = self.stream
                self.container.mux(clean)

    def run(self) -> None:
        try:
            while (item := self.frames.get()) is not _STOP:
                image, pts = item
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = pts, self.time_base
                self._mux(self.stream.encode(frame))
            self._mux(self.stream.encode(None))
            self._mux(None)
        except BaseException as error:  # handed to the caller's thread
            self.error = error
            while self.frames.get() is not _STOP:
                pass


def build_detectors(options: RedactionOptions) -> tuple[FaceDetector | None, TextDetector | None]:
    faces = (
        FaceDetector(FaceSettings(input_side=options.face_side, threads=options.threads))
        if options.faces
        else None
    )
    text = (
        TextDetector(TextSettings(input_side=options.text_side, threads=options.threads))
        if options.text
        else None
    )
    return faces, text


def _send(
    encoder: _Encoder, frames: list[RedactedFrame], pts: dict[int, int], counts: list[list[int]]
) -> None:
    for frame in frames:
        if encoder.error is not None:
            raise encoder.error
        encoder.frames.put((frame.image, pts.pop(frame.index)))
        counts.append(list(frame.counts))


def _pipe(
    source: Any, video: Any, redactor: Redactor, encoder: _Encoder, progress: Progress | None
) -> list[list[int]]:
    """Decode, redact and queue every frame for the encoder; the per-frame counts."""
    rate = video.average_rate or Fraction(25)
    time_base = video.time_base or Fraction(1, int(rate))
    expected = int(video.frames or 0)
    counts: list[list[int]] = []
    pts: dict[int, int] = {}
    for index, decoded in enumerate(source.decode(video)):
        pts[index] = decoded.pts if decoded.pts is not None else round(index / rate / time_base)
        image = np.asarray(decoded.to_ndarray(format="rgb24"), dtype=np.uint8)
        _send(encoder, redactor.push(index, image), pts, counts)
        if progress is not None:
            progress(len(counts), expected)
    _send(encoder, redactor.finish(), pts, counts)
    if progress is not None:
        progress(len(counts), expected)
    return counts


def _report(
    src: Path, dst: Path, options: RedactionOptions, redactor: Redactor, shape: dict[str, Any]
) -> RedactionReport:
    detectors = [lane.detector for lane in redactor.lanes.values()]
    return RedactionReport(
        original_sha256=file_sha256(src),
        redacted_sha256=file_sha256(dst),
        width=shape["width"],
        height=shape["height"],
        frames=shape["frames"],
        fps=shape["fps"],
        detectors=[d.describe() for d in detectors if hasattr(d, "describe")],
        settings=options.settings(),
        zones=[[[float(x), float(y)] for x, y in zone] for zone in options.zones],
        manual_boxes=[m.describe() for m in options.manual_boxes],
        removals=[r.describe() for r in options.removals],
        tracks=redactor.tracks(),
        frame_counts=shape["counts"],
    )


def redact_clip(
    src: Path,
    dst: Path,
    options: RedactionOptions | None = None,
    *,
    progress: Progress | None = None,
    detectors: tuple[FaceDetector | None, TextDetector | None] | None = None,
) -> RedactionReport:
    """Write the redacted copy of ``src`` to ``dst`` and report what was done.

    Zones are checked first (``InvalidInput`` with a ``zone_*`` code). ``progress`` is
    called with (frames done, frames expected; 0 when the container does not say).
    ``detectors`` lets a caller reuse loaded models across clips. On any failure ``dst``
    is removed: no partial copy is left to share."""
    options = options or RedactionOptions()
    faces, text = detectors if detectors is not None else build_detectors(options)
    with av.open(str(src), mode="r") as source:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        width, height = video.codec_context.width, video.codec_context.height
        validate_zones(options.zones, width, height)
        rate = video.average_rate or Fraction(25)
        redactor = Redactor(
            options, fps=float(rate), width=width, height=height, faces=faces, text=text
        )
        container, stream = open_output(dst, width=width, height=height, rate=rate, options=options)
        stream.codec_context.time_base = video.time_base or Fraction(1, int(rate))
        encoder = _Encoder(container, stream, stream.codec_context.time_base)
        encoder.start()
        try:
            try:
                counts = _pipe(source, video, redactor, encoder, progress)
            finally:
                encoder.frames.put(_STOP)
                encoder.join()
                container.close()
            if encoder.error is not None:
                raise encoder.error
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
    shape = {"width": width, "height": height, "frames": len(counts), "fps": float(rate)}
    return _report(src, dst, options, redactor, {**shape, "counts": counts})
