"""Synthetic H.264 sample clips for tests, the demo neighborhood and the motion agent.

Deterministic for a seed: the same arguments give the same decoded pixels.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt


def _background(width: int, height: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A static, textured scene (so a detector sees detail, not a flat wall), float RGB."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rows: npt.NDArray[np.float32] = yy
    cols: npt.NDArray[np.float32] = xx
    block = 16
    coarse = rng.integers(0, 40, size=(height // block + 1, width // block + 1))
    blocks = np.kron(coarse, np.ones((block, block)))[:height, :width]
    luma = 60.0 + 40.0 * cols / width + 15.0 * np.sin(rows / 9.0) + blocks
    tint = np.array([1.0, 0.95, 0.85], dtype=np.float32)
    scene: npt.NDArray[np.float32] = (luma[..., None] * tint).astype(np.float32)
    return scene


def write_sample_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    motion: tuple[float, float] | None = (0.5, 1.5),
    noise: float = 0.0,
    drift: float = 0.0,
    seed: int = 0,
    faststart: bool = True,
) -> Path:
    """Write a real H.264 MP4 (libx264, yuv420p) of a synthetic scene; deterministic per seed.

    A bright rectangle crosses the frame left to right while ``motion[0] <= t < motion[1]``
    (seconds) and is absent otherwise (``motion=None``: never). ``noise`` adds per-pixel
    gaussian noise (std, 0..255 units), ``drift`` a global brightness change per second.
    ``faststart`` puts the index before the video data, as web-ready files do.
    """
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError("width and height must be even and at least 16 pixels")
    if seconds <= 0 or fps <= 0:
        raise ValueError("seconds and fps must be positive")
    texture_rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])
    background = _background(width, height, texture_rng)
    box_w, box_h = max(8, width // 6), max(8, height // 4)
    box_y = int(
        texture_rng.integers(height // 8, max(height // 8 + 1, height - box_h - height // 8))
    )
    count = max(1, round(seconds * fps))
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        # Same bytes for the same arguments: one thread, and no macroblock-tree rate control,
        # whose assembly path made x264 (libx264 in PyAV 18's wheel) vary run to run on
        # textured, noisy scenes even single-threaded.
        stream.codec_context.thread_count = 1
        stream.options = {"preset": "veryfast", "crf": "23", "x264-params": "mbtree=0"}
        for index in range(count):
            t = index / fps
            picture = background + drift * t
            if motion is not None and motion[0] <= t < motion[1]:
                progress = (t - motion[0]) / (motion[1] - motion[0])
                box_x = round(progress * (width - box_w))
                picture = picture.copy()
                picture[box_y : box_y + box_h, box_x : box_x + box_w] = 235.0 + drift * t
            if noise > 0:
                picture = picture + noise_rng.normal(0.0, noise, size=(height, width, 1))
            pixels = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
