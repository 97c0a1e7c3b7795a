"""Redaction of clips before they leave the owner: faces (CenterFace), text regions
(PP-OCR detection), privacy zones, the owner's boxes and removals; a copy with no tags.

The entry point is ``redact_clip``; ``validate_zones`` checks zone polygons for an API.
"""

from doorstep.media.redaction.clip import build_detectors, redact_clip
from doorstep.media.redaction.geometry import Box
from doorstep.media.redaction.models import ModelMissing, file_sha256
from doorstep.media.redaction.options import (
    HideStyle,
    ManualBox,
    RedactionOptions,
    RedactionReport,
    Removal,
)
from doorstep.media.redaction.release import (
    Choices,
    failure_reason,
    redact_file,
    release_copy,
    scaled_zones,
    shared_detectors,
    throttled,
)
from doorstep.media.redaction.zones import validate_zones

__all__ = [
    "Box",
    "Choices",
    "HideStyle",
    "ManualBox",
    "ModelMissing",
    "RedactionOptions",
    "RedactionReport",
    "Removal",
    "build_detectors",
    "failure_reason",
    "file_sha256",
    "redact_clip",
    "redact_file",
    "release_copy",
    "scaled_zones",
    "shared_detectors",
    "throttled",
    "validate_zones",
]
