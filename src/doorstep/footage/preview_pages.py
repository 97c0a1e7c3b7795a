"""HTML routes for the owner's preview of a redacted copy before he shares a clip: what
to hide, the copy beside the original, the tracks found (each removable), boxes of his
own over a time span, and "share this clip" with exactly those choices.

The redaction fields are read the same way by the share form (``choices_from_form``):
a form that does not carry them (``redaction_form`` absent) hides everything.
"""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage
from doorstep.accounts.models import User
from doorstep.errors import InvalidInput, NotFound
from doorstep.footage import answers as answer_service
from doorstep.footage import previews
from doorstep.footage.agency_pages import page_context
from doorstep.http import RuntimeDep
from doorstep.media.redaction import Choices
from doorstep.media.storage import MediaStorage
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _boxes(raw: str) -> list[dict[str, object]]:
    """The owner's boxes, one a line: "x1 y1 x2 y2 from_s to_s" (commas allowed)."""
    boxes: list[dict[str, object]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        values = [float(v) for v in _NUMBER.findall(line)]
        if len(values) != 6:
            raise InvalidInput(
                f"Box line {number}: write x1 y1 x2 y2 from to (pixels, then seconds).",
                code="bad_box",
            )
        boxes.append({"box": values[:4], "start_s": values[4], "end_s": values[5]})
    return boxes


def choices_from_form(form: FormData) -> Choices:
    """The owner's redaction choices from a share or preview form (400 on a bad box)."""
    if form.get("redaction_form") is None:
        return Choices()
    removals = [{"track_id": text(t)} for t in form.getlist("remove_track") if text(t)]
    return Choices.from_dict(
        {
            "faces": checkbox(form.get("hide_faces")),
            "text": checkbox(form.get("hide_text")),
            "zones": checkbox(form.get("hide_zones")),
            "unredacted": checkbox(form.get("unredacted")),
            "manual_boxes": _boxes(text(form.get("boxes"))),
            "removals": removals,
        }
    )


def boxes_text(choices: Choices) -> str:
    """The owner's boxes as the form writes them, to show them again."""
    return "\n".join(
        " ".join(f"{v:g}" for v in (*m.box.as_list(), m.start_s, m.end_s))
        for m in choices.manual_boxes
    )


def _preview_page(
    page: Page,
    user: User,
    storage: MediaStorage,
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    digest: str | None,
    *,
    choices: Choices | None = None,
) -> Response:
    session = page.session
    found = answer_service.get_owner_request(session=session, owner=user, request_id=request_id)
    rows = answer_service.events_in_window(session=session, owner=user, found=found)
    row = next((r for r in rows if r[0].id == event_id), None)
    if row is None:
        raise NotFound("No such clip in this request's window.", code="clip_not_eligible")
    preview = None
    if digest is not None and previews.is_digest(digest):
        preview = previews.read_preview(storage, user, event_id, digest)
    shown = choices or (preview.choices if preview else Choices())
    return page.show(
        "footage/preview.html",
        found=found,
        fr=found.request,
        event=row[0],
        camera=row[1],
        clip=row[2],
        preview=preview,
        choices=shown,
        boxes=boxes_text(shown),
        removed={r.track_id for r in shown.removals if r.track_id},
        **page_context(),
    )


@router.get("/requests/{request_id}/events/{event_id}/preview", response_class=HTMLResponse)
def preview_page(
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    page: ThisPage,
    user: PageUser,
    runtime: RuntimeDep,
    v: str = "",
) -> Response:
    return _preview_page(page, user, runtime.storage, request_id, event_id, v or None)


@router.post("/requests/{request_id}/events/{event_id}/preview", response_class=HTMLResponse)
def make_preview(
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    page: ThisPage,
    user: PageUser,
    form: CheckedForm,
    runtime: RuntimeDep,
) -> Response:
    def act() -> str:
        return previews.request_preview(
            session=page.session,
            storage=runtime.storage,
            owner=user,
            request_id=request_id,
            event_id=event_id,
            choices=choices_from_form(form),
        )

    return page.act(
        act,
        done=lambda digest: redirect(
            f"/requests/{request_id}/events/{event_id}/preview?v={digest}"
        ),
        refused=page.refusal(_preview_page, user, runtime.storage, request_id, event_id, None),
        passes=(404,),
    )
