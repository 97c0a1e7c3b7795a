"""HTML routes for writing Neighbors posts: a new post (with a clip of one's own, or as
an agency's official alert) and editing or deleting one's own post. The guardrails may
answer with a warning about personal data, shown on the form to confirm or change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.cameras import inbox as camera_inbox
from doorstep.errors import DoorstepError, InvalidInput
from doorstep.feed import homes
from doorstep.feed import service as feed_service
from doorstep.feed.guardrails import APPEARANCE_LABELS, PersonalDataWarning
from doorstep.feed.models import Category
from doorstep.feed.pages import post_labels
from doorstep.feed.schemas import PersonFields, PostCreate, PostUpdate
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, text, validation_message
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

_POST_LABELS = {
    "category": "Category",
    "title": "Title",
    "body": "What happened",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "behavior": "What the person did",
    **{k: v.capitalize() for k, v in APPEARANCE_LABELS.items()},
}


def _refusal(
    page: Page, form_page: Callable[..., Response], *args: Any
) -> Callable[[DoorstepError], Response]:
    """A refused post form shows the error, or the personal data the guardrails found, to
    confirm or change."""

    def refused(exc: DoorstepError) -> Response:
        if isinstance(exc, PersonalDataWarning):
            warning = {"warning": exc.details.get("found"), "warning_message": exc.message}
            return form_page(page.with_status(exc.status_code), *args, **warning)
        return form_page(page.refused(exc), *args)

    return refused


def _person_values(form: FormData) -> dict[str, str]:
    keys = ("behavior", *APPEARANCE_LABELS, "other")
    return {k: text(form.get(f"person_{k}")).strip() for k in keys}


def _post_values(form: FormData) -> dict[str, Any]:
    return {
        "category": text(form.get("category")),
        "title": text(form.get("title")),
        "body": text(form.get("body")),
        "person": _person_values(form),
        "clip_id": text(form.get("clip_id")),
        "latitude": text(form.get("latitude")).strip(),
        "longitude": text(form.get("longitude")).strip(),
        "official": checkbox(form.get("official")),
        "confirm_personal_data": checkbox(form.get("confirm_personal_data")),
    }


def _person_fields(values: dict[str, Any]) -> PersonFields | None:
    person = {k: v or None for k, v in values["person"].items()}
    if not any(person.values()):
        return None
    person["behavior"] = person["behavior"] or ""
    return PersonFields.model_validate(person)


def _parse_post(values: dict[str, Any]) -> PostCreate:
    try:
        return PostCreate.model_validate(
            {
                **values,
                "person": _person_fields(values),
                "clip_id": values["clip_id"] or None,
                "latitude": values["latitude"] or None,
                "longitude": values["longitude"] or None,
            }
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, _POST_LABELS)) from exc


def _parse_update(values: dict[str, Any]) -> PostUpdate:
    try:
        person = _person_fields(values)
        return PostUpdate.model_validate(
            {
                "category": values["category"],
                "title": values["title"],
                "body": values["body"],
                "person": person,
                "remove_person": person is None,
                "clip_id": values["clip_id"] or None,
                "remove_clip": values["remove_clip"],
                "confirm_personal_data": values["confirm_personal_data"],
            }
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, _POST_LABELS)) from exc


def _own_clips(session: Session, user: User) -> list[Any]:
    page = camera_inbox.timeline(session=session, owner=user, limit=30)
    events = [camera_inbox.event_view(*row) for row in page.rows]
    return [e for e in events if e.clip is not None]


def _official_agency(session: Session, user: User) -> Any:
    found = agency_service.membership_of(session=session, user=user)
    if found is None or found[0].status != AgencyStatus.verified:
        return None
    return found[0]


def _post_form(page: Page, user: User, values: dict[str, Any], **warning: Any) -> Response:
    session = page.session
    return page.show(
        "feed/new.html",
        values=values,
        **warning,
        clips=_own_clips(session, user),
        agency=_official_agency(session, user),
        has_home=homes.get_home(session=session, owner=user) is not None,
        **post_labels(),
    )


@router.get("/posts/new", response_class=HTMLResponse)
def new_post_form(page: ThisPage, user: PageUser) -> Response:
    params = page.request.query_params
    values: dict[str, Any] = {
        "category": params.get("category", Category.safety.value),
        "title": "",
        "body": "",
        "person": {},
        "clip_id": params.get("clip", ""),
        "latitude": "",
        "longitude": "",
        "official": False,
        "confirm_personal_data": False,
    }
    return _post_form(page, user, values)


@router.post("/posts/new", response_class=HTMLResponse)
def create_post(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    values = _post_values(form)
    return page.act(
        lambda: feed_service.create_post(
            session=page.session, author=user, **dict(_parse_post(values))
        ),
        done=lambda post: redirect(
            f"/posts/{post.id}?notice={'posted' if post.published_at is not None else 'held'}"
        ),
        refused=_refusal(page, _post_form, user, values),
    )


def _edit_page(
    page: Page, user: User, post_id: uuid.UUID, values: dict[str, Any], **warning: Any
) -> Response:
    return page.show(
        "feed/edit.html",
        post_id=post_id,
        values=values,
        **warning,
        clips=_own_clips(page.session, user),
        **post_labels(),
    )


@router.get("/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_post_form(post_id: uuid.UUID, page: ThisPage, user: PageUser) -> Response:
    post = feed_service.get_own_post(session=page.session, author=user, post_id=post_id)
    values = {
        "category": post.category.value,
        "title": post.title,
        "body": post.body,
        "person": {k: v or "" for k, v in (post.person or {}).items()},
        "has_clip": post.clip_id is not None,
        "clip_id": "",
        "remove_clip": False,
        "confirm_personal_data": False,
    }
    return _edit_page(page, user, post_id, values)


@router.post("/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_post(post_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    post = feed_service.get_own_post(session=page.session, author=user, post_id=post_id)
    values = {
        **_post_values(form),
        "has_clip": post.clip_id is not None,
        "remove_clip": checkbox(form.get("remove_clip")),
    }
    return page.act(
        lambda: feed_service.update_post(
            session=page.session, author=user, post_id=post_id, **dict(_parse_update(values))
        ),
        done=lambda _: redirect(f"/posts/{post_id}?notice=edited"),
        refused=_refusal(page, _edit_page, user, post_id, values),
    )


@router.post("/posts/{post_id}/delete")
def delete_post(
    post_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    feed_service.delete_post(session=session, author=user, post_id=post_id)
    return redirect("/feed/mine?notice=post_deleted")
