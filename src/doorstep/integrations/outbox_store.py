"""The outbox's durable half: one SQLite file (WAL, ``synchronous=FULL``) and a ``clips/``
folder in the device's state dir.

A clip file is placed (written under a temporary name, fsynced, renamed) before its row
is committed; at start, files without a row are swept and sends that a crash cut short
are flagged ``maybe_sent``. Each item has a stable id and an optional dedupe ``key``
(e.g. ``frigate:review:<id>``): a key is accepted once, ever (delivered rows stay as
small tombstones for ``remember_days``), so a duplicate message or a restart never
queues the same thing twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from doorstep.integrations.client import parse_time

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    key TEXT UNIQUE,
    camera_id TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    device_ref TEXT,
    evidence_id TEXT,
    clip_file TEXT,
    source_url TEXT,
    source_failures INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0,
    maybe_sent INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    last_error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS ix_deliveries_due ON deliveries (status, next_attempt_at);
"""

QUEUED, DELIVERED, FAILED = "queued", "delivered", "failed"
CLIP, EVENT, FULFIL = "clip", "event", "fulfil"


class OutboxBusy(RuntimeError):
    """Another process holds this state dir: two senders would send things twice."""


@dataclass(frozen=True)
class Delivery:
    id: str
    key: str | None
    camera_id: str
    action: str
    kind: str
    started_at: datetime | None
    ended_at: datetime | None
    device_ref: str | None
    evidence_id: str | None
    clip_file: str | None
    source_url: str | None
    source_failures: int
    status: str
    attempts: int
    maybe_sent: bool
    last_error: str | None
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Delivery:
        return cls(
            id=row["id"],
            key=row["key"],
            camera_id=row["camera_id"],
            action=row["action"],
            kind=row["kind"],
            started_at=parse_time(row["started_at"]) if row["started_at"] else None,
            ended_at=parse_time(row["ended_at"]) if row["ended_at"] else None,
            device_ref=row["device_ref"],
            evidence_id=row["evidence_id"],
            clip_file=row["clip_file"],
            source_url=row["source_url"],
            source_failures=row["source_failures"],
            status=row["status"],
            attempts=row["attempts"],
            maybe_sent=bool(row["maybe_sent"]),
            last_error=row["last_error"],
            result=json.loads(row["result"]) if row["result"] else None,
        )


class OutboxStore:
    """Queued clips, events and shared uploads, on disk. Safe to share between threads of
    one process; a second process on the same state dir is refused (``OutboxBusy``)."""

    def __init__(self, state_dir: Path, *, remember_days: float = 30.0) -> None:
        self.state_dir = state_dir
        self.clips_dir = state_dir / "clips"
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.remember_s = remember_days * 86400
        # Set whenever something is queued, so a waiting sender starts at once.
        self.wake = threading.Event()
        self._lock = threading.RLock()
        self._lock_file = (state_dir / "outbox.lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise OutboxBusy(f"{state_dir} is in use by another process") from exc
        self._db = sqlite3.connect(
            state_dir / "outbox.db", isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._recover()

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._lock_file.close()

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ queueing

    def has_key(self, key: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM deliveries WHERE key = ?", (key,)).fetchone()
        return row is not None

    def enqueue_clip(
        self,
        *,
        camera_id: uuid.UUID | str,
        started_at: datetime,
        clip: Path | None = None,
        source_url: str | None = None,
        kind: str = "motion",
        key: str | None = None,
        device_ref: str | None = None,
        move: bool = False,
        not_before_s: float = 0.0,
    ) -> Delivery | None:
        """Queue a clip upload, from a file (copied, or moved with ``move``) or fetched
        from ``source_url`` when it is sent. None when ``key`` was seen before."""
        return self._enqueue(
            action=CLIP,
            camera_id=camera_id,
            kind=kind,
            key=key,
            device_ref=device_ref,
            started_at=started_at,
            clip=clip,
            source_url=source_url,
            move=move,
            not_before_s=not_before_s,
        )

    def enqueue_event(
        self,
        *,
        camera_id: uuid.UUID | str,
        started_at: datetime,
        ended_at: datetime,
        kind: str = "motion",
        key: str | None = None,
        device_ref: str | None = None,
    ) -> Delivery | None:
        """Queue a local-first event report. None when ``key`` was seen before."""
        return self._enqueue(
            action=EVENT,
            camera_id=camera_id,
            kind=kind,
            key=key,
            device_ref=device_ref,
            started_at=started_at,
            ended_at=ended_at,
        )

    def enqueue_fulfil(
        self,
        *,
        camera_id: uuid.UUID | str,
        evidence_id: uuid.UUID | str,
        clip: Path | None = None,
        source_url: str | None = None,
    ) -> Delivery | None:
        """Queue the file of a shared local-first event, once per evidence id."""
        return self._enqueue(
            action=FULFIL,
            camera_id=camera_id,
            kind="motion",
            key=f"fulfil:{evidence_id}",
            evidence_id=str(evidence_id),
            clip=clip,
            source_url=source_url,
        )

    def _enqueue(
        self,
        *,
        action: str,
        camera_id: uuid.UUID | str,
        kind: str,
        key: str | None,
        device_ref: str | None = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        evidence_id: str | None = None,
        clip: Path | None = None,
        source_url: str | None = None,
        move: bool = False,
        not_before_s: float = 0.0,
    ) -> Delivery | None:
        if action in (CLIP, FULFIL) and (clip is None) == (source_url is None):
            raise ValueError("give either a clip file or a source URL")
        if key is not None and self.has_key(key):
            return None
        item_id = uuid.uuid4().hex
        clip_file = self._place(clip, item_id, move=move) if clip is not None else None
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, key, camera_id, action, kind, started_at,"
                " ended_at, device_ref, evidence_id, clip_file, source_url, status,"
                " next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    item_id,
                    key,
                    str(camera_id),
                    action,
                    kind,
                    started_at.isoformat() if started_at else None,
                    ended_at.isoformat() if ended_at else None,
                    device_ref,
                    evidence_id,
                    clip_file,
                    source_url,
                    QUEUED,
                    now + not_before_s,
                    now,
                ),
            )
            inserted = cursor.rowcount == 1
        if not inserted:  # the same key, queued by another thread in between
            if clip_file:
                (self.clips_dir / clip_file).unlink(missing_ok=True)
            return None
        log.info("outbox_queued", id=item_id, key=key, action=action, camera_id=str(camera_id))
        self.wake.set()
        return self.get(item_id)

    def _place(self, clip: Path, item_id: str, *, move: bool) -> str:
        name = f"{item_id}.mp4"
        target = self.clips_dir / name
        if move:
            with contextlib.suppress(OSError):
                os.replace(clip, target)
                fsync_dir(self.clips_dir)
                return name
        partial = self.clips_dir / f"{item_id}.part"
        shutil.copyfile(clip, partial)
        with partial.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, target)
        fsync_dir(self.clips_dir)
        if move:
            clip.unlink(missing_ok=True)
        return name

    # ------------------------------------------------------------ reading

    def get(self, item_id: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM deliveries WHERE id = ?", (item_id,)).fetchone()
        return Delivery.from_row(row) if row else None

    def items(self, status: str | None = None) -> list[Delivery]:
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT * FROM deliveries ORDER BY created_at").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM deliveries WHERE status = ? ORDER BY created_at", (status,)
                ).fetchall()
        return [Delivery.from_row(r) for r in rows]

    def count(self, status: str = QUEUED) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM deliveries WHERE status = ?", (status,)
            ).fetchone()
        return int(row[0])

    def _update(self, item_id: str, **fields: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(
                f"UPDATE deliveries SET {columns} WHERE id = ?",  # noqa: S608
                (*fields.values(), item_id),
            )

    @contextlib.contextmanager
    def _one_write(self) -> Iterator[None]:
        """The updates inside the block in one SQLite transaction: all or none, one fsync."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def retry_failed(self) -> int:
        """Queue every failed item again (after fixing what refused it)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE deliveries SET status = ?, next_attempt_at = ?, source_failures = 0"
                " WHERE status = ?",
                (QUEUED, time.time(), FAILED),
            )
        self.wake.set()
        return cursor.rowcount

    def _next_due_in(self, ceiling: float) -> float:
        with self._lock:
            row = self._db.execute(
                "SELECT min(next_attempt_at) FROM deliveries WHERE status = ?", (QUEUED,)
            ).fetchone()
        due: float | None = row[0]
        if due is None:
            return ceiling
        return max(0.01, min(ceiling, due - time.time()))

    # ------------------------------------------------------------ upkeep

    def forget_finished(self) -> int:
        """Drop items delivered or failed more than ``remember_days`` ago (their keys with
        them) and a failed item's clip; returns how many went."""
        cutoff = time.time() - self.remember_s
        finished = "status IN (?, ?) AND finished_at < ?"
        with self._lock:
            rows = self._db.execute(
                f"SELECT clip_file FROM deliveries WHERE {finished}",  # noqa: S608
                (DELIVERED, FAILED, cutoff),
            ).fetchall()
            self._db.execute(
                f"DELETE FROM deliveries WHERE {finished}",  # noqa: S608
                (DELIVERED, FAILED, cutoff),
            )
        for row in rows:
            if row[0]:
                (self.clips_dir / row[0]).unlink(missing_ok=True)
        return len(rows)

    def _recover(self) -> None:
        """At start, alone on the state dir: sends a crash cut short may have reached the
        server; files without a row (placed, then the process died) go."""
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET in_flight = 0, maybe_sent = 1 WHERE in_flight = 1"
            )
        self.forget_finished()
        with self._lock:
            wanted = {
                r[0]
                for r in self._db.execute(
                    "SELECT clip_file FROM deliveries WHERE clip_file IS NOT NULL AND status != ?",
                    (DELIVERED,),
                )
            }
        for path in self.clips_dir.iterdir():
            if path.name not in wanted:
                path.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
