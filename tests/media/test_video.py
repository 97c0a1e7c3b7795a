from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from doorstep.config import Settings
from doorstep.errors import DoorstepError, InvalidInput, PayloadTooLarge, UnsupportedMedia
from doorstep.media.video import (
    ClipLimits,
    VideoProbe,
    make_thumbnail,
    probe_clip,
    write_sample_clip,
)

LIMITS = ClipLimits(
    max_bytes=10_000_000, max_duration_s=60.0, min_duration_s=0.2, max_width=1920, max_height=1080
)


def refusal(path: Path, limits: ClipLimits = LIMITS) -> DoorstepError:
    with pytest.raises(DoorstepError) as caught:
        probe_clip(path, limits)
    error = caught.value
    assert error.message and "\n" not in error.message
    return error


def luma_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def test_limits_from_settings() -> None:
    settings = Settings(
        max_clip_bytes=5,
        max_clip_duration_s=9.0,
        min_clip_duration_s=1.0,
        max_clip_width=640,
        max_clip_height=480,
    )
    assert ClipLimits.from_settings(settings) == ClipLimits(5, 9.0, 1.0, 640, 480)


def test_sample_clip_probes(sample_clip: Path) -> None:
    probe = probe_clip(sample_clip, LIMITS)
    assert probe == VideoProbe(duration_s=2.0, width=320, height=240, codec="h264", frames=20)


def test_probe_accepts_index_at_end(tmp_path: Path) -> None:
    clip = write_sample_clip(
        tmp_path / "late.mp4",
        seconds=1.5,
        width=176,
        height=144,
        fps=8,
        faststart=False,
        noise=4.0,
        drift=3.0,
    )
    probe = probe_clip(clip, LIMITS)
    assert (probe.width, probe.height, probe.frames) == (176, 144, 12)
    assert probe.duration_s == pytest.approx(1.5)


def test_sample_clip_is_deterministic(tmp_path: Path) -> None:
    def clip(name: str, seed: int) -> bytes:
        return write_sample_clip(tmp_path / name, noise=6.0, seed=seed).read_bytes()

    assert clip("a.mp4", 7) == clip("b.mp4", 7)
    assert clip("c.mp4", 8) != clip("a.mp4", 7)


def test_sample_clip_box_moves_only_inside_motion_window(tmp_path: Path) -> None:
    clip = write_sample_clip(tmp_path / "m.mp4", seconds=2.0, fps=10, motion=(0.5, 1.5))
    frames = luma_frames(clip)
    bright = [int((frame > 215).sum()) for frame in frames]
    box_area = (320 // 6) * (240 // 4)
    assert all(b < box_area * 0.1 for b in bright[:5] + bright[15:])
    assert all(b > box_area * 0.8 for b in bright[5:15])
    # it crosses left to right
    columns = [float(np.nonzero(frames[i] > 215)[1].mean()) for i in (5, 10, 14)]
    assert columns == sorted(columns)

    still = luma_frames(write_sample_clip(tmp_path / "still.mp4", motion=None))
    assert max(int((frame > 215).sum()) for frame in still) < box_area * 0.1


def test_sample_clip_noise_and_drift(tmp_path: Path) -> None:
    plain = luma_frames(write_sample_clip(tmp_path / "p.mp4", motion=None))
    noisy = luma_frames(write_sample_clip(tmp_path / "n.mp4", motion=None, noise=12.0))
    drifting = luma_frames(write_sample_clip(tmp_path / "d.mp4", motion=None, drift=20.0))
    diff_plain = np.abs(plain[10].astype(int) - plain[11].astype(int)).mean()
    diff_noisy = np.abs(noisy[10].astype(int) - noisy[11].astype(int)).mean()
    assert diff_noisy > diff_plain + 3
    gain = drifting[-1].mean() - drifting[0].mean()
    assert 25 < gain < 45  # about 20 per second over 1.9 s, less the tint


def test_thumbnail_is_a_scaled_jpeg_of_the_middle(sample_clip: Path) -> None:
    jpeg = make_thumbnail(sample_clip, max_width=160)
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    path = sample_clip.parent / "thumb.jpg"
    path.write_bytes(jpeg)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)
        # the middle of the clip (1.0 s) shows the moving box
        assert int((frame.to_ndarray(format="gray") > 215).sum()) > 200


def test_thumbnail_never_upscales(tmp_path: Path) -> None:
    clip = write_sample_clip(tmp_path / "small.mp4", width=96, height=64, seconds=1.0)
    path = tmp_path / "t.jpg"
    path.write_bytes(make_thumbnail(clip, max_width=320))
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (96, 64)


def test_thumbnail_of_non_video_is_a_domain_error(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"not a video at all")
    with pytest.raises(UnsupportedMedia):
        make_thumbnail(path)


@pytest.mark.parametrize(
    ("movflags", "audio"),
    [("", True), ("frag_keyframe+empty_moov", False), ("frag_keyframe+empty_moov", True)],
)
def test_camera_style_files_are_accepted(tmp_path: Path, movflags: str, audio: bool) -> None:
    # Cameras and NVRs write fragmented MP4s, often with a sound track next to the video.
    path = tmp_path / "camera.mp4"
    options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), mode="w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = container.add_stream("aac", rate=8000) if audio else None
        for index in range(20):
            frame = av.VideoFrame.from_ndarray(
                np.full((120, 160, 3), index * 10, np.uint8), format="rgb24"
            )
            frame.pts = index
            container.mux(video.encode(frame))
            if isinstance(sound, av.AudioStream):
                chunk = av.AudioFrame.from_ndarray(
                    np.zeros((1, 800), np.int16), format="s16", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 8000, index * 800
                chunk.time_base = Fraction(1, 8000)
                container.mux(sound.encode(chunk))
        container.mux(video.encode(None))
        if isinstance(sound, av.AudioStream):
            container.mux(sound.encode(None))
    probe = probe_clip(path, LIMITS)
    assert (probe.duration_s, probe.width, probe.height, probe.frames) == (2.0, 160, 120, 20)
    assert make_thumbnail(path)[:2] == b"\xff\xd8"


# Refusals --------------------------------------------------------------------------------


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    error = refusal(path)
    assert isinstance(error, UnsupportedMedia) and error.status_code == 415
    assert error.code == "not_a_video"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert refusal(path).code == "not_a_video"


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is a note, not a video\n" * 50)
    error = refusal(path)
    assert error.code == "not_a_video"
    assert "text file" in error.message


def test_png_image(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), format="rgb24")
    frame.save(str(path))
    error = refusal(path)
    assert error.code == "not_a_video"
    assert "PNG image" in error.message


def _write_audio(path: Path, container_format: str, codec: str, rate: int) -> Path:
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        samples = 1152 if codec == "libmp3lame" else 1024
        for index in range(20):
            tone = (np.sin(np.arange(samples) / 10.0) * 8000).astype(np.int16)[None, :]
            # PyAV resamples to the encoder's sample format.
            frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = index * samples
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("name", "container_format", "codec", "hint"),
    [
        ("sound.wav", "wav", "pcm_s16le", "WAV"),
        ("song.mp3", "mp3", "libmp3lame", "MP3"),
        ("voice.m4a", "mp4", "aac", "no video track"),
    ],
)
def test_audio_files(
    tmp_path: Path, name: str, container_format: str, codec: str, hint: str
) -> None:
    path = _write_audio(tmp_path / name, container_format, codec, 44_100)
    error = refusal(path)
    assert error.code == "not_a_video"
    assert hint in error.message


def test_mpeg4_part2_video(tmp_path: Path) -> None:
    path = tmp_path / "old.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(
                np.full((120, 160, 3), index * 20, np.uint8), format="rgb24"
            )
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    error = refusal(path)
    assert isinstance(error, UnsupportedMedia) and error.code == "unsupported_codec"
    assert "MPEG-4 part 2" in error.message and "H.264" in error.message


@pytest.mark.parametrize("faststart", [True, False])
def test_cut_at_70_percent(tmp_path: Path, faststart: bool) -> None:
    whole = write_sample_clip(tmp_path / "whole.mp4", noise=6.0, faststart=faststart)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    error = refusal(cut)
    assert isinstance(error, InvalidInput) and error.code == "truncated_video"


def _mdat_offset(data: bytes) -> int:
    return data.index(b"mdat") - 4


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.99])
def test_cut_with_consistent_box_sizes_is_caught_by_decoding(tmp_path: Path, keep: float) -> None:
    # A recorder that died mid-write can leave a well-formed box tree (the index first and
    # the data box sized to what was written): only counting and decoding frames shows it.
    data = bytearray(write_sample_clip(tmp_path / "w.mp4", noise=6.0).read_bytes())
    cut = data[: int(len(data) * keep)]
    mdat = _mdat_offset(bytes(cut))
    cut[mdat : mdat + 4] = (len(cut) - mdat).to_bytes(4, "big")
    path = tmp_path / "cut.mp4"
    path.write_bytes(bytes(cut))
    assert refusal(path).code == "truncated_video"


def test_index_missing(tmp_path: Path) -> None:
    data = write_sample_clip(tmp_path / "w.mp4", faststart=False).read_bytes()
    path = tmp_path / "noindex.mp4"
    path.write_bytes(data[: data.index(b"moov") - 4])
    error = refusal(path)
    assert error.code == "truncated_video"
    assert "moov" in error.message


def test_garbled_video_data(tmp_path: Path) -> None:
    data = bytearray(write_sample_clip(tmp_path / "w.mp4", seconds=3.0, noise=8.0).read_bytes())
    mdat = _mdat_offset(bytes(data))
    rng = np.random.default_rng(1)
    for part in range(10):
        pos = mdat + 8 + (len(data) - mdat) * part // 10 + 50
        data[pos : pos + 300] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    path = tmp_path / "garbled.mp4"
    path.write_bytes(bytes(data))
    assert refusal(path).code == "corrupt_video"


def test_zeroed_video_data(tmp_path: Path) -> None:
    data = bytearray(write_sample_clip(tmp_path / "w.mp4").read_bytes())
    mdat = _mdat_offset(bytes(data))
    data[mdat + 8 :] = bytes(len(data) - mdat - 8)
    path = tmp_path / "zeroed.mp4"
    path.write_bytes(bytes(data))
    assert refusal(path).code == "corrupt_video"


def test_too_many_bytes(sample_clip: Path) -> None:
    size = sample_clip.stat().st_size
    error = refusal(sample_clip, replace(LIMITS, max_bytes=size - 1))
    assert isinstance(error, PayloadTooLarge) and error.status_code == 413
    assert error.code == "clip_too_large"
    assert error.details == {"size_bytes": size, "max_bytes": size - 1}
    assert probe_clip(sample_clip, replace(LIMITS, max_bytes=size)).frames == 20


def test_too_long(sample_clip: Path) -> None:
    error = refusal(sample_clip, replace(LIMITS, max_duration_s=1.5))
    assert isinstance(error, InvalidInput) and error.code == "clip_too_long"
    assert "2.0 s" in error.message and "1.5 s" in error.message


def test_too_short(sample_clip: Path) -> None:
    assert refusal(sample_clip, replace(LIMITS, min_duration_s=3.0)).code == "clip_too_short"


@pytest.mark.parametrize(("max_width", "max_height"), [(319, 240), (320, 239)])
def test_resolution_too_large(sample_clip: Path, max_width: int, max_height: int) -> None:
    error = refusal(sample_clip, replace(LIMITS, max_width=max_width, max_height=max_height))
    assert error.code == "resolution_too_large"
    assert "320x240" in error.message
