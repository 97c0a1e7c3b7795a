from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from doorstep.config import Settings
from doorstep.errors import NotFound
from doorstep.media.storage import (
    CHUNK_BYTES,
    LocalStorage,
    MediaStorage,
    S3Storage,
    storage_from_url,
)

BLOB = bytes(range(256)) * 1024  # 256 KiB: several chunks


def test_round_trip_bytes_and_file(storage: MediaStorage, tmp_path: Path) -> None:
    storage.put_bytes("clips/a/one.mp4", b"hello", "video/mp4")
    source = tmp_path / "upload.bin"
    source.write_bytes(BLOB)
    storage.put_file("clips/b/two.mp4", source, "video/mp4")

    assert storage.read_bytes("clips/a/one.mp4") == b"hello"
    assert storage.read_bytes("clips/b/two.mp4") == BLOB
    assert storage.size("clips/b/two.mp4") == len(BLOB)
    assert storage.exists("clips/a/one.mp4")
    assert not storage.exists("clips/a/none.mp4")
    assert storage.keys() == ["clips/a/one.mp4", "clips/b/two.mp4"]
    assert storage.keys("clips/b") == ["clips/b/two.mp4"]
    assert storage.keys("thumbs/") == []


def test_overwrite_replaces_content(storage: MediaStorage) -> None:
    storage.put_bytes("k.bin", b"first version", "application/octet-stream")
    storage.put_bytes("k.bin", b"second", "application/octet-stream")
    assert storage.read_bytes("k.bin") == b"second"
    assert storage.keys() == ["k.bin"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, 0),
        (10, 99),
        (1000, None),
        (CHUNK_BYTES - 1, CHUNK_BYTES + 1),
        (len(BLOB) - 5, None),
        (len(BLOB) - 5, len(BLOB) + 100),
        (0, len(BLOB) - 1),
    ],
)
def test_open_range_yields_inclusive_slice(
    storage: MediaStorage, start: int, end: int | None
) -> None:
    storage.put_bytes("r.bin", BLOB, "application/octet-stream")
    chunks = list(storage.open_range("r.bin", start, end))
    expected = BLOB[start:] if end is None else BLOB[start : end + 1]
    assert b"".join(chunks) == expected
    assert all(chunks) and all(len(c) <= CHUNK_BYTES for c in chunks)


def test_open_range_past_end_yields_nothing(storage: MediaStorage) -> None:
    storage.put_bytes("r.bin", b"0123456789", "application/octet-stream")
    assert b"".join(storage.open_range("r.bin", 10)) == b""
    assert b"".join(storage.open_range("r.bin", 50, 60)) == b""


def test_open_range_refuses_bad_ranges(storage: MediaStorage) -> None:
    storage.put_bytes("r.bin", b"0123456789", "application/octet-stream")
    with pytest.raises(ValueError):
        storage.open_range("r.bin", -1)
    with pytest.raises(ValueError):
        storage.open_range("r.bin", 5, 4)


def test_missing_key_raises_not_found_before_streaming(storage: MediaStorage) -> None:
    # Raised by the call itself, so an HTTP handler can answer 404 before sending headers.
    with pytest.raises(NotFound):
        storage.open_range("missing.mp4")
    with pytest.raises(NotFound):
        storage.read_bytes("missing.mp4")
    with pytest.raises(NotFound):
        storage.size("missing.mp4")
    with pytest.raises(NotFound):
        storage.copy("missing.mp4", "elsewhere.mp4")
    assert not storage.exists("elsewhere.mp4")


def test_copy(storage: MediaStorage) -> None:
    storage.put_bytes("clips/c.mp4", BLOB, "video/mp4")
    storage.copy("clips/c.mp4", "evidence/e1/c.mp4")
    assert storage.read_bytes("evidence/e1/c.mp4") == BLOB
    storage.delete("clips/c.mp4")
    assert storage.read_bytes("evidence/e1/c.mp4") == BLOB


def test_delete_is_idempotent_and_removes_local_file(local_storage: LocalStorage) -> None:
    local_storage.put_bytes("clips/x/y.mp4", b"data", "video/mp4")
    path = local_storage.root / "clips" / "x" / "y.mp4"
    assert path.is_file()
    local_storage.delete("clips/x/y.mp4")
    local_storage.delete("clips/x/y.mp4")
    local_storage.delete("never/existed.mp4")
    assert not path.exists()
    assert not (local_storage.root / "clips").exists()  # emptied directories pruned
    assert local_storage.keys() == []
    with pytest.raises(NotFound):
        local_storage.read_bytes("clips/x/y.mp4")


@pytest.mark.s3
def test_delete_is_idempotent_and_removes_s3_object(s3_storage: S3Storage, s3_client: Any) -> None:
    s3_storage.put_bytes("clips/y.mp4", b"data", "video/mp4")
    s3_client.head_object(Bucket=s3_storage.bucket, Key="media/clips/y.mp4")
    s3_storage.delete("clips/y.mp4")
    s3_storage.delete("clips/y.mp4")
    s3_storage.delete("never/existed.mp4")
    with pytest.raises(ClientError) as caught:
        s3_client.head_object(Bucket=s3_storage.bucket, Key="media/clips/y.mp4")
    assert caught.value.response["Error"]["Code"] == "404"
    assert s3_storage.keys() == []


@pytest.mark.s3
def test_s3_objects_live_under_prefix_with_content_type(
    s3_storage: S3Storage, s3_client: Any
) -> None:
    s3_storage.put_bytes("thumbs/t.jpg", b"\xff\xd8\xff", "image/jpeg")
    head = s3_client.head_object(Bucket=s3_storage.bucket, Key="media/thumbs/t.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert s3_storage.keys() == ["thumbs/t.jpg"]


def test_local_writes_leave_no_temp_files(local_storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(BLOB)
    local_storage.put_file("a/b.bin", source, "application/octet-stream")
    local_storage.put_bytes("a/c.bin", b"x", "application/octet-stream")
    local_storage.copy("a/b.bin", "a/d.bin")
    assert sorted(p.name for p in (local_storage.root / "a").iterdir()) == [
        "b.bin",
        "c.bin",
        "d.bin",
    ]


BAD_KEYS = [
    "../escape.mp4",
    "clips/../../escape.mp4",
    "/etc/passwd",
    "clips\\x.mp4",
    "",
    "clips//x.mp4",
    ".hidden",
    "clips/./x.mp4",
    "clips/x.mp4\x00",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused(storage: MediaStorage, key: str, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    with pytest.raises(ValueError):
        storage.put_bytes(key, b"x", "video/mp4")
    with pytest.raises(ValueError):
        storage.put_file(key, source, "video/mp4")
    with pytest.raises(ValueError):
        storage.read_bytes(key)
    with pytest.raises(ValueError):
        storage.delete(key)
    with pytest.raises(ValueError):
        storage.exists(key)
    with pytest.raises(ValueError):
        storage.presigned_url(key)
    assert storage.keys() == []
    assert not (tmp_path / "escape.mp4").exists()


def test_local_symlink_out_of_root_is_refused(local_storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    local_storage.root.mkdir(parents=True)
    (local_storage.root / "link").symlink_to(outside)
    with pytest.raises(ValueError):
        local_storage.read_bytes("link/secret.txt")
    with pytest.raises(ValueError):
        local_storage.put_bytes("link/new.txt", b"x", "text/plain")
    assert not (outside / "new.txt").exists()


def test_local_has_no_presigned_url(local_storage: LocalStorage) -> None:
    local_storage.put_bytes("a.mp4", b"x", "video/mp4")
    assert local_storage.presigned_url("a.mp4") is None


@pytest.mark.s3
def test_presigned_url_serves_the_bytes(s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("clips/p.mp4", BLOB, "video/mp4")
    url = s3_storage.presigned_url("clips/p.mp4")
    assert url is not None and "X-Amz-Expires=60" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == BLOB

    typed = s3_storage.presigned_url("clips/p.mp4", content_type="application/octet-stream")
    assert typed is not None
    response = httpx.get(typed)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"


def test_storage_from_url_file_absolute(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "media"
    storage = storage_from_url(f"file://{root}", Settings())
    assert isinstance(storage, LocalStorage)
    assert storage.root == root.resolve()
    assert root.is_dir()


def test_storage_from_url_file_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = storage_from_url("file://data/media", Settings())
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "data" / "media").resolve()
    assert (tmp_path / "data" / "media").is_dir()


def test_storage_from_url_s3() -> None:
    settings = Settings(
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_region="eu-west-1",
        s3_access_key_id="id",
        s3_secret_access_key="secret",
        s3_url_expiry_s=42,
    )
    storage = storage_from_url("s3://clips-bucket/instance/media/", settings)
    assert isinstance(storage, S3Storage)
    assert storage.bucket == "clips-bucket"
    assert storage.prefix == "instance/media/"
    assert storage.region == "eu-west-1"
    assert storage.url_expiry_s == 42
    bare = storage_from_url("s3://clips-bucket", settings)
    assert isinstance(bare, S3Storage) and bare.prefix == ""


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://example.com/media",
        "/var/media",
        "s3://",
        "file://",
        "S3:/bucket",
        "s3://bucket/../x",
    ],
)
def test_storage_from_url_refuses_unknown(url: str) -> None:
    with pytest.raises(ValueError):
        storage_from_url(url, Settings())
