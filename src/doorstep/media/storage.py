"""Where clips, thumbnails and evidence bytes live: a local directory or S3-compatible storage.

Both backends take the same keys (relative POSIX paths such as ``clips/ab/cd.mp4``) and
refuse the same unsafe ones, so a key that works on a laptop works in production.
Every call blocks; async callers run them in a thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol, cast
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from doorstep.config import Settings
from doorstep.errors import NotFound

CHUNK_BYTES = 64 * 1024

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class MediaStorage(Protocol):
    """A flat key -> bytes store. Missing keys raise ``doorstep.errors.NotFound``."""

    def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of bytes ``start..end`` inclusive (``end=None``: to the end).

        The key is looked up before this returns, so NotFound is raised before an HTTP
        response starts; a ``start`` at or past the end yields nothing.
        """
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def copy(self, src_key: str, dst_key: str) -> None: ...

    def presigned_url(self, key: str, *, content_type: str | None = None) -> str | None:
        """A time-limited GET URL, or None when the app must stream the bytes itself."""
        ...

    def keys(self, prefix: str = "") -> list[str]: ...


@contextmanager
def removed_on_failure(storage: MediaStorage, *keys: str) -> Iterator[None]:
    """The files put under ``keys`` in this block are deleted again if it fails (a refusal,
    an error, a cancellation): a store that fails halfway leaves nothing behind."""
    try:
        yield
    except BaseException:
        for key in keys:
            storage.delete(key)
        raise


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative POSIX path, else raise ValueError.

    Refused: empty keys, absolute paths, backslashes, NUL, empty segments (``a//b``),
    and segments starting with a dot (``..``, ``.``, hidden names; temp files use them).
    """
    if not key or "\x00" in key:
        raise ValueError("storage key must be a non-empty string without NUL characters")
    if "\\" in key:
        raise ValueError(f"storage key {key!r} must use '/' separators, not backslashes")
    if key.startswith("/") or PurePosixPath(key).is_absolute():
        raise ValueError(f"storage key {key!r} must be relative, not absolute")
    for part in key.split("/"):
        if not part:
            raise ValueError(f"storage key {key!r} has an empty path segment")
        if part.startswith("."):
            raise ValueError(f"storage key {key!r} has a segment starting with '.'")
    return key


def _check_range(start: int, end: int | None) -> None:
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before start {start}")


class LocalStorage:
    """Objects as files under ``root``; writes land atomically (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # A symlink inside the tree must not lead out of it.
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} resolves outside the media root")
        return path

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"No stored media under {key!r}.", key=key)
        return path

    def _write_atomic(self, key: str, write: Callable[[IO[bytes]], object]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as tmp:
                write(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        def write(tmp: IO[bytes]) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, tmp, CHUNK_BYTES)

        self._write_atomic(key, write)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write_atomic(key, lambda tmp: tmp.write(data))

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        _check_range(start, end)
        handle = self._existing(key).open("rb")
        return _file_chunks(handle, start, end)

    def read_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def size(self, key: str) -> int:
        return self._existing(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Prune directories the delete left empty, so retention sweeps leave no husks.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def copy(self, src_key: str, dst_key: str) -> None:
        src = self._existing(src_key)

        def write(tmp: IO[bytes]) -> None:
            with src.open("rb") as handle:
                shutil.copyfileobj(handle, tmp, CHUNK_BYTES)

        self._write_atomic(dst_key, write)

    def presigned_url(self, key: str, *, content_type: str | None = None) -> str | None:
        check_key(key)
        return None

    def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (rel / name).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)


def _file_chunks(handle: IO[bytes], start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            want = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
            chunk = handle.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Objects in an S3-compatible bucket under ``prefix``; reads go out as presigned URLs."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        url_expiry_s: int = 300,
    ) -> None:
        if not bucket:
            raise ValueError("S3 storage needs a bucket name")
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.prefix = f"{check_key(prefix)}/" if prefix else ""
        self.region = region
        self.url_expiry_s = url_expiry_s
        config = Config(
            signature_version="s3v4",
            # Path-style addressing works with MinIO, Garage, moto and AWS alike.
            s3={"addressing_style": "path"} if endpoint_url else {},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (tests and the demo; production pre-creates)."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self._client.create_bucket(**params)

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], self._client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise NotFound(f"No stored media under {key!r}.", key=key) from None
            raise

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self._client.upload_file(
            str(path), self.bucket, self._name(key), ExtraArgs={"ContentType": content_type}
        )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        _check_range(start, end)
        name = self._name(key)
        byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=name, Range=byte_range)
        except ClientError as exc:
            code = _error_code(exc)
            if code in _MISSING_CODES:
                raise NotFound(f"No stored media under {key!r}.", key=key) from None
            if code == "InvalidRange":  # start at or past the end: same as LocalStorage
                return iter(())
            raise
        return _body_chunks(response["Body"])

    def read_bytes(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise NotFound(f"No stored media under {key!r}.", key=key) from None
            raise
        body = response["Body"]
        try:
            return cast(bytes, body.read())
        finally:
            body.close()

    def size(self, key: str) -> int:
        return int(self._head(self._name(key))["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(self._name(key))
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        # S3 DeleteObject already succeeds on a missing key.
        self._client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def copy(self, src_key: str, dst_key: str) -> None:
        src = self._name(src_key)
        dst = self._name(dst_key)
        try:
            self._client.copy_object(
                Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src}
            )
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise NotFound(f"No stored media under {src_key!r}.", key=src_key) from None
            raise

    def presigned_url(self, key: str, *, content_type: str | None = None) -> str | None:
        """A GET URL valid ``url_expiry_s``; it does not check that the key exists."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        return cast(
            str,
            self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=self.url_expiry_s
            ),
        )

    def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                found.append(str(item["Key"])[len(self.prefix) :])
        return sorted(found)


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


def storage_from_url(url: str, settings: Settings) -> MediaStorage:
    """Build the backend a media URL names.

    ``file:///abs/path`` or ``file://relative/path`` -> LocalStorage (directory created);
    ``s3://bucket/prefix`` -> S3Storage with the endpoint and credentials from ``settings``.
    """
    if url.startswith("file://"):
        raw = unquote(url[len("file://") :])
        if not raw:
            raise ValueError(f"media URL {url!r} names no directory; use file:///abs/path")
        root = Path(raw)
        root.mkdir(parents=True, exist_ok=True)
        return LocalStorage(root)
    if url.startswith("s3://"):
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"media URL {url!r} names no bucket; use s3://bucket/prefix")
        return S3Storage(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            url_expiry_s=settings.s3_url_expiry_s,
        )
    raise ValueError(
        f"unsupported media URL {url!r}: expected file:///path/to/dir or s3://bucket/prefix"
    )
