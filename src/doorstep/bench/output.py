"""What every benchmark shares: where it writes its JSON
(``<folder>/<name>-<UTC timestamp>.json``) and its quiet logging."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog

P = ParamSpec("P")
R = TypeVar("R")


def write_results(name: str, results: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def warnings_only(run: Callable[P, R]) -> Callable[P, R]:
    """Run a benchmark with structlog filtered to warnings (the product logs a line per
    call, noise at thousands of calls); the caller's set-up comes back afterwards."""

    @functools.wraps(run)
    def quiet(*args: P.args, **kwargs: P.kwargs) -> R:
        previous = structlog.get_config()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        try:
            return run(*args, **kwargs)
        finally:
            structlog.configure(**previous)

    return quiet
