"""Evidence: what an agency receives. Every read checks the SHA-256; every view and export
is logged for the owner and audited in public; export bundles verify offline. Device
uploads of shared clips are in :mod:`doorstep.footage.uploads`.

The list of a request's evidence joins the users table for the sharers' names (when
they chose to show them): a read model of the accounts domain, for speed (one query
for every clip of a request).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import User
from doorstep.accounts.service import actor_of
from doorstep.db import after_commit, undo_on_rollback, utcnow
from doorstep.errors import Conflict, DoorstepError, NotFound
from doorstep.footage import redaction
from doorstep.footage import service as request_service
from doorstep.footage.models import (
    Evidence,
    EvidenceAccess,
    EvidenceStatus,
    FootageRequest,
    Recipient,
)
from doorstep.media.storage import MediaStorage


class EvidenceTampered(DoorstepError):
    status_code = 409
    code = "evidence_hash_mismatch"


@dataclass
class EvidenceView:
    evidence: Evidence
    shared_by: str  # "Neighbor N", or the owner's name and email when he chose to show them


def _shared_by(recipient: Recipient, owner: User) -> str:
    if recipient.reveal_identity:
        return f"{owner.display_name} <{owner.email}>"
    return f"Neighbor {recipient.neighbor_number}"


def list_evidence(*, session: Session, actor: User, request_id: uuid.UUID) -> list[EvidenceView]:
    """The shared clips of one of the actor's agency's requests (available ones only)."""
    request = request_service.get_agency_request(
        session=session, actor=actor, request_id=request_id
    )
    rows = session.execute(
        select(Evidence, Recipient, User)
        .join(Recipient, Recipient.id == Evidence.recipient_id)
        .join(User, User.id == Recipient.owner_id)
        .where(Evidence.request_id == request.id, Evidence.status == EvidenceStatus.available)
        .order_by(Evidence.started_at)
    ).all()
    return [EvidenceView(r[0], _shared_by(r[1], r[2])) for r in rows]


def _agency_evidence(
    session: Session, actor: User, evidence_id: uuid.UUID
) -> tuple[Evidence, FootageRequest]:
    row = session.execute(
        select(Evidence, FootageRequest)
        .join(FootageRequest, FootageRequest.id == Evidence.request_id)
        .where(Evidence.id == evidence_id)
    ).first()
    if row is None:
        raise NotFound("No such evidence.", code="evidence_not_found")
    # Raises for members of another agency.
    request_service.get_agency_request(session=session, actor=actor, request_id=row[1].id)
    if row[0].status != EvidenceStatus.available or not row[0].storage_key:
        raise NotFound("This evidence is not available.", code="evidence_not_available")
    return row[0], row[1]


def verify_stored(storage: MediaStorage, item: Evidence) -> None:
    """Recompute the stored file's SHA-256; a mismatch means it was altered."""
    assert item.storage_key is not None
    digest = hashlib.sha256()
    for chunk in storage.open_range(item.storage_key):
        digest.update(chunk)
    if digest.hexdigest() != item.sha256:
        raise EvidenceTampered(
            "This evidence file does not match the SHA-256 recorded when it was shared; it "
            "was altered and is withheld.",
            evidence_id=str(item.id),
        )


# Evidence access rows name the access ("viewed", "exported"); the audit log names the action.
_ACCESS_ACTIONS = {
    "viewed": audit.AuditAction.EVIDENCE_VIEWED,
    "exported": audit.AuditAction.EVIDENCE_EXPORTED,
}


def _log_access(
    session: Session, actor: User, item: Evidence, request: FootageRequest, action: str
) -> None:
    session.add(
        EvidenceAccess(
            evidence_id=item.id, user_id=actor.id, agency_id=request.agency_id, action=action
        )
    )
    if item.first_opened_at is None:
        item.first_opened_at = utcnow()
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=_ACCESS_ACTIONS[action],
        subject_type="evidence",
        subject_id=item.id,
        is_public=True,
        details={"request_id": str(request.id), "agency_id": str(request.agency_id)},
    )


# A player reads one clip in several ranges; reads by the same person within this span
# of his logged view belong to that view.
VIEW_SPAN = timedelta(minutes=30)


def open_evidence(
    *,
    session: Session,
    storage: MediaStorage,
    actor: User,
    evidence_id: uuid.UUID,
    new_view: bool = True,
) -> Evidence:
    """Read one clip: its hash is checked on every read, and every read is accounted to a
    logged view of this person — a new one unless it continues his view of the last
    30 minutes. After the first view, the owner's share is final."""
    item, request = _agency_evidence(session, actor, evidence_id)
    verify_stored(storage, item)
    recent = session.scalar(
        select(EvidenceAccess.id)
        .where(
            EvidenceAccess.evidence_id == item.id,
            EvidenceAccess.user_id == actor.id,
            EvidenceAccess.action == "viewed",
            EvidenceAccess.at >= utcnow() - VIEW_SPAN,
        )
        .limit(1)
    )
    if new_view or recent is None:
        _log_access(session, actor, item, request, "viewed")
    session.flush()
    return item


def set_hold(*, session: Session, actor: User, request_id: uuid.UUID, held: bool) -> int:
    """Hold a request's evidence for a case (kept past the retention) or release it. Audited."""
    request = request_service.get_agency_request(
        session=session, actor=actor, request_id=request_id
    )
    items = list(session.scalars(select(Evidence).where(Evidence.request_id == request.id)))
    for item in items:
        item.held_for_case = held
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=audit.AuditAction.EVIDENCE_HELD if held else audit.AuditAction.EVIDENCE_RELEASED,
        subject_type="footage_request",
        subject_id=request.id,
        is_public=True,
        details={"agency_id": str(request.agency_id), "items": len(items)},
    )
    session.flush()
    return len(items)


def custody_log(*, session: Session, item: Evidence) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [{"at": item.shared_at.isoformat(), "event": "shared"}]
    if item.uploaded_at:
        entries.append(
            {"at": item.uploaded_at.isoformat(), "event": "stored", "sha256": item.sha256}
        )
    for access in session.scalars(
        select(EvidenceAccess)
        .where(EvidenceAccess.evidence_id == item.id)
        .order_by(EvidenceAccess.at)
    ):
        entries.append(
            {"at": access.at.isoformat(), "event": access.action, "user_id": str(access.user_id)}
        )
    return entries


def export_bundle(
    *,
    session: Session,
    storage: MediaStorage,
    actor: User,
    request_id: uuid.UUID,
    directory: Path | None = None,
) -> Path:
    """A ZIP with the clips, manifest.json (SHA-256 and size of each), the request and the
    chain-of-custody log. Every clip's hash is checked first; the export is logged."""
    request = request_service.get_agency_request(
        session=session, actor=actor, request_id=request_id
    )
    views = list_evidence(session=session, actor=actor, request_id=request.id)
    if not views:
        raise Conflict("No shared evidence to export yet.", code="no_evidence")
    for view in views:
        verify_stored(storage, view.evidence)
        _log_access(session, actor, view.evidence, request, "exported")
    session.flush()
    manifest = _manifest(request, actor, views)
    request_doc = _request_document(
        request, request_service.request_counts(session=session, request_id=request.id)
    )
    custody = {str(v.evidence.id): custody_log(session=session, item=v.evidence) for v in views}
    out_dir = directory or Path(tempfile.mkdtemp(prefix="doorstep-export-"))
    path = out_dir / f"evidence-{request.id}.zip"
    # Full copies of the clips: gone if the export fails or its transaction (or the
    # savepoint of the page's form) rolls back.
    undo_on_rollback(
        session,
        partial(shutil.rmtree, out_dir, True) if directory is None else partial(path.unlink, True),
    )
    _write_bundle(path, storage, views, manifest, request_doc, custody)
    return path


def _manifest(request: FootageRequest, actor: User, views: list[EvidenceView]) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "request_id": str(request.id),
        "exported_at": utcnow().isoformat(),
        "exported_by": str(actor.id),
        "files": [
            {
                "path": f"clips/{v.evidence.id}.mp4",
                "sha256": v.evidence.sha256,
                "size_bytes": v.evidence.size_bytes,
                "original_sha256": v.evidence.original_sha256,
                "redaction": v.evidence.redaction,
                "kind": v.evidence.kind,
                "started_at": v.evidence.started_at.isoformat(),
                "ended_at": v.evidence.ended_at.isoformat(),
                "shared_by": v.shared_by,
            }
            for v in views
        ],
    }


def _request_document(
    request: FootageRequest, counts: request_service.RequestCounts
) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "agency_id": str(request.agency_id),
        "case_number": request.case_number,
        "incident_type": request.incident_type.value,
        "message": request.message,
        "investigator_contact": request.investigator_contact,
        "window_start": request.window_start.isoformat(),
        "window_end": request.window_end.isoformat(),
        "area": request.area,
        "status": request.status.value,
        "counts": {
            "asked": counts.asked,
            "shared": counts.shared,
            "declined": counts.declined,
            "no_answer": counts.no_answer,
        },
    }


def _write_bundle(
    path: Path,
    storage: MediaStorage,
    views: list[EvidenceView],
    manifest: dict[str, Any],
    request_doc: dict[str, Any],
    custody: dict[str, Any],
) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as bundle:
        for view in views:
            assert view.evidence.storage_key is not None
            with bundle.open(f"clips/{view.evidence.id}.mp4", "w") as out:
                for chunk in storage.open_range(view.evidence.storage_key):
                    out.write(chunk)
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2))
        bundle.writestr("request.json", json.dumps(request_doc, indent=2))
        bundle.writestr("custody.json", json.dumps(custody, indent=2))


BUNDLE_FORMAT = "doorstep-evidence-bundle/2"
"""Version 2: every clip is a redacted copy, with its redaction manifest."""


@dataclass(frozen=True)
class BundleCheck:
    ok: bool
    files: int
    problems: list[str]


def verify_bundle(path: Path) -> BundleCheck:
    """Check an export bundle offline: every listed clip present, same size, same SHA-256,
    its redaction manifest consistent with it (both hashes, the detectors), and no clip
    that the manifest does not list."""
    problems: list[str] = []
    try:
        bundle = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return BundleCheck(False, 0, [f"not a readable ZIP file: {exc}"])
    with bundle:
        names = set(bundle.namelist())
        for required in ("manifest.json", "request.json", "custody.json"):
            if required not in names:
                problems.append(f"{required} is missing")
        if "manifest.json" not in names:
            return BundleCheck(False, 0, problems)
        manifest = json.loads(bundle.read("manifest.json"))
        listed = {f["path"] for f in manifest.get("files", [])}
        for entry in manifest.get("files", []):
            if entry["path"] not in names:
                problems.append(f"{entry['path']} is listed but missing")
                continue
            digest, size = hashlib.sha256(), 0
            with bundle.open(entry["path"]) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
            if size != entry["size_bytes"]:
                problems.append(
                    f"{entry['path']}: {size} bytes, manifest says {entry['size_bytes']}"
                )
            if digest.hexdigest() != entry["sha256"]:
                problems.append(f"{entry['path']}: SHA-256 does not match the manifest")
            if manifest.get("format") == BUNDLE_FORMAT:
                problems.extend(redaction.check_manifest(entry, digest.hexdigest()))
        for extra in sorted(n for n in names if n.startswith("clips/") and n not in listed):
            problems.append(f"{extra} is not listed in the manifest")
        return BundleCheck(not problems, len(listed), problems)


def sweep_evidence_retention(*, session: Session, storage: MediaStorage, batch: int = 500) -> int:
    """Delete evidence past the policy's retention unless held for a case: files go."""
    now = utcnow()
    items = list(
        session.scalars(
            select(Evidence)
            .where(
                Evidence.status.in_([EvidenceStatus.available, EvidenceStatus.pending_upload]),
                Evidence.held_for_case.is_(False),
                Evidence.delete_after <= now,
            )
            .limit(batch)
        )
    )
    for item in items:
        if item.storage_key:
            # Once the deletion commits; a failing file delete is logged then, and does
            # not stall the others.
            after_commit(session, partial(storage.delete, item.storage_key))
        item.storage_key = None
        item.status, item.deleted_at = EvidenceStatus.deleted, now
    deleted = len(items)
    if deleted:
        audit.record(
            session=session,
            actor=audit.Actor.system("retention"),
            action=audit.AuditAction.EVIDENCE_RETENTION_DELETED,
            subject_type="instance",
            subject_id="evidence",
            is_public=True,
            details={"items": deleted},
        )
    session.flush()
    return deleted
