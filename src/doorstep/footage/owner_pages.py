"""HTML routes for footage requests on the owner's side: his inbox of requests, answering
one (share chosen clips, decline, mute the agency, stop all requests), his sharing
history with every agency access, and his request settings.

Privacy: the answer page lists only ``events_in_window`` of the signed-in owner, and
its map shows the requested area alone: no camera, not even his own.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage
from doorstep.accounts.models import User
from doorstep.cameras import inbox as camera_inbox
from doorstep.errors import InvalidInput
from doorstep.footage import answers as answer_service
from doorstep.footage import preview_pages
from doorstep.footage.agency_pages import page_context
from doorstep.footage.models import EvidenceStatus
from doorstep.footage.notice import render_notice
from doorstep.http import DbSession, RuntimeDep
from doorstep.media.redaction import Choices
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "shared": "Shared. Your clips are being prepared: what you chose to hide is hidden "
    "before the agency can see anything. The agency sees only the clips you chose; you can "
    "withdraw a clip until the agency opens it.",
    "declined": "You declined. The agency is never told who declined.",
    "muted": "You will get no more requests from this agency.",
    "unmuted": "You will get requests from this agency again.",
    "opted_out": "You will get no more footage requests.",
    "settings_saved": "Request settings saved.",
    "withdrawn": "The clip was withdrawn; its copy was deleted.",
}
SHARE_LABELS = {
    "redacting": "being prepared",
    "redaction_failed": "not shared: the copy failed",
    "pending_upload": "waiting for your device",
    "available": "shared",
    "withdrawn": "withdrawn",
    "deleted": "deleted after retention",
}
ANSWER_LABELS = {"pending": "not answered", "shared": "shared", "declined": "declined"}


# ---------------------------------------------------------------- the inbox


@router.get("/requests", response_class=HTMLResponse)
def inbox(page: ThisPage, user: PageUser) -> Response:
    session = page.session
    items = [
        (found, render_notice(request=found.request, agency=found.agency).title)
        for found in answer_service.inbox(session=session, owner=user)
    ]
    return page.show(
        "footage/inbox.html",
        items=items,
        settings=answer_service.request_settings(session=session, owner=user),
        muted=answer_service.muted_agencies(session=session, owner=user),
        answer_labels=ANSWER_LABELS,
        notice=page.notice(NOTICES),
        **page_context(),
    )


@router.post("/requests/settings")
def save_settings(user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    answer_service.update_request_settings(
        session=session,
        owner=user,
        opted_out=checkbox(form.get("opted_out")),
        reminders=checkbox(form.get("reminders")),
    )
    return redirect("/requests?notice=settings_saved")


@router.post("/requests/stop")
def stop_all(user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    answer_service.update_request_settings(
        session=session, owner=user, opted_out=True, reminders=None
    )
    return redirect("/requests?notice=opted_out")


@router.post("/requests/agencies/{agency_id}/unmute")
def unmute(agency_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    answer_service.mute_agency(session=session, owner=user, agency_id=agency_id, muted=False)
    return redirect("/requests?notice=unmuted")


# ---------------------------------------------------------------- answering


def _answer_page(
    page: Page,
    user: User,
    request_id: uuid.UUID,
    *,
    chosen: set[str] | None = None,
    reveal: bool = False,
    choices: Choices | None = None,
) -> Response:
    session = page.session
    found = answer_service.get_owner_request(session=session, owner=user, request_id=request_id)
    events = [
        camera_inbox.event_view(*row)
        for row in answer_service.events_in_window(session=session, owner=user, found=found)
    ]
    mine = [
        item.evidence
        for item in answer_service.sharing_history(session=session, owner=user)
        if item.request.id == request_id
    ]
    shared = {str(e.source_event_id) for e in mine if e.status in answer_service.LIVE_STATUSES}
    # Newest first: an earlier failure of a clip shared again since is not shown.
    failed: dict[str, str] = {}
    for e in reversed(mine):
        key = str(e.source_event_id)
        if e.status == EvidenceStatus.redaction_failed:
            failed[key] = e.redaction_error or "the copy could not be made"
        elif e.status in answer_service.LIVE_STATUSES:
            failed.pop(key, None)
    preparing = {
        str(e.source_event_id): round((e.redaction_progress or 0.0) * 100)
        for e in mine
        if e.status == EvidenceStatus.redacting
    }
    return page.show(
        "footage/answer.html",
        found=found,
        fr=found.request,
        notice_text=render_notice(request=found.request, agency=found.agency, zone=page.time_zone),
        events=events,
        shared=shared,
        preparing=preparing,
        failed=failed,
        choices=choices or Choices(),
        chosen=chosen or set(),
        reveal=reveal or found.recipient.reveal_identity,
        answer_labels=ANSWER_LABELS,
        notice=page.notice(NOTICES),
        **page_context(),
    )


@router.get("/requests/{request_id}/answer", response_class=HTMLResponse)
def answer_page(request_id: uuid.UUID, page: ThisPage, user: PageUser) -> Response:
    return _answer_page(page, user, request_id)


def _event_ids(values: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError as exc:
        raise InvalidInput("Choose clips from the list.", code="clip_not_eligible") from exc


@router.post("/requests/{request_id}/share", response_class=HTMLResponse)
def share(
    request_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm, runtime: RuntimeDep
) -> Response:
    chosen = [text(v) for v in form.getlist("event_id")]
    reveal = checkbox(form.get("reveal_identity"))
    try:
        choices = preview_pages.choices_from_form(form)
    except InvalidInput as exc:
        return page.refusal(_answer_page, user, request_id, chosen=set(chosen), reveal=reveal)(exc)
    return page.act(
        lambda: answer_service.share(
            session=page.session,
            storage=runtime.storage,
            owner=user,
            request_id=request_id,
            event_ids=_event_ids(chosen),
            reveal_identity=reveal,
            choices=choices,
        ),
        done=lambda _: redirect(f"/requests/{request_id}/answer?notice=shared"),
        refused=page.refusal(
            _answer_page, user, request_id, chosen=set(chosen), reveal=reveal, choices=choices
        ),
        passes=(404,),
    )


@router.post("/requests/{request_id}/decline", response_class=HTMLResponse)
def decline(request_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        lambda: answer_service.decline(session=page.session, owner=user, request_id=request_id),
        done=lambda _: redirect(f"/requests/{request_id}/answer?notice=declined"),
        refused=page.refusal(_answer_page, user, request_id),
        passes=(404,),
    )


@router.post("/requests/{request_id}/mute")
def mute(request_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    found = answer_service.get_owner_request(session=session, owner=user, request_id=request_id)
    answer_service.mute_agency(session=session, owner=user, agency_id=found.agency.id, muted=True)
    return redirect("/requests?notice=muted")


# ---------------------------------------------------------------- sharing history


@router.get("/requests/shared", response_class=HTMLResponse)
def shared_history(page: ThisPage, user: PageUser) -> Response:
    return page.show(
        "footage/shared.html",
        items=answer_service.sharing_history(session=page.session, owner=user),
        withdrawable=answer_service.LIVE_STATUSES,
        share_labels=SHARE_LABELS,
        notice=page.notice(NOTICES),
        **page_context(),
    )


@router.post("/requests/shared/{evidence_id}/withdraw", response_class=HTMLResponse)
def withdraw_share(
    evidence_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm, runtime: RuntimeDep
) -> Response:
    return page.act(
        lambda: answer_service.withdraw_share(
            session=page.session, storage=runtime.storage, owner=user, evidence_id=evidence_id
        ),
        done=lambda _: redirect("/requests/shared?notice=withdrawn"),
        refused=page.refusal(shared_history, user),
        passes=(404,),
    )
