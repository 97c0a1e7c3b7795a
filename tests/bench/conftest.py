"""The benchmark data generator needs the shared towns file (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import country


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
