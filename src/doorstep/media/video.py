"""Clip probing and thumbnails, with PyAV (``write_sample_clip`` lives in ``samples``).

Everything here blocks (it decodes video); async callers run it in a thread.
Uploaded clips are untrusted: ``probe_clip`` walks the container's boxes (``boxes``)
before FFmpeg sees the file, opens it with the MOV/MP4 demuxer only, and decodes every frame, so a
clip it accepts is complete, H.264 and within limits. No PyAV exception leaves this
module; refusals are ``doorstep.errors`` subclasses with stable codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from doorstep.config import Settings
from doorstep.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia
from doorstep.media.boxes import check_boxes, corrupt, truncated
from doorstep.media.samples import write_sample_clip

__all__ = [
    "ClipLimits",
    "VideoProbe",
    "make_thumbnail",
    "probe_clip",
    "write_sample_clip",
]

ACCEPTED_CODEC = "h264"
# Cameras on lossy links record the odd concealed glitch; more than this share is damage.
DAMAGED_FRAME_SHARE = 0.05

# What PyAV raises on hostile input: FFmpeg errors, and plain ValueError/RuntimeError from
# its own checks (av.FFmpegError subclasses several of these too).
_READ_ERRORS = (av.FFmpegError, ValueError, RuntimeError)


@dataclass(frozen=True)
class VideoProbe:
    duration_s: float
    width: int
    height: int
    codec: str
    frames: int


@dataclass(frozen=True)
class ClipLimits:
    max_bytes: int
    max_duration_s: float
    min_duration_s: float
    max_width: int
    max_height: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ClipLimits:
        return cls(
            max_bytes=settings.max_clip_bytes,
            max_duration_s=settings.max_clip_duration_s,
            min_duration_s=settings.min_clip_duration_s,
            max_width=settings.max_clip_width,
            max_height=settings.max_clip_height,
        )


@dataclass
class _Decoded:
    packets: int = 0
    frames: int = 0
    damaged: int = 0
    start_s: float | None = None
    end_s: float = 0.0
    failed_at_s: float | None = None
    partial_packet: bool = False


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _reason(exc: Exception) -> str:
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return exc.strerror.lower()
    return "invalid data"


def _open(path: Path) -> InputContainer:
    try:
        # Only the MOV/MP4 demuxer: nothing else in FFmpeg gets to parse uploads.
        return av.open(str(path), mode="r", format="mov", metadata_errors="replace")
    except _READ_ERRORS as exc:
        raise corrupt(f"its index could not be read ({_reason(exc)})") from None


def _video_stream(container: InputContainer) -> VideoStream:
    # Cover art in an audio file shows up as a one-picture "video" stream: not a video.
    tracks = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not tracks:
        raise UnsupportedMedia(
            "This MP4/MOV file has no video track (it may be audio only).", code="not_a_video"
        )
    return tracks[0]


def _frame_interval_s(stream: VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.1


def _declared_duration_s(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _check_resolution(width: int, height: int, limits: ClipLimits) -> None:
    if width <= 0 or height <= 0:
        raise corrupt("its video track declares no picture size")
    if width > limits.max_width or height > limits.max_height:
        raise InvalidInput(
            f"The clip is {width}x{height} pixels; the largest accepted is "
            f"{limits.max_width}x{limits.max_height}.",
            code="resolution_too_large",
            width=width,
            height=height,
        )


def _check_duration(duration_s: float, limits: ClipLimits) -> None:
    if duration_s > limits.max_duration_s:
        raise InvalidInput(
            f"The clip is {duration_s:.1f} s long; the longest accepted is "
            f"{limits.max_duration_s:g} s.",
            code="clip_too_long",
            duration_s=round(duration_s, 3),
        )
    if duration_s < limits.min_duration_s:
        raise InvalidInput(
            f"The clip is {duration_s:.2f} s long; the shortest accepted is "
            f"{limits.min_duration_s:g} s.",
            code="clip_too_short",
            duration_s=round(duration_s, 3),
        )


def _decode_all(container: InputContainer, stream: VideoStream, limits: ClipLimits) -> _Decoded:
    """Demux every packet and decode every frame; after a decode error keep counting packets."""
    result = _Decoded()
    time_base = stream.time_base or Fraction(1, 90_000)
    interval_s = _frame_interval_s(stream)
    ceiling_s = limits.max_duration_s + 1.0
    decoding = True
    try:
        for packet in container.demux(stream):
            if packet.size:
                result.packets += 1
                result.partial_packet = result.partial_packet or packet.is_corrupt
            if not decoding:
                continue
            try:
                frames = packet.decode()
            except _READ_ERRORS:
                result.failed_at_s = result.end_s
                decoding = False
                continue
            for frame in frames:
                _check_resolution(frame.width, frame.height, limits)
                result.frames += 1
                result.damaged += frame.is_corrupt
                if frame.pts is None:
                    continue
                start_s = float(frame.pts * time_base)
                step_s = float(frame.duration * time_base) if frame.duration else interval_s
                if result.start_s is None or start_s < result.start_s:
                    result.start_s = start_s
                result.end_s = max(result.end_s, start_s + step_s)
                if result.end_s - result.start_s > ceiling_s:
                    # The index understated the length: stop before decoding any more.
                    _check_duration(result.end_s - result.start_s, limits)
    except _READ_ERRORS:
        result.partial_packet = True
    return result


# Metadata keys under which phones and cameras record where a video was taken
# (QuickTime ©xyz, ISO 6709 location, GPS tags). A clip carrying one would hand the
# camera's exact position to anyone it is shared with.
_LOCATION_KEY = re.compile(r"(location|xyz|gps|latitude|longitude|iso6709)", re.I)


def _refuse_location(container: InputContainer) -> None:
    tagged = dict(container.metadata or {})
    for stream in container.streams:
        tagged.update(stream.metadata or {})
    found = sorted(key for key in tagged if _LOCATION_KEY.search(key))
    if found:
        raise InvalidInput(
            "The clip carries a location tag (" + ", ".join(found) + "); that would reveal "
            "where the camera is to anyone it is shared with. Remove it, e.g. ffmpeg -i in.mp4 "
            "-map_metadata -1 -c copy out.mp4.",
            code="location_metadata",
        )


def _check_size(path: Path, limits: ClipLimits) -> int:
    """The file's size in bytes, refused when empty or over the limit."""
    size = path.stat().st_size
    if size == 0:
        raise UnsupportedMedia("The file is empty; upload an MP4 or MOV clip.", code="not_a_video")
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"The clip is {_megabytes(size)}; the largest accepted is "
            f"{_megabytes(limits.max_bytes)}.",
            code="clip_too_large",
            size_bytes=size,
            max_bytes=limits.max_bytes,
        )
    return size


def _check_codec(stream: VideoStream) -> str:
    codec = stream.codec_context.name
    if codec != ACCEPTED_CODEC:
        long_name = stream.codec.long_name if stream.codec else codec
        raise UnsupportedMedia(
            f"The clip's video is encoded as {long_name} ({codec}); only H.264 is "
            "accepted. Re-encode it, e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4.",
            code="unsupported_codec",
            codec=codec,
        )
    return codec


@dataclass(frozen=True)
class _Declared:
    """What the clip's index says, to hold the decoded frames against."""

    duration_s: float | None
    frames: int
    frame_interval_s: float


def _check_decoded(decoded: _Decoded, declared: _Declared) -> float:
    """The decoded length in seconds, when every frame is there, intact and decodable."""
    decoded_s = decoded.end_s - (decoded.start_s or 0.0)
    if declared.frames and decoded.packets < declared.frames:
        raise truncated(f"only {decoded.packets} of its {declared.frames} frames are in the file")
    if decoded.partial_packet:
        raise truncated(f"its last frame is cut off after {decoded_s:.1f} s")
    if decoded.failed_at_s is not None:
        raise corrupt(f"a frame near {decoded.failed_at_s:.1f} s could not be decoded")
    if decoded.frames == 0:
        raise corrupt("it holds no picture that can be decoded")
    declared_s = declared.duration_s
    if (
        declared_s is not None
        and decoded_s < declared_s - 0.05 * declared_s - 2 * declared.frame_interval_s
    ):
        raise truncated(f"it stops after {decoded_s:.1f} s of a declared {declared_s:.1f} s")
    if decoded.damaged > DAMAGED_FRAME_SHARE * decoded.frames:
        raise corrupt(f"{decoded.damaged} of its {decoded.frames} frames are garbled")
    return decoded_s


def probe_clip(path: Path, limits: ClipLimits) -> VideoProbe:
    """Accept a complete, decodable H.264 MP4/MOV clip within ``limits``, or raise.

    Raises UnsupportedMedia (not_a_video, unsupported_codec), PayloadTooLarge
    (clip_too_large) or InvalidInput (truncated_video, corrupt_video, clip_too_long,
    clip_too_short, resolution_too_large). The size is checked before FFmpeg opens it.
    """
    check_boxes(path, _check_size(path, limits))
    try:
        with _open(path) as container:
            stream = _video_stream(container)
            _refuse_location(container)
            codec = _check_codec(stream)
            width = stream.codec_context.width
            height = stream.codec_context.height
            _check_resolution(width, height, limits)
            declared_s = _declared_duration_s(container, stream)
            if declared_s is not None:
                _check_duration(declared_s, limits)
            declared_frames = stream.frames
            stream.codec_context.thread_type = "AUTO"
            decoded = _decode_all(container, stream, limits)
            interval_s = _frame_interval_s(stream)
    except _READ_ERRORS as exc:
        raise corrupt(f"it could not be read ({_reason(exc)})") from None
    declared = _Declared(declared_s, declared_frames, interval_s)
    decoded_s = _check_decoded(decoded, declared)
    duration_s = declared_s if declared_s is not None else decoded_s
    _check_duration(duration_s, limits)
    return VideoProbe(
        duration_s=duration_s, width=width, height=height, codec=codec, frames=decoded.frames
    )


def _middle_frame(container: InputContainer, stream: VideoStream) -> av.VideoFrame:
    declared_s = _declared_duration_s(container, stream) or 0.0
    time_base = stream.time_base or Fraction(1, 90_000)
    start = stream.start_time or 0
    target = start + int(Fraction(declared_s / 2) / time_base)
    try:
        container.seek(target, stream=stream, backward=True)
    except av.FFmpegError:
        container.seek(0)
    chosen: av.VideoFrame | None = None
    for frame in container.decode(stream):
        chosen = frame
        if frame.pts is not None and frame.pts >= target:
            break
    if chosen is None:
        raise corrupt("no picture could be decoded for a thumbnail")
    return chosen


def _encode_jpeg(frame: av.VideoFrame, width: int, height: int) -> bytes:
    picture = frame.reformat(width=width, height=height, format="yuv420p", dst_color_range="JPEG")
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuv420p"
    encoder.color_range = picture.color_range
    encoder.time_base = Fraction(1, 1)
    # Fixed quantizer (about JPEG quality 85) instead of a bit-rate target.
    encoder.options = {"flags": "+qscale", "global_quality": str(3 * 118)}
    packets = encoder.encode(picture) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def make_thumbnail(path: Path, *, max_width: int = 320) -> bytes:
    """A JPEG of a frame from about the middle of the clip, at most ``max_width`` wide.

    Meant for clips ``probe_clip`` accepted; anything unreadable raises corrupt_video.
    """
    if max_width < 2:
        raise ValueError("max_width must be at least 2 pixels")
    check_boxes(path, path.stat().st_size)
    try:
        with _open(path) as container:
            stream = _video_stream(container)
            aspect = stream.codec_context.sample_aspect_ratio
            frame = _middle_frame(container, stream)
            display_w = frame.width * (float(aspect) if aspect else 1.0)
            width = min(max_width, round(display_w))
            height = round(frame.height * width / display_w)
            # 4:2:0 JPEG wants even sides.
            width, height = max(2, width - width % 2), max(2, height - height % 2)
            return _encode_jpeg(frame, width, height)
    except _READ_ERRORS as exc:
        raise corrupt(f"no thumbnail could be made ({_reason(exc)})") from None
