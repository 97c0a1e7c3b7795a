"""Media fixtures: storage backends (local directory and moto's S3 server) and sample clips."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from doorstep.media.samples import write_sample_clip
from doorstep.media.storage import LocalStorage, MediaStorage, S3Storage
from tests.conftest import S3_KEY_ID, S3_REGION, S3_SECRET


@pytest.fixture
def s3_storage(s3_server: str) -> S3Storage:
    """An S3Storage on a fresh bucket, under a prefix (as production uses one)."""
    storage = S3Storage(
        f"test-{uuid.uuid4().hex[:12]}",
        "media",
        endpoint_url=s3_server,
        region=S3_REGION,
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
        url_expiry_s=60,
    )
    storage.ensure_bucket()
    return storage


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest) -> MediaStorage:
    """Each storage test runs on both backends."""
    backend: MediaStorage = request.getfixturevalue(f"{request.param}_storage")
    return backend


@pytest.fixture(scope="session")
def sample_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 320x240, 10 fps H.264 clip with a box crossing between 0.5 s and 1.5 s."""
    return write_sample_clip(tmp_path_factory.mktemp("clips") / "sample.mp4")
