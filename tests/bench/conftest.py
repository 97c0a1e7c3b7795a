"""The benchmark data generator needs the shared towns file (../shared/data)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import country
from bench.generate import GenerateOptions, generate
from bench.progress import Progress


@pytest.fixture(scope="session")
def towns_file() -> Path:
    """The towns file; missing, CI fails (it always has ../shared), a laptop skips."""
    try:
        return country.find_towns_file()
    except FileNotFoundError:
        message = "../shared/data/us_zip_centroids.csv is not here"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# Events dated back from here, so a test knows which months its country spans.
COUNTRY_ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def tiny_country(towns_file: Path, tmp_path: Path) -> Callable[..., None]:
    """Generate a small country into a database: ``tiny_country(url, cameras=...,
    events=..., days=...)``, its events dated back from ``COUNTRY_ANCHOR``."""

    def generate_into(url: str, *, cameras: int, events: int, days: int) -> None:
        with open(tmp_path / "progress.txt", "w") as stream:
            generate(
                url=url,
                options=GenerateOptions(
                    cameras=cameras,
                    events=events,
                    posts=0,
                    seed=5,
                    days=days,
                    anchor=COUNTRY_ANCHOR,
                    towns_path=towns_file,
                ),
                progress=Progress(stream=stream),
            )

    return generate_into
