"""JSON routes for footage requests: the agency side, the owner side, and device uploads."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from doorstep.accounts.deps import CurrentUser, bearer_token
from doorstep.agencies.deps import AgencyMember, AnyAgencyMember
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.uploads import CLIP_FILE_FIELD, camera_upload, multipart_body, spooled_upload
from doorstep.errors import Forbidden
from doorstep.footage import answers as answer_service
from doorstep.footage import evidence as evidence_service
from doorstep.footage import service as request_service
from doorstep.footage import uploads as upload_service
from doorstep.footage.models import FootageRequest
from doorstep.footage.notice import render_notice
from doorstep.footage.schemas import (
    CloseRequest,
    EvidenceRead,
    HoldChange,
    OwnerEvent,
    OwnerRequestRead,
    PendingUpload,
    RequestCounts,
    RequestCreate,
    RequestRead,
    RequestSettings,
    RequestSettingsRead,
    Review,
    ShareBody,
    SharedEvidenceRead,
)
from doorstep.http import DbSession, RuntimeDep
from doorstep.media.redaction import Choices
from doorstep.media.streaming import media_response
from doorstep.media.video import ClipLimits
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime
from doorstep.views import view_of

router = APIRouter(prefix="/api/v1", tags=["footage requests"], route_class=GuardedRoute)


def request_view(session: Session, request: FootageRequest) -> RequestRead:
    counts = request_service.request_counts(session=session, request_id=request.id)
    return view_of(RequestRead, request, counts=RequestCounts(**counts.__dict__))


# ---------------------------------------------------------------- agency side


@router.post("/requests", response_model=RequestRead, status_code=status.HTTP_201_CREATED)
def draft(body: RequestCreate, user: AgencyMember, session: DbSession) -> RequestRead:
    request = request_service.draft_from(session=session, actor=user, body=body)
    return request_view(session, request)


@router.get("/requests", response_model=list[RequestRead])
def list_requests(user: AgencyMember, session: DbSession) -> list[RequestRead]:
    """The requests of the caller's agency. Requests sent to a camera owner are in his
    inbox, ``GET /api/v1/inbox/requests``."""
    try:
        requests = request_service.list_agency_requests(session=session, actor=user)
    except Forbidden as exc:
        if exc.code != "not_agency_member":
            raise
        # A resident who calls this wants the requests sent to him: say where they are.
        raise Forbidden(
            "This list is for agency members: it shows the requests an agency sent. "
            "Requests sent to you about your cameras are at GET /api/v1/inbox/requests.",
            code="not_agency_member",
        ) from exc
    return [request_view(session, r) for r in requests]


@router.get("/requests/{request_id}", response_model=RequestRead)
def get_request(request_id: uuid.UUID, user: AgencyMember, session: DbSession) -> RequestRead:
    return request_view(
        session,
        request_service.get_agency_request(session=session, actor=user, request_id=request_id),
    )


@router.post("/requests/{request_id}/submit", response_model=RequestRead)
def submit(request_id: uuid.UUID, user: AgencyMember, session: DbSession) -> RequestRead:
    return request_view(
        session, request_service.submit_request(session=session, actor=user, request_id=request_id)
    )


@router.post("/requests/{request_id}/approve", response_model=RequestRead)
def approve(request_id: uuid.UUID, user: AgencyMember, session: DbSession) -> RequestRead:
    return request_view(
        session, request_service.approve_request(session=session, actor=user, request_id=request_id)
    )


@router.post("/requests/{request_id}/review", response_model=RequestRead)
def review(
    request_id: uuid.UUID, body: Review, user: AgencyMember, session: DbSession
) -> RequestRead:
    return request_view(
        session,
        request_service.review_request(
            session=session, actor=user, request_id=request_id, approve=body.approve, note=body.note
        ),
    )


@router.get("/review-queue", response_model=list[RequestRead])
def review_queue(user: AgencyMember, session: DbSession) -> list[RequestRead]:
    return [
        request_view(session, r) for r in request_service.review_queue(session=session, actor=user)
    ]


@router.post("/requests/{request_id}/close", response_model=RequestRead)
def close(
    request_id: uuid.UUID, body: CloseRequest, user: AgencyMember, session: DbSession
) -> RequestRead:
    return request_view(
        session,
        request_service.close_request(
            session=session, actor=user, request_id=request_id, reason=body.reason
        ),
    )


@router.post("/requests/{request_id}/withdraw", response_model=RequestRead)
def withdraw(request_id: uuid.UUID, user: AgencyMember, session: DbSession) -> RequestRead:
    return request_view(
        session,
        request_service.withdraw_request(session=session, actor=user, request_id=request_id),
    )


@router.get("/requests/{request_id}/evidence", response_model=list[EvidenceRead])
def list_evidence(
    request_id: uuid.UUID, user: AgencyMember, session: DbSession
) -> list[EvidenceRead]:
    return [
        view_of(
            EvidenceRead,
            v.evidence,
            shared_by=v.shared_by,
            video_url=f"/api/v1/evidence/{v.evidence.id}/video",
        )
        for v in evidence_service.list_evidence(session=session, actor=user, request_id=request_id)
    ]


@router.get("/evidence/{evidence_id}/video")
def evidence_video(
    evidence_id: uuid.UUID,
    request: Request,
    user: AnyAgencyMember,
    session: DbSession,
    runtime: RuntimeDep,
) -> Response:
    """Stream one clip to its agency; the hash is checked on every read, each opening logged."""
    range_header = request.headers.get("range")
    # A player fetches one clip in several ranges; only a read from the start is a new view.
    new_view = range_header is None or range_header.replace(" ", "").startswith("bytes=0-")
    item = evidence_service.open_evidence(
        session=session,
        storage=runtime.storage,
        actor=user,
        evidence_id=evidence_id,
        new_view=new_view,
    )
    assert item.storage_key is not None
    return media_response(
        runtime.storage,
        item.storage_key,
        content_type="video/mp4",
        range_header=range_header,
        filename=f"evidence-{item.id}.mp4",
    )


@router.post("/requests/{request_id}/export")
def export(
    request_id: uuid.UUID, user: AgencyMember, session: DbSession, runtime: RuntimeDep
) -> FileResponse:
    """The evidence bundle (ZIP): clips, manifest.json with hashes, request, custody log."""
    path = evidence_service.export_bundle(
        session=session, storage=runtime.storage, actor=user, request_id=request_id
    )
    return FileResponse(
        path,
        media_type="application/zip",
        filename=path.name,
        background=BackgroundTask(_remove_export, path),
    )


def _remove_export(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()


@router.post("/requests/{request_id}/hold")
def hold(
    request_id: uuid.UUID, body: HoldChange, user: AgencyMember, session: DbSession
) -> dict[str, int]:
    return {
        "items": evidence_service.set_hold(
            session=session, actor=user, request_id=request_id, held=body.held
        )
    }


# ---------------------------------------------------------------- owner side


def owner_request_view(
    session: Session, user: CurrentUser, found: answer_service.OwnerRequest
) -> OwnerRequestRead:
    notice = render_notice(request=found.request, agency=found.agency)
    events = answer_service.events_in_window(session=session, owner=user, found=found)
    return view_of(
        OwnerRequestRead,
        found.request,
        agency_id=found.agency.id,
        agency_name=found.agency.name,
        notice_title=notice.title,
        notice=notice.body,
        my_answer=found.recipient.status,
        my_events=[
            view_of(
                OwnerEvent,
                e,
                camera_name=c.name,
                kind=e.kind.value,
                thumbnail_url=f"/media/clips/{clip.id}.jpg" if clip else None,
            )
            for e, c, clip in events
        ],
    )


@router.get("/inbox/requests", response_model=list[OwnerRequestRead])
def my_requests(user: CurrentUser, session: DbSession) -> list[OwnerRequestRead]:
    return [
        owner_request_view(session, user, f)
        for f in answer_service.inbox(session=session, owner=user)
    ]


@router.get("/inbox/requests/{request_id}", response_model=OwnerRequestRead)
def my_request(request_id: uuid.UUID, user: CurrentUser, session: DbSession) -> OwnerRequestRead:
    return owner_request_view(
        session,
        user,
        answer_service.get_owner_request(session=session, owner=user, request_id=request_id),
    )


@router.post("/inbox/requests/{request_id}/share", response_model=list[SharedEvidenceRead])
def share(
    request_id: uuid.UUID,
    body: ShareBody,
    user: CurrentUser,
    session: DbSession,
    runtime: RuntimeDep,
) -> list[SharedEvidenceRead]:
    answer_service.share(
        session=session,
        storage=runtime.storage,
        owner=user,
        request_id=request_id,
        event_ids=body.event_ids,
        reveal_identity=body.reveal_identity,
        choices=Choices.from_dict(body.redaction.model_dump()),
    )
    return [s for s in shared_history(user, session) if s.request_id == request_id]


@router.post("/inbox/requests/{request_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
def decline(request_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    answer_service.decline(session=session, owner=user, request_id=request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/shared/{evidence_id}/withdraw", status_code=status.HTTP_204_NO_CONTENT)
def withdraw_share(
    evidence_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    answer_service.withdraw_share(
        session=session, storage=runtime.storage, owner=user, evidence_id=evidence_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/shared", response_model=list[SharedEvidenceRead])
def shared_history(user: CurrentUser, session: DbSession) -> list[SharedEvidenceRead]:
    """Every clip the owner shared, with whom, when, and every agency view or export."""
    return [
        view_of(
            SharedEvidenceRead,
            s.evidence,
            request_id=s.request.id,
            agency_name=s.agency.name,
            status=s.evidence.status.value,
            accesses=[{"action": a.action, "at": a.at.isoformat()} for a in s.accesses],
        )
        for s in answer_service.sharing_history(session=session, owner=user)
    ]


@router.put("/users/me/request-settings", response_model=RequestSettingsRead)
def update_settings(
    body: RequestSettings, user: CurrentUser, session: DbSession
) -> RequestSettingsRead:
    row = answer_service.update_request_settings(
        session=session, owner=user, opted_out=body.opted_out, reminders=body.reminders
    )
    return RequestSettingsRead.model_validate(row)


@router.put("/agencies/{agency_id}/mute", status_code=status.HTTP_204_NO_CONTENT)
def mute(agency_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    answer_service.mute_agency(session=session, owner=user, agency_id=agency_id, muted=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/agencies/{agency_id}/mute", status_code=status.HTTP_204_NO_CONTENT)
def unmute(agency_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    answer_service.mute_agency(session=session, owner=user, agency_id=agency_id, muted=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- devices


@router.get("/cameras/{camera_id}/uploads", response_model=list[PendingUpload])
def pending_uploads(
    camera_id: uuid.UUID, request: Request, runtime: RuntimeDep
) -> list[PendingUpload]:
    """What the owner shared from this device's local-first events, waiting for the file."""
    # Devices poll this; read-only, it never waits for (or holds up) a writer on SQLite.
    with runtime.db.read_only() as session:
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=camera_id, token=bearer_token(request)
        )
        return [
            PendingUpload(
                evidence_id=item.id,
                event_id=event.id,
                device_ref=event.device_ref,
                started_at=event.started_at,
                ended_at=event.ended_at,
            )
            for item, event in upload_service.pending_uploads(session=session, camera=camera)
        ]


def _fulfil(
    runtime: Runtime,
    camera_id: uuid.UUID,
    evidence_id: uuid.UUID,
    token: str | None,
    upload: UploadFile,
) -> dict[str, str]:
    """A device upload in three steps, so that the (SQLite) write lock is held only for the
    update, never while the clip decodes: the checks in a read-only transaction; the clip
    probed, hashed and stored outside any transaction; then one short write transaction
    that locks the row and checks again that it is still pending. Blocking."""
    limits = ClipLimits.from_settings(runtime.settings)
    with runtime.db.read_only() as session:
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=camera_id, token=token
        )
        item = upload_service.check_pending_upload(
            session=session, camera=camera, evidence_id=evidence_id
        )
    with spooled_upload(upload, limits.max_bytes) as path:
        stored = upload_service.store_upload(
            storage=runtime.storage, limits=limits, item=item, file_path=path
        )
    with runtime.db.transaction() as session:
        # First: refused or failed (the commit included), the stored file goes with the
        # rollback, whatever step stopped it.
        upload_service.claim_upload(session=session, storage=runtime.storage, stored=stored)
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=camera_id, token=token
        )
        item = upload_service.record_upload(
            session=session, storage=runtime.storage, camera=camera, stored=stored
        )
        # The hash of the clip as sent; the agency's copy is redacted by the worker.
        return {"evidence_id": str(item.id), "sha256": item.original_sha256 or ""}


@router.post(
    "/cameras/{camera_id}/uploads/{evidence_id}",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=multipart_body({"file": CLIP_FILE_FIELD}, ["file"]),
)
async def fulfil_upload(
    camera_id: uuid.UUID, evidence_id: uuid.UUID, request: Request, runtime: RuntimeDep
) -> dict[str, str]:
    """The device sends a shared local-first clip (multipart field ``file``)."""
    async with camera_upload(request, runtime, camera_id) as (token, _form, upload):
        return await run_in_threadpool(_fulfil, runtime, camera_id, evidence_id, token, upload)
