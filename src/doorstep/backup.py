"""``doorstep backup`` and ``doorstep restore``: an embedded (SQLite) instance, copied while
it runs, and put back into an empty data dir.

A backup is a folder (ship it with ``tar czf``; a folder can be checked file by file with
``sha256sum`` and synced incrementally by rsync or restic)::

    DEST/manifest.json       when, which doorstep, alembic revision, audit chain head, files
    DEST/doorstep.db         the database, through SQLite's online backup API
    DEST/media/...           the local media folder (clips, thumbnails, evidence)
    DEST/vapid_private.pem   the Web Push key, when the instance has one

The database is copied first, in one step of the backup API: one read transaction, so the
copy is the database as of one commit while the app keeps writing (WAL: writers do not
wait). The media folder is copied after it. A clip is stored before the row that names it
commits, so every clip the copy names is on disk; a clip deleted by the retention sweep in
between is missing from the backup exactly as it would be from the instance a moment later.

PostgreSQL instances are backed up with ``pg_dump`` and WAL archiving (deploy/BACKUP.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import unquote

import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from doorstep import __version__
from doorstep.audit import verify_chain
from doorstep.config import Settings, get_settings

MANIFEST = "manifest.json"
DATABASE_FILE = "doorstep.db"
MEDIA_DIR = "media"
VAPID_FILE = "vapid_private.pem"
FORMAT = 1
POSTGRES_POINTER = (
    "doorstep backup copies SQLite instances only; back up PostgreSQL with pg_dump and WAL "
    "archiving as deploy/BACKUP.md describes"
)
# LocalStorage writes a file under this prefix and renames it into place when complete.
_PARTIAL_PREFIX = ".tmp-"


class BackupRefused(Exception):
    """The backup or restore cannot go ahead; the message says why, in one line."""


def _sqlite_file(settings: Settings) -> Path:
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupRefused(POSTGRES_POINTER)
    return Path(url.database)


def _local_media_root(settings: Settings) -> Path | None:
    media_url = settings.resolved_media_url()
    if not media_url.startswith("file://"):
        return None
    return Path(unquote(media_url[len("file://") :]))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API, in one step)."""
    if not source.is_file():
        raise BackupRefused(f"no database at {source}")
    with (
        closing(sqlite3.connect(source, timeout=15)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        # One self-contained file: no -wal or -shm beside the copy.
        dst.execute("PRAGMA journal_mode=DELETE")
        [verdict] = dst.execute("PRAGMA integrity_check").fetchone()
    if verdict != "ok":
        raise BackupRefused(f"the copied database fails its integrity check: {verdict}")


def describe_database(path: Path) -> dict[str, Any]:
    """The alembic revision and the audit chain (verified) of a database file."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with Session(engine) as session:
            revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            chain = verify_chain(session=session)
    finally:
        engine.dispose()
    return {
        "alembic_revision": revision,
        "audit_chain": {"ok": chain.ok, "records": chain.records, "head": chain.head_hash},
    }


def _media_files(root: Path) -> list[Path]:
    """Every stored object under the media root (no partial writes, no links)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.name.startswith(_PARTIAL_PREFIX):
            continue
        found.append(path)
    return found


def _entry(dest: Path, relative: str) -> dict[str, Any]:
    path = dest / relative
    return {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Copy the instance's database, media folder and Web Push key into the new or empty
    folder ``dest``, with a manifest; return the manifest."""
    db_file = _sqlite_file(settings)
    if not _is_empty(dest):
        raise BackupRefused(f"{dest} is not empty; back up into a new or empty folder")
    media_root = _local_media_root(settings)
    if media_root is not None and dest.resolve().is_relative_to(media_root.resolve()):
        raise BackupRefused(f"{dest} is inside the media folder it would copy")
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # the database holds password hashes and the Web Push key is secret
    copy_database(db_file, dest / DATABASE_FILE)
    copied = [DATABASE_FILE]
    if media_root is not None and media_root.is_dir():
        for path in _media_files(media_root):
            relative = PurePosixPath(MEDIA_DIR, *path.relative_to(media_root).parts)
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / relative)
            copied.append(str(relative))
    vapid = settings.resolved_vapid_path()
    if vapid.is_file():
        shutil.copy2(vapid, dest / VAPID_FILE)
        copied.append(VAPID_FILE)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "doorstep_version": __version__,
        **describe_database(dest / DATABASE_FILE),
        "media_copied": media_root is not None,
        "media_url": settings.resolved_media_url(),
        "files": [_entry(dest, relative) for relative in copied],
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupRefused(f"{src} holds no readable {MANIFEST}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupRefused(f"{src}/{MANIFEST} is not a doorstep backup of format {FORMAT}")
    for entry in manifest.get("files", []):
        parts = PurePosixPath(str(entry.get("path", ""))).parts
        if not parts or parts[0] == "/" or ".." in parts:
            raise BackupRefused(f"{MANIFEST} names a path outside the backup: {entry!r}")
    return manifest


def check_files(root: Path, files: list[dict[str, Any]], where: dict[str, Path]) -> list[str]:
    """Each listed file's size and SHA-256, at ``where[path]`` or else under ``root``;
    one line per problem."""
    problems = []
    for entry in files:
        path = where.get(entry["path"], root / entry["path"])
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["bytes"] or sha256_of(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: differs from the manifest")
    return problems


def _targets(settings: Settings, manifest: dict[str, Any]) -> dict[str, Path]:
    """Where each file of the backup goes in this instance."""
    db_file = _sqlite_file(settings)
    media_root = _local_media_root(settings)
    targets = {}
    for entry in manifest["files"]:
        relative = PurePosixPath(entry["path"])
        if entry["path"] == DATABASE_FILE:
            targets[entry["path"]] = db_file
        elif entry["path"] == VAPID_FILE:
            targets[entry["path"]] = settings.resolved_vapid_path()
        elif relative.parts[0] == MEDIA_DIR and media_root is not None:
            targets[entry["path"]] = media_root.joinpath(*relative.parts[1:])
        else:
            raise BackupRefused(f"this instance has no local media folder for {entry['path']}")
    return targets


def restore(settings: Settings, src: Path) -> dict[str, Any]:
    """Put the backup in ``src`` into this instance's data dir, which must be empty (or
    absent); every file is checked against the manifest before and after it is copied,
    and the restored audit chain against the recorded head. Returns the manifest."""
    manifest = read_manifest(src)
    targets = _targets(settings, manifest)
    occupied = [
        str(p)
        for p in (settings.data_dir, _local_media_root(settings), *targets.values())
        if p is not None and p.exists() and (p.is_file() or not _is_empty(p))
    ]
    if occupied:
        raise BackupRefused(f"restore needs an empty data dir; {occupied[0]} is not empty")
    problems = check_files(src, manifest["files"], {})
    if problems:
        raise BackupRefused(f"the backup is damaged: {problems[0]} ({len(problems)} problems)")
    for relative, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / relative, target)
    vapid = targets.get(VAPID_FILE)
    if vapid is not None:
        os.chmod(vapid, 0o600)
    problems = check_files(src, manifest["files"], targets)
    if problems:
        raise BackupRefused(f"the restored copy differs: {problems[0]}")
    restored = describe_database(targets[DATABASE_FILE])
    if restored["audit_chain"] != manifest["audit_chain"]:
        raise BackupRefused("the restored audit chain does not match the manifest's head")
    return manifest


def _run(step: Callable[[Settings, Path], dict[str, Any]], folder: Path) -> dict[str, Any]:
    """Run a backup or restore with this instance's settings; a refusal is one line and
    exit status 2."""
    try:
        return step(get_settings(), folder)
    except BackupRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def backup_command(
    dest: Annotated[Path, typer.Argument(help="A new or empty folder to write the backup to.")],
) -> None:
    """Copy a running SQLite instance (database, media, Web Push key) with a manifest."""
    manifest = _run(backup, dest)
    chain = manifest["audit_chain"]
    typer.echo(
        f"backed up {len(manifest['files'])} files to {dest}: revision "
        f"{manifest['alembic_revision']}, audit head {chain['head']} ({chain['records']} records)"
    )
    if not chain["ok"]:
        typer.echo("warning: the audit chain does not verify (doorstep audit verify)", err=True)


def restore_command(
    src: Annotated[Path, typer.Argument(help="A folder written by `doorstep backup`.")],
) -> None:
    """Restore a backup into an empty data dir, checking every file's SHA-256."""
    manifest = _run(restore, src)
    typer.echo(
        f"restored {len(manifest['files'])} files from {src}; "
        f"audit head {manifest['audit_chain']['head']}"
    )
