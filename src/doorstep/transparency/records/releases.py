"""Releases of an accountability dataset: each import is one, loaded in the caller's
single transaction (nothing half-imported is left), and can be withdrawn.

An incident is identified by the dataset's id, or by its content without one (the
n-th identical row of a file is the n-th such incident), never by its line: a release
that inserts a row adds that row only. Rows of one file that share an id are one
incident naming several agencies. A row whose id is known with other content revises
the stored incident (what it said before is kept, and comes back if the revising
release is withdrawn). The same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.db import bulk_insert, utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.transparency.models import (
    AccountabilityAnalysis,
    AccountabilityAttribution,
    AccountabilityImport,
    AccountabilityRecord,
)
from doorstep.transparency.records.matching import AgencyIndex, agency_index, match_agency
from doorstep.transparency.records.names import check_kind, normalize_state, parse_day
from doorstep.transparency.records.presets import AgencyRef, IncidentRow

DATE_NOT_UNDERSTOOD = "date not understood"
ANALYZE_FROM_ROWS = 1000


@dataclass(frozen=True)
class ReleaseInfo:
    kind: str
    source: str
    source_url: str | None = None
    released_on: date | None = None
    sha256: str | None = None


# The counts a release keeps (columns of ``AccountabilityImport``). Matched: the
# incidents added or revised whose every agency matched and whose date was understood;
# for review: the others (kept, listed by the review).
COUNTS = ("rows_read", "rows_added", "rows_matched", "rows_for_review",
          "rows_already_loaded", "rows_revised")  # fmt: skip


@dataclass
class ImportResult:
    """The release as loaded (not stored when ``same_file_as``: the release this very
    file was already imported as, and then nothing is added)."""

    release: AccountabilityImport
    same_file_as: uuid.UUID | None = None


class _Stored(NamedTuple):
    id: int | None
    content_hash: str | None
    withdrawn: bool


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_public(
    session: Session,
    action: audit.AuditAction,
    subject: AccountabilityImport | AccountabilityAnalysis,
    details: dict[str, Any],
    actor: audit.Actor | None = None,
) -> None:
    """Audit a dataset action on a release or an analysis: public, by ``actor`` (the
    command line when None)."""
    kind = "import" if isinstance(subject, AccountabilityImport) else "analysis"
    audit.record(
        session=session, actor=actor or audit.Actor.system("cli"), action=action,
        subject_type=f"accountability_{kind}", subject_id=subject.id,
        is_public=True, details=details,
    )  # fmt: skip


def merge_by_id(rows: Iterable[IncidentRow]) -> list[IncidentRow]:
    """Rows that share the dataset's id are one incident naming all their agencies."""
    out: list[IncidentRow] = []
    position: dict[str, int] = {}
    for row in rows:
        at = position.get(row.external_id) if row.external_id is not None else None
        if at is None:
            if row.external_id is not None:
                position[row.external_id] = len(out)
            out.append(row)
            continue
        first = out[at]
        extra = tuple(a for a in row.agencies if a not in first.agencies)
        out[at] = IncidentRow(first.number, first.external_id, first.date_text,
                              first.state_text, first.agencies + extra)  # fmt: skip
    return out


def _content(row: IncidentRow) -> str:
    agencies = "\0".join(
        f"{a.name}\x1f{a.state_text}\x1f{a.source_id or ''}\x1f{a.ori_codes or ''}"
        for a in row.agencies
    )
    return f"{row.date_text}\0{row.state_text}\0{agencies}"


def _keys(row: IncidentRow, seen: Counter[str]) -> tuple[str, str]:
    content = _content(row)
    content_hash = hashlib.sha256(content.encode()).hexdigest()
    if row.external_id:
        return hashlib.sha256(f"id\0{row.external_id}".encode()).hexdigest(), content_hash
    seen[content] += 1
    key = f"row\0{content}\0{seen[content]}"
    return hashlib.sha256(key.encode()).hexdigest(), content_hash


def _record_values(row: IncidentRow, content_hash: str) -> dict[str, Any]:
    day = parse_day(row.date_text)
    return {
        "external_id": (row.external_id or "")[:120] or None,
        "row_number": row.number,
        "agency_name": "; ".join(a.name for a in row.agencies)[:300],
        "state_text": row.state_text[:60],
        "state": normalize_state(row.state_text),
        "occurred_on": day,
        "date_text": row.date_text[:60],
        "review_note": None if day else DATE_NOT_UNDERSTOOD,
        "content_hash": content_hash,
    }


def _attribution_values(ref: AgencyRef, index: AgencyIndex) -> dict[str, Any]:
    state = normalize_state(ref.state_text)
    agency_id, note = match_agency(
        index, name=ref.name, state=state, source_id=ref.source_id, ori_codes=ref.ori_codes
    )
    return {
        "agency_name": ref.name[:300],
        "state_text": ref.state_text[:60],
        "state": state,
        "source_agency_id": (ref.source_id or "")[:40] or None,
        "ori_codes": (ref.ori_codes or "")[:500] or None,
        "agency_id": agency_id,
        "review_note": note,
    }


def _stored(session: Session, kind: str) -> dict[str, _Stored]:
    rows = session.execute(
        select(
            AccountabilityRecord.fingerprint,
            AccountabilityRecord.id,
            AccountabilityRecord.content_hash,
            AccountabilityImport.withdrawn_at,
        )
        .join(AccountabilityImport, AccountabilityImport.id == AccountabilityRecord.import_id)
        .where(AccountabilityRecord.kind == kind)
    )
    return {fp: _Stored(rid, ch, w is not None) for fp, rid, ch, w in rows}


Prepared = tuple[dict[str, Any], list[dict[str, Any]]]


def _insert(session: Session, import_id: uuid.UUID, kind: str, new: list[Prepared]) -> None:
    """By the database's fastest path (COPY on PostgreSQL): the ORM's per-row RETURNING
    took 12 s for the Post's 10,000 rows. The new ids are read back by fingerprint."""
    if not new:
        return
    now = utcnow()
    bulk_insert(session, AccountabilityRecord,
                [{**values, "import_id": import_id, "kind": kind, "created_at": now}
                 for values, _ in new])  # fmt: skip
    stored = select(AccountabilityRecord.fingerprint, AccountabilityRecord.id)
    ids = {
        fp: rid
        for fp, rid in session.execute(stored.where(AccountabilityRecord.import_id == import_id))
    }
    bulk_insert(session, AccountabilityAttribution,
                [{**a, "record_id": ids[values["fingerprint"]]}
                 for values, agencies in new for a in agencies])  # fmt: skip
    if session.get_bind().dialect.name == "postgresql" and len(new) >= ANALYZE_FROM_ROWS:
        # Fresh statistics: planned on the empty tables' ones, the review's join took
        # 3.7 s instead of 0.1 s on the Post's file.
        session.execute(text("ANALYZE accountability_records, accountability_attributions"))


def _snapshot(
    record: AccountabilityRecord, agencies: list[AccountabilityAttribution]
) -> dict[str, Any]:
    return {
        "row_number": record.row_number,
        "date_text": record.date_text,
        "state_text": record.state_text,
        "content_hash": record.content_hash,
        "agencies": [[a.agency_name, a.state_text, a.source_agency_id, a.ori_codes]
                     for a in agencies],
    }  # fmt: skip


def _replace(
    session: Session, record: AccountabilityRecord, values: dict[str, Any],
    agencies: list[dict[str, Any]],
) -> None:  # fmt: skip
    session.execute(
        delete(AccountabilityAttribution).where(AccountabilityAttribution.record_id == record.id)
    )
    for key, value in values.items():
        setattr(record, key, value)
    session.add_all(AccountabilityAttribution(record_id=record.id, **a) for a in agencies)


def _revise(
    session: Session, import_id: uuid.UUID, revised: list[tuple[_Stored, Prepared]]
) -> None:
    for stored, (values, agencies) in revised:
        record = session.get_one(AccountabilityRecord, stored.id)
        if stored.withdrawn:  # its release was withdrawn: this one adds it again
            record.import_id, record.revised_import_id, record.previous = import_id, None, None
        else:
            old = list(session.scalars(select(AccountabilityAttribution)
                       .where(AccountabilityAttribution.record_id == record.id)))  # fmt: skip
            record.previous = _snapshot(record, old)
            record.revised_import_id = import_id
        _replace(session, record, values, agencies)


def _same_file(session: Session, kind: str, sha256: str | None) -> uuid.UUID | None:
    if sha256 is None:
        return None
    return session.scalar(
        select(AccountabilityImport.id).where(
            AccountabilityImport.kind == kind,
            AccountabilityImport.sha256 == sha256,
            AccountabilityImport.withdrawn_at.is_(None),
        )
    )


def _set_counts(batch: AccountabilityImport, counts: Counter[str]) -> None:
    for key in COUNTS:
        setattr(batch, key, counts[key])


def import_release(
    *, session: Session, rows: Iterable[IncidentRow], release: ReleaseInfo
) -> ImportResult:
    """Load one release of a dataset; every incident is stored, each of its agencies
    matched or kept for review. Guarantees: see the module; the load is audited
    (public) with its counts, and is all in the caller's transaction."""
    kind = check_kind(release.kind)
    incidents = merge_by_id(rows)
    batch = AccountabilityImport(
        kind=kind, source=release.source[:300], source_url=release.source_url,
        released_on=release.released_on, sha256=release.sha256,
    )  # fmt: skip
    same = _same_file(session, kind, release.sha256)
    if same is not None:
        _set_counts(batch, Counter(rows_read=len(incidents), rows_already_loaded=len(incidents)))
        return ImportResult(batch, same_file_as=same)
    session.add(batch)
    session.flush()
    counts = _load(session, batch, incidents)
    _set_counts(batch, counts)
    details = {k: counts[k] for k in COUNTS}
    record_public(session, audit.AuditAction.ACCOUNTABILITY_IMPORTED, batch, {
        "kind": kind, "source": Path(batch.source).name, "source_url": batch.source_url,
        "released_on": str(batch.released_on) if batch.released_on else None,
        "sha256": batch.sha256, **details,
    })  # fmt: skip
    session.flush()
    return ImportResult(batch)


def _load(
    session: Session, batch: AccountabilityImport, incidents: list[IncidentRow]
) -> Counter[str]:
    index, stored = agency_index(session), _stored(session, batch.kind)
    new: list[Prepared] = []
    revised: list[tuple[_Stored, Prepared]] = []
    seen: Counter[str] = Counter()
    counts: Counter[str] = Counter(rows_read=len(incidents))
    for row in incidents:
        fingerprint, content_hash = _keys(row, seen)
        known = stored.get(fingerprint)
        loaded = known is not None and (known.content_hash == content_hash or known.id is None)
        if loaded and known is not None and not known.withdrawn:
            counts["rows_already_loaded"] += 1
            continue
        values = _record_values(row, content_hash)
        agencies = [_attribution_values(a, index) for a in row.agencies]
        complete = values["occurred_on"] and all(a["agency_id"] for a in agencies)
        counts["rows_matched" if complete else "rows_for_review"] += 1
        if known is None:
            new.append(({**values, "fingerprint": fingerprint}, agencies))
            stored[fingerprint] = _Stored(None, content_hash, withdrawn=False)
        else:
            revised.append((known, (values, agencies)))
            counts["rows_added" if known.withdrawn else "rows_revised"] += 1
    counts["rows_added"] += len(new)
    _insert(session, batch.id, batch.kind, new)
    _revise(session, batch.id, revised)
    return counts


def list_releases(*, session: Session, kind: str | None = None) -> list[AccountabilityImport]:
    """Every release, oldest first (withdrawn ones too: a withdrawal is public)."""
    stmt = select(AccountabilityImport).order_by(AccountabilityImport.imported_at)
    if kind:
        stmt = stmt.where(AccountabilityImport.kind == check_kind(kind))
    return list(session.scalars(stmt))


def _restore(session: Session, record: AccountabilityRecord, index: AgencyIndex) -> None:
    old: dict[str, Any] = dict(record.previous or {})
    refs = [AgencyRef(*a) for a in old.get("agencies", [])]
    row = IncidentRow(int(old["row_number"]), record.external_id, str(old["date_text"]),
                      str(old["state_text"]), tuple(refs))  # fmt: skip
    values = _record_values(row, str(old.get("content_hash") or ""))
    _replace(session, record, values, [_attribution_values(a, index) for a in refs])
    record.previous, record.revised_import_id = None, None


def _admin(actor: User | None) -> audit.Actor | None:
    if actor is None:
        return None
    if actor.role != Role.admin:
        raise Forbidden("Only an instance administrator can withdraw a release.", code="admin_only")
    return actor_of(actor)


def withdraw_release(
    *, session: Session, release_id: uuid.UUID, reason: str, actor: User | None = None
) -> AccountabilityImport:
    """Withdraw a release: the incidents it added leave every figure and the review
    (they stay stored), those it revised say again what they said before. Audited and
    public, with the reason; by an instance admin (``actor``) or the command line."""
    who = _admin(actor)
    batch = session.get(AccountabilityImport, release_id)
    if batch is None:
        raise NotFound("No such release.", code="release_not_found")
    if batch.withdrawn_at is not None:
        raise Conflict("This release is already withdrawn.", code="already_withdrawn")
    if not reason.strip():
        raise InvalidInput("Give a reason; it is published.", code="reason_required")
    batch.withdrawn_at, batch.withdrawn_reason = utcnow(), reason.strip()
    index = agency_index(session)
    revised = list(session.scalars(
        select(AccountabilityRecord).where(AccountabilityRecord.revised_import_id == batch.id)
    ))  # fmt: skip
    for record in revised:
        _restore(session, record, index)
    record_public(session, audit.AuditAction.ACCOUNTABILITY_RELEASE_WITHDRAWN, batch, {
        "kind": batch.kind, "reason": batch.withdrawn_reason,
        "rows_added": batch.rows_added, "rows_restored": len(revised),
    }, who)  # fmt: skip
    session.flush()
    return batch
