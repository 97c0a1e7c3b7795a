"""The instance administrator's page of the accountability datasets: the names that
match no agency, grouped by (name, state) with their row counts and ranked
suggestions (a button links a name to an agency: an alias, and the stored rows match
at once); every partner's aliases and outside codes, added and removed; the releases,
withdrawn after a confirmation. Every change is audited and public."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageAdmin, ThisPage
from doorstep.accounts.models import User
from doorstep.agencies import identity
from doorstep.errors import InvalidInput
from doorstep.routing import GuardedRoute
from doorstep.transparency import public, records
from doorstep.web.forms import checkbox, text
from doorstep.web.render import Page, redirect

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


def _review_page(page: Page) -> Response:
    """The review page (with a refused form's ``error`` and status, if any)."""
    session = page.session
    groups = records.review_groups(session=session)
    partners = public.participating_agencies(session=session)
    return page.show(
        "transparency/records_review.html",
        notice=page.notice(NOTICES),
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


@dataclass(frozen=True)
class AdminPost:
    """What every form of the page needs: its page, the admin who sent it and its checked
    fields."""

    page: Page
    user: User
    form: FormData

    @property
    def session(self) -> Session:
        return self.page.session

    def field(self, name: str) -> str:
        return text(self.form.get(name))

    def agency_id(self) -> uuid.UUID:
        try:
            return uuid.UUID(self.field("agency_id"))
        except ValueError as exc:
            raise InvalidInput("Choose the agency from the list.", code="invalid_choice") from exc

    def run(self, act: Callable[[], Any], notice: str) -> Response:
        """The action in a savepoint; then back to the page with ``notice``, or the page
        again with the refusal (nothing changed)."""
        return self.page.act(
            act,
            done=lambda _: redirect(f"{PAGE}?notice={notice}"),
            refused=self.page.refusal(_review_page),
        )


def _admin_post(page: ThisPage, user: PageAdmin, form: CheckedForm) -> AdminPost:
    return AdminPost(page, user, form)


Posted = Annotated[AdminPost, Depends(_admin_post)]


@router.get(PAGE, response_class=HTMLResponse)
def review_page(page: ThisPage, user: PageAdmin) -> Response:
    return _review_page(page)


@router.post(f"{PAGE}/links", response_class=HTMLResponse)
def link_name(post: Posted) -> Response:
    def act() -> int:
        return records.link_name(
            session=post.session, actor=post.user, name=post.field("name"),
            state=post.field("state"), agency_id=post.agency_id(),
        )  # fmt: skip

    return post.run(act, "linked")


@router.post(f"{PAGE}/identifiers", response_class=HTMLResponse)
def add_identifier(post: Posted) -> Response:
    def act() -> int:
        return records.matching.add_identifier(
            session=post.session, actor=post.user, agency_id=post.agency_id(),
            scheme=post.field("scheme"), value=post.field("value"),
        )  # fmt: skip

    return post.run(act, "identifier_added")


@router.post(f"{PAGE}/identifiers/{{identifier_id}}/remove", response_class=HTMLResponse)
def remove_identifier(identifier_id: uuid.UUID, post: Posted) -> Response:
    def act() -> None:
        records.matching.remove_identifier(
            session=post.session, actor=post.user, agency_id=post.agency_id(),
            identifier_id=identifier_id,
        )  # fmt: skip

    return post.run(act, "identifier_removed")


@router.post(f"{PAGE}/releases/{{release_id}}/withdraw", response_class=HTMLResponse)
def withdraw_release(release_id: uuid.UUID, post: Posted) -> Response:
    def act() -> Any:
        if not checkbox(post.form.get("confirm")):
            raise InvalidInput(
                "Tick the confirmation: a withdrawn release counts nowhere, and the "
                "withdrawal is published.",
                code="confirmation_required",
            )
        return records.withdraw_release(
            session=post.session, release_id=release_id, reason=post.field("reason"),
            actor=post.user,
        )  # fmt: skip

    return post.run(act, "withdrawn")
