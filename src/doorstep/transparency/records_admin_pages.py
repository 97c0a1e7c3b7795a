"""The instance administrator's page of the accountability datasets: the names that
match no agency, grouped by (name, state) with their row counts and ranked
suggestions (a button links a name to an agency: an alias, and the stored rows match
at once); every partner's aliases and outside codes, added and removed; the releases,
withdrawn after a confirmation. Every change is audited and public."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.accounts.deps import CheckedForm, PageAdmin, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.agencies import identity
from doorstep.errors import InvalidInput
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.transparency import public, records
from doorstep.web.forms import checkbox, form_action, notice_for, show_refusal, text
from doorstep.web.render import redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

PAGE = "/admin/records"
# The review lists the most frequent names first; the CLI's --json gives them all.
GROUPS_SHOWN = 200
NOTICES = {
    "linked": "The name is now an alias of the agency; the stored rows were matched again.",
    "identifier_added": "The identifier was added and the stored rows matched again.",
    "identifier_removed": "The identifier was removed; the rows it matched are back in the review.",
    "withdrawn": "The release was withdrawn. The withdrawal is public.",
}


def _review_page(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    groups = records.review_groups(session=session)
    partners = public.participating_agencies(session=session)
    return show(
        request,
        "transparency/records_review.html",
        visitor,
        session,
        status_code=status_code,
        error=error,
        notice=notice_for(request, NOTICES),
        groups=groups[:GROUPS_SHOWN],
        groups_total=len(groups),
        undated=records.undated_records(session=session),
        partners=partners,
        identified=[
            (a, ids)
            for a in partners
            if (ids := identity.identifiers_of(session=session, agency_id=a.id))
        ],
        releases=records.published.datasets(session=session),
    )


def _identifiers(session: Session, agency_id: uuid.UUID) -> list[Any]:
    return identity.identifiers_of(session=session, agency_id=agency_id)


def _act(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    act: Callable[[], Any],
    notice: str,
) -> Response:
    return form_action(
        session,
        act,
        done=lambda _: redirect(f"{PAGE}?notice={notice}"),
        refused=show_refusal(_review_page, request, visitor, session),
    )


def _uuid(value: object, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text(value))
    except ValueError as exc:
        raise InvalidInput(f"Choose {what} from the list.", code="invalid_choice") from exc


@router.get(PAGE, response_class=HTMLResponse)
def review_page(
    request: Request, visitor: Visitor, user: PageAdmin, session: DbSession
) -> Response:
    return _review_page(request, visitor, session)


@router.post(f"{PAGE}/links", response_class=HTMLResponse)
def link_name(
    request: Request, visitor: Visitor, user: PageAdmin, form: CheckedForm, session: DbSession
) -> Response:
    return _act(
        request,
        visitor,
        session,
        lambda: records.link_name(
            session=session,
            actor=user,
            name=text(form.get("name")),
            state=text(form.get("state")),
            agency_id=_uuid(form.get("agency_id"), "the agency"),
        ),
        "linked",
    )


@router.post(f"{PAGE}/identifiers", response_class=HTMLResponse)
def add_identifier(
    request: Request, visitor: Visitor, user: PageAdmin, form: CheckedForm, session: DbSession
) -> Response:
    return _act(
        request,
        visitor,
        session,
        lambda: records.matching.add_identifier(
            session=session,
            actor=user,
            agency_id=_uuid(form.get("agency_id"), "the agency"),
            scheme=text(form.get("scheme")),
            value=text(form.get("value")),
        ),
        "identifier_added",
    )


@router.post(f"{PAGE}/identifiers/{{identifier_id}}/remove", response_class=HTMLResponse)
def remove_identifier(
    identifier_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageAdmin,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    return _act(
        request,
        visitor,
        session,
        lambda: records.matching.remove_identifier(
            session=session,
            actor=user,
            agency_id=_uuid(form.get("agency_id"), "the agency"),
            identifier_id=identifier_id,
        ),
        "identifier_removed",
    )


def _withdraw(session: Session, actor: User, release_id: uuid.UUID, form: Any) -> Any:
    if not checkbox(form.get("confirm")):
        raise InvalidInput(
            "Tick the confirmation: a withdrawn release counts nowhere, and the withdrawal "
            "is published.",
            code="confirmation_required",
        )
    return records.withdraw_release(
        session=session, release_id=release_id, reason=text(form.get("reason")), actor=actor
    )


@router.post(f"{PAGE}/releases/{{release_id}}/withdraw", response_class=HTMLResponse)
def withdraw_release(
    release_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageAdmin,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    return _act(
        request, visitor, session, lambda: _withdraw(session, user, release_id, form), "withdrawn"
    )
