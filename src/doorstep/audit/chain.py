"""The hash-chained, append-only audit log.

Every sensitive change calls :func:`record` inside the transaction that makes
the change, so the record and the change commit or fail together.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from doorstep.audit.actions import AuditAction
from doorstep.audit.models import AuditRecord
from doorstep.db import utcnow

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serializes appends.
_CHAIN_LOCK_KEY = 7_340_021


@dataclass(frozen=True)
class Actor:
    """Who did something: a user (with a label shown in the log) or the system."""

    id: uuid.UUID | None
    label: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(id=None, label=label)


def canonical_content(
    *,
    seq: int,
    at: datetime,
    actor_id: uuid.UUID | None,
    actor_label: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
    is_public: bool,
    prev_hash: str,
) -> bytes:
    """The exact bytes a record's hash covers; documented for outside verifiers."""
    content = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": str(actor_id) if actor_id else None,
        "actor_label": actor_label,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
        "is_public": is_public,
        "prev_hash": prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(record: AuditRecord) -> str:
    return hashlib.sha256(
        canonical_content(
            seq=record.seq,
            at=record.at,
            actor_id=record.actor_id,
            actor_label=record.actor_label,
            action=record.action,
            subject_type=record.subject_type,
            subject_id=record.subject_id,
            details=record.details,
            is_public=record.is_public,
            prev_hash=record.prev_hash,
        )
    ).hexdigest()


def record(
    *,
    session: Session,
    actor: Actor,
    action: AuditAction,
    subject_type: str,
    subject_id: str | uuid.UUID,
    details: dict[str, Any] | None = None,
    is_public: bool = False,
) -> AuditRecord:
    """Append one record to the chain, in the caller's transaction.

    Appends are serialized (an advisory lock on PostgreSQL; SQLite transactions
    here take the write lock at BEGIN), so the chain never forks.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    # Round-trip through JSON so the hashed form equals what the database gives back.
    clean_details = json.loads(json.dumps(details or {}, sort_keys=True, default=str))
    entry = AuditRecord(
        seq=seq,
        at=utcnow(),
        actor_id=actor.id,
        actor_label=actor.label,
        action=action.value,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=clean_details,
        is_public=is_public,
        prev_hash=prev_hash,
    )
    entry.hash = record_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    records: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(*, session: Session, batch: int = 5000) -> ChainCheck:
    """Walk the whole chain and name the first record that was changed, removed or reordered."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditRecord)
                .where(AuditRecord.seq > last_seq)
                .order_by(AuditRecord.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return ChainCheck(ok=True, records=count, head_hash=prev_hash)
        for row in rows:
            if row.seq != expected_seq:
                return ChainCheck(
                    ok=False,
                    records=count,
                    head_hash=prev_hash,
                    first_bad_seq=expected_seq,
                    problem=f"record {expected_seq} is missing (next present is {row.seq})",
                )
            if row.prev_hash != prev_hash:
                return ChainCheck(
                    ok=False,
                    records=count,
                    head_hash=prev_hash,
                    first_bad_seq=row.seq,
                    problem=f"record {row.seq} does not follow record {row.seq - 1} "
                    "(removed, reordered or replaced)",
                )
            if record_hash(row) != row.hash:
                return ChainCheck(
                    ok=False,
                    records=count,
                    head_hash=prev_hash,
                    first_bad_seq=row.seq,
                    problem=f"record {row.seq} was changed after it was written",
                )
            prev_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1
        last_seq = rows[-1].seq
        session.expunge_all()
