"""The API's OpenAPI document, read once at collection time from an app that is never
started: the document depends on the code, not on a database."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.runtime import Runtime

METHODS = ("get", "put", "post", "delete", "patch")


@functools.cache
def openapi_document() -> dict[str, Any]:
    folder = Path(tempfile.gettempdir()) / "doorstep-openapi-document"
    runtime = Runtime(Settings(database_url="sqlite:///:memory:", data_dir=folder))
    try:
        document: dict[str, Any] = create_app(runtime).openapi()
    finally:
        runtime.close()
    return document


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path) the document declares, in its order."""
    return [
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in METHODS
        if method in item
    ]


def operation(method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = openapi_document()["paths"][path][method.lower()]
    return found
