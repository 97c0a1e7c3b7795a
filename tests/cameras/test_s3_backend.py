"""The production media backend: clips go to S3 (moto's server), are served by signed URL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.conftest import S3_KEY_ID, S3_REGION, S3_SECRET, make_settings
from tests.factories import make_camera, make_person, sample_clip, upload_clip

from doorstep.app import create_app
from doorstep.media.storage import S3Storage
from doorstep.runtime import Runtime

pytestmark = pytest.mark.s3


def test_ingest_serve_and_delete_on_s3(
    tmp_path: Path, database_url: str, s3_server: str, s3_client: Any
) -> None:
    bucket = f"doorstep-{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        tmp_path,
        database_url,
        media_url=f"s3://{bucket}/city",
        s3_endpoint_url=s3_server,
        s3_region=S3_REGION,
        s3_access_key_id=S3_KEY_ID,
        s3_secret_access_key=S3_SECRET,
    )
    runtime = Runtime(settings)
    assert isinstance(runtime.storage, S3Storage)
    runtime.storage.ensure_bucket()
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        owner = make_person(runtime)
        cam = make_camera(runtime, owner.user)
        path = sample_clip(tmp_path)
        r = upload_clip(client, cam, path)
        assert r.status_code == 201, r.text
        clip = r.json()["clip"]
        listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="city/")
        keys = sorted(o["Key"] for o in listed.get("Contents", []))
        assert keys == sorted(
            [
                f"city/clips/{cam.camera.id}/{clip['id']}.mp4",
                f"city/thumbnails/{cam.camera.id}/{clip['id']}.jpg",
            ]
        )
        video = client.get(clip["video_url"], headers=owner.headers, follow_redirects=False)
        assert video.status_code == 307
        signed = video.headers["location"]
        assert signed.startswith(s3_server) and "Signature" in signed
        assert httpx.get(signed).content == path.read_bytes()
        # a stranger gets no signed URL at all
        stranger = make_person(runtime)
        assert (
            client.get(
                clip["video_url"], headers=stranger.headers, follow_redirects=False
            ).status_code
            == 404
        )
        assert (
            client.delete(f"/api/v1/clips/{clip['id']}", headers=owner.headers).status_code == 204
        )
        listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="city/")
        assert listed.get("KeyCount", 0) == 0
        # a refused upload leaves no object either
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"\x00" * 5000)
        assert upload_clip(client, cam, bad).status_code == 415
        assert s3_client.list_objects_v2(Bucket=bucket, Prefix="city/").get("KeyCount", 0) == 0
    runtime.close()
