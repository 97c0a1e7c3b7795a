"""Labelled clips for the redaction benchmark and tests: real, labelled photographs (faces
from dlib's PASCAL VOC examples, licence plates from OpenALPR's benchmark set, kept in
``tests/media/data/``) panned slowly across a 1280x720 (or smaller) frame, each for a
fixed time, so every frame has known ground-truth boxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from doorstep.media.redaction.geometry import Box

DATA = Path(__file__).resolve().parent.parent / "tests" / "media" / "data"
FACES = DATA / "faces"
PLATES = DATA / "plates"
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Labelled:
    """One photograph (RGB) and its labelled boxes (photo pixels)."""

    name: str
    image: Image
    boxes: tuple[Box, ...]


def load_labelled(folder: Path) -> list[Labelled]:
    """The photographs of ``folder`` with the boxes of its ``labels.tsv``
    (file, left, top, width, height), in file-name order."""
    boxes: dict[str, list[Box]] = {}
    for line in (folder / "labels.tsv").read_text().splitlines():
        name, x, y, w, h = line.split("\t")[:5]
        left, top = float(x), float(y)
        boxes.setdefault(name, []).append(Box(left, top, left + float(w), top + float(h)))
    photos: list[Labelled] = []
    for name in sorted(boxes):
        bgr = cv2.imread(str(folder / name))
        if bgr is None:
            raise FileNotFoundError(folder / name)
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        photos.append(Labelled(name, rgb, tuple(boxes[name])))
    return photos


@dataclass(frozen=True)
class ClipShape:
    width: int = 1280
    height: int = 720
    fps: int = 25
    seconds_each: float = 1.0
    pan_px: int = 3
    noise: float = 2.0
    seed: int = 0


def frames(
    photos: list[Labelled], shape: ClipShape, total: int | None = None
) -> Iterator[tuple[Image, tuple[Box, ...]]]:
    """Frames (RGB) and their ground-truth boxes: each photo (never enlarged, shrunk to
    fit 85% of the frame) slides right by ``pan_px`` a frame on a grey background. With
    ``total``, the photos repeat until that many frames."""
    rng = np.random.default_rng(shape.seed)
    grains = [
        rng.normal(0.0, shape.noise, size=(shape.height, shape.width, 3)).astype(np.int16)
        for _ in range(4 if shape.noise > 0 else 0)
    ]
    per_photo = max(1, round(shape.seconds_each * shape.fps))
    count = total if total is not None else per_photo * len(photos)
    for index in range(count):
        photo = photos[(index // per_photo) % len(photos)]
        step = index % per_photo
        height, width = photo.image.shape[:2]
        scale = min(1.0, 0.85 * shape.width / width, 0.85 * shape.height / height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        placed = cv2.resize(photo.image, size, interpolation=cv2.INTER_AREA)
        room = shape.width - size[0]
        left = min(room, (room // 4) + step * shape.pan_px)
        top = (shape.height - size[1]) // 2
        canvas = np.full((shape.height, shape.width, 3), 110, dtype=np.uint8)
        canvas[top : top + size[1], left : left + size[0]] = placed
        if grains:
            # Sensor noise, from a few pre-drawn fields (drawing one per frame is slow).
            noisy = canvas.astype(np.int16) + grains[index % len(grains)]
            canvas = np.clip(noisy, 0, 255).astype(np.uint8)
        boxes = tuple(
            Box(left + b.x1 * scale, top + b.y1 * scale, left + b.x2 * scale, top + b.y2 * scale)
            for b in photo.boxes
        )
        yield canvas, boxes


def write_clip(
    path: Path, photos: list[Labelled], shape: ClipShape, total: int | None = None
) -> list[tuple[Box, ...]]:
    """Write the frames as an H.264 MP4 (with tags a camera might write: a title naming
    its owner, a comment) and return the ground truth of every frame."""
    truth: list[tuple[Box, ...]] = []
    with av.open(str(path), mode="w", format="mp4") as container:
        container.metadata["title"] = "Front door, 12 Elm Street"
        container.metadata["comment"] = "owner: Jane Example"
        stream = container.add_stream("libx264", rate=shape.fps)
        stream.width, stream.height, stream.pix_fmt = shape.width, shape.height, "yuv420p"
        stream.metadata["handler_name"] = "Jane's doorbell"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for index, (image, boxes) in enumerate(frames(photos, shape, total)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
            truth.append(boxes)
        container.mux(stream.encode(None))
    return truth
