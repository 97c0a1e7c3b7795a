"""What the public gets of the audit log: the chain's head, a head hash per day, the
public download, and the check anyone can run on that download.

The download keeps every record's place in the chain (seq, hash, prev_hash, time) and
gives the full content of public records only. A verifier recomputes the hash of each
public record and checks every link, so the chain verifies end to end while private
records reveal nothing but their existence and time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from doorstep.audit import GENESIS_HASH as GENESIS_HASH
from doorstep.audit import AuditRecord, record_hash
from doorstep.db import Database, utcnow
from doorstep.runtime import Runtime
from doorstep.transparency.models import AuditDailyHead

log = structlog.get_logger(__name__)

LOG_FORMAT = "doorstep-audit-log/1"
# The fields a record's hash covers, in the download exactly as in the database.
CONTENT_KEYS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "details",
    "is_public",
    "prev_hash",
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Arbitrary constant naming the PostgreSQL advisory lock of head publication.
_HEADS_LOCK_KEY = 7_340_022
_BATCH = 5000


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str
    at: datetime


def current_head(*, session: Session) -> ChainHead | None:
    """The newest record of the chain (None while the log is empty)."""
    row = session.execute(
        select(AuditRecord.seq, AuditRecord.hash, AuditRecord.at)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).first()
    return ChainHead(seq=row[0], hash=row[1], at=row[2]) if row else None


def daily_heads(*, session: Session, limit: int | None = None) -> list[AuditDailyHead]:
    """Published daily heads, newest first."""
    stmt = select(AuditDailyHead).order_by(AuditDailyHead.day.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def heads_up_to_date(*, session: Session, limit: int | None = None) -> list[AuditDailyHead]:
    """The published daily heads, newest first, with every day that has passed published
    first: a page shows yesterday's head as soon as the day is over, without waiting for
    the worker's hourly task (which does the same when nobody looks)."""
    newest = daily_heads(session=session, limit=1)
    yesterday = utcnow().date() - timedelta(days=1)
    if not newest or newest[0].day < yesterday:
        publish_daily_heads(session=session)
    return daily_heads(session=session, limit=limit)


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, UTC)


def _holds_heads_lock(session: Session) -> bool:
    """On PostgreSQL, whether this transaction got the publication lock (another worker
    publishing at the same time gives way); SQLite serializes writers itself."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _HEADS_LOCK_KEY}
        ).scalar()
    )


@dataclass
class _HeadWalk:
    """Where publication stands: the last verified record and the first day not published."""

    seq: int
    head_hash: str
    day: date
    published: list[AuditDailyHead] = field(default_factory=list)

    def publish_until(self, session: Session, before: date) -> None:
        """Publish the current head for every day before ``before`` (none while empty)."""
        while self.day < before:
            if self.seq > 0:
                head = AuditDailyHead(day=self.day, seq=self.seq, head_hash=self.head_hash)
                session.add(head)
                self.published.append(head)
            self.day += timedelta(days=1)


def _resume(session: Session, today: date) -> _HeadWalk | None:
    """Where to go on from: after the last published head, or from the first record's day;
    None when there is nothing to publish or the last published head left the chain."""
    last = session.scalars(
        select(AuditDailyHead).order_by(AuditDailyHead.day.desc()).limit(1)
    ).first()
    if last is not None:
        if last.day >= today - timedelta(days=1):
            return None
        anchor = session.get(AuditRecord, last.seq)
        if anchor is None or anchor.hash != last.head_hash:
            log.error("audit.chain_broken", seq=last.seq, problem="published head changed")
            return None
        return _HeadWalk(last.seq, last.head_hash, last.day + timedelta(days=1))
    first = session.execute(
        select(AuditRecord.seq, AuditRecord.at).order_by(AuditRecord.seq).limit(1)
    ).first()
    if first is None or first[1] >= datetime.combine(today, time.min, UTC):
        return None
    return _HeadWalk(0, GENESIS_HASH, first[1].date())


def _verify_and_publish(session: Session, walk: _HeadWalk, today_start: datetime) -> bool:
    """Verify the records written before today after ``walk``'s head, batch by batch,
    publishing each day's head as a later day's record closes it; False at the first
    broken link or hash."""
    while True:
        rows = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq > walk.seq, AuditRecord.at < today_start)
                .order_by(AuditRecord.seq)
                .limit(_BATCH)
            )
        )
        if not rows:
            return True
        for row in rows:
            if (
                row.seq != walk.seq + 1
                or row.prev_hash != walk.head_hash
                or record_hash(row) != row.hash
            ):
                log.error("audit.chain_broken", seq=walk.seq + 1, problem="link or hash mismatch")
                return False
            # A record written on a later day closes every day before it.
            walk.publish_until(session, row.at.date())
            walk.seq, walk.head_hash = row.seq, row.hash
        session.flush()  # the heads added so far; then let the batch's records go
        for row in rows:
            session.expunge(row)


def publish_daily_heads(*, session: Session, today: date | None = None) -> list[AuditDailyHead]:
    """Publish the head of every complete UTC day not yet published.

    Guarantees: only days before ``today`` are published, each once; the records
    added since the last published head are verified first (links and hashes), and
    the last published head must still be in the chain. When a check fails nothing
    past the last good day is published and ``audit.chain_broken`` is logged.
    """
    if not _holds_heads_lock(session):
        return []
    today = today or utcnow().date()
    walk = _resume(session, today)
    if walk is None:
        return []
    if _verify_and_publish(session, walk, datetime.combine(today, time.min, UTC)):
        walk.publish_until(session, today)
    session.flush()
    return walk.published


def publish_daily_head(runtime: Runtime) -> int:
    """Periodic task (worker): publish the heads of finished days; returns how many."""
    with runtime.db.transaction() as session:
        return len(publish_daily_heads(session=session))


# ---------------------------------------------------------------- the public download


def public_line(row: AuditRecord) -> dict[str, Any]:
    """One record as the download shows it: full content when public, else only its place."""
    at = row.at.isoformat(timespec="microseconds")
    if not row.is_public:
        return {
            "seq": row.seq,
            "at": at,
            "is_public": False,
            "prev_hash": row.prev_hash,
            "hash": row.hash,
        }
    return {
        "seq": row.seq,
        "at": at,
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "actor_label": row.actor_label,
        "action": row.action,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "details": row.details,
        "is_public": True,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def public_log_header(*, session: Session) -> dict[str, Any]:
    """The download's first line: its format and the head it ends at."""
    head = current_head(session=session)
    return {
        "format": LOG_FORMAT,
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "genesis_hash": GENESIS_HASH,
        "head_seq": head.seq if head else 0,
        "head_hash": head.hash if head else GENESIS_HASH,
    }


def public_log_batch(
    *, session: Session, after_seq: int, head_seq: int, limit: int = _BATCH
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.seq > after_seq, AuditRecord.seq <= head_seq)
        .order_by(AuditRecord.seq)
        .limit(limit)
    )
    return [public_line(row) for row in rows]


def stream_public_log(db: Database, *, batch: int = _BATCH) -> Iterator[str]:
    """The public log as JSON lines: a header naming the head, then every record up to
    that head in order, so the file is one consistent prefix of the chain even while
    records are appended. Each batch is read in its own short transaction."""
    with db.transaction() as session:
        header = public_log_header(session=session)
    yield json.dumps(header, sort_keys=True) + "\n"
    last, head_seq = 0, int(header["head_seq"])
    while last < head_seq:
        with db.transaction() as session:
            lines = public_log_batch(
                session=session, after_seq=last, head_seq=head_seq, limit=batch
            )
        if not lines:
            return
        for line in lines:
            yield json.dumps(line, sort_keys=True, ensure_ascii=True) + "\n"
        last = int(lines[-1]["seq"])


# ---------------------------------------------------------------- verifying a download


@dataclass(frozen=True)
class DownloadCheck:
    ok: bool
    records: int
    public_records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def content_hash(line: dict[str, Any]) -> str:
    """SHA-256 of a public record's canonical content (the procedure on /transparency/audit)."""
    content = {key: line.get(key) for key in CONTENT_KEYS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _DownloadWalk:
    """How far a download has been checked: the record expected next and the last hash."""

    published_heads: dict[int, str]
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    count: int = 0
    public: int = 0

    def broken(self, seq: int, problem: str) -> DownloadCheck:
        return DownloadCheck(
            False, self.count, self.public, self.expected_seq - 1, self.prev_hash, seq, problem
        )

    def step(self, line: dict[str, Any], number: int) -> DownloadCheck | None:
        """Check the record on line ``number`` and go past it; the failure, if any."""
        seq = line.get("seq")
        if not isinstance(seq, int):
            return self.broken(self.expected_seq, f"line {number} has no record number")
        if seq != self.expected_seq:
            where = "missing" if seq > self.expected_seq else "out of order"
            return self.broken(
                min(seq, self.expected_seq),
                f"record {self.expected_seq} is {where} (line {number} holds record {seq})",
            )
        record_hash_ = str(line.get("hash", ""))
        if line.get("prev_hash") != self.prev_hash:
            return self.broken(
                seq,
                f"record {seq} does not follow record {seq - 1} (removed, reordered or replaced)",
            )
        if not _HEX64.match(record_hash_):
            return self.broken(seq, f"record {seq} has no valid hash")
        if line.get("is_public") is True:
            if content_hash(line) != record_hash_:
                return self.broken(seq, f"record {seq} was changed after it was written")
            self.public += 1
        if seq in self.published_heads and self.published_heads[seq] != record_hash_:
            return self.broken(seq, f"record {seq} does not match the published head for it")
        self.prev_hash, self.expected_seq = record_hash_, self.expected_seq + 1
        self.count += 1
        return None

    def finish(self, header: dict[str, Any] | None) -> DownloadCheck:
        """The result once every line is read: the file must reach the head it names and
        every published head given."""
        last_seq = self.expected_seq - 1
        if header is not None:
            head_seq, head_hash = int(header.get("head_seq", 0)), str(header.get("head_hash", ""))
            if head_seq > last_seq:
                return self.broken(
                    last_seq + 1, f"records {last_seq + 1} to {head_seq} are missing"
                )
            if head_seq == last_seq and head_hash != self.prev_hash:
                return self.broken(last_seq, f"record {last_seq} is not the head the file names")
        beyond = sorted(s for s in self.published_heads if s > last_seq)
        if beyond:
            return self.broken(
                last_seq + 1, f"the log ends before published head record {beyond[0]}"
            )
        return DownloadCheck(True, self.count, self.public, last_seq, self.prev_hash)


def verify_public_log(
    lines: Iterable[str], *, published_heads: dict[int, str] | None = None
) -> DownloadCheck:
    """Check a downloaded public log without the database.

    Every public record's hash is recomputed; every record must follow the one before
    it (seq + 1, prev_hash = the previous hash), from the genesis hash; the last record
    must be the head the file names; each published head given must be in the chain.
    The first problem found is named by its record.
    """
    walk = _DownloadWalk(published_heads or {})
    header: dict[str, Any] | None = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            return walk.broken(walk.expected_seq, f"line {number} is not valid JSON")
        if not isinstance(line, dict):
            return walk.broken(walk.expected_seq, f"line {number} is not a JSON object")
        if "format" in line and header is None and walk.count == 0:
            header = line
            continue
        problem = walk.step(line, number)
        if problem is not None:
            return problem
    return walk.finish(header)
