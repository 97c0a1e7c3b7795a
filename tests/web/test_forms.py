"""``form_action``: a refused form undoes its own writes only, and answers with its page
(``Page.refusal``: the page again, with the refusal's message and status)."""

from __future__ import annotations

from typing import cast

import pytest
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.errors import DoorstepError, InvalidInput, NotFound
from doorstep.runtime import Runtime
from doorstep.web.forms import form_action
from doorstep.web.render import Page, Viewer


def _add_person(session: Session, email: str) -> User:
    return account_service.create_user(
        session=session, actor=None, email=email, display_name="Someone", password="x" * 12
    )


def _people(runtime: Runtime) -> set[str]:
    with runtime.db.read_only() as session:
        return set(session.scalars(select(User.email)))


def _refused_page(exc: DoorstepError) -> Response:
    return PlainTextResponse(f"refused: {exc.message}", status_code=exc.status_code)


def test_done_answers_with_the_result(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        response = form_action(
            session,
            lambda: _add_person(session, "new@example.org"),
            done=lambda user: PlainTextResponse(user.email),
            refused=_refused_page,
        )
    assert response.body == b"new@example.org"
    assert _people(runtime) == {"new@example.org"}


def test_a_refusal_undoes_the_action_alone(runtime: Runtime) -> None:
    def half_way() -> None:
        _add_person(session, "half@example.org")
        raise InvalidInput("Not like this.")

    with runtime.db.transaction() as session:
        _add_person(session, "before@example.org")
        response = form_action(
            session, half_way, done=lambda _: PlainTextResponse("done"), refused=_refused_page
        )
        # The request's own work goes on and commits; the refused form's write is gone.
        assert session.scalar(select(func.count()).select_from(User)) == 1
    assert (response.status_code, response.body) == (400, b"refused: Not like this.")
    assert _people(runtime) == {"before@example.org"}


def test_a_passing_status_goes_on_to_the_error_page(runtime: Runtime) -> None:
    def missing() -> None:
        raise NotFound("No such thing.")

    with pytest.raises(NotFound), runtime.db.transaction() as session:
        form_action(
            session,
            missing,
            done=lambda _: PlainTextResponse("done"),
            refused=_refused_page,
            passes=(404,),
        )


def _page() -> Page:
    # What a refusal's page is given; this page is never rendered.
    return Page(request=cast(Request, None), visitor=cast(Viewer, None), session=Session())


def test_a_refusal_shows_the_page_again_with_the_message() -> None:
    def again(page: Page, name: str) -> Response:
        return PlainTextResponse(f"{name}: {page.error}", status_code=page.status_code)

    response = _page().refusal(again, "the form")(InvalidInput("Give a name."))
    assert (response.status_code, response.body) == (400, b"the form: Give a name.")


def test_a_refusal_can_name_the_message_for_a_page_with_several_forms() -> None:
    def again(page: Page, *, tip_error: str | None = None) -> Response:
        return PlainTextResponse(f"{page.error} / {tip_error}", status_code=page.status_code)

    response = _page().refusal(again, error_as="tip_error")(InvalidInput("Say something."))
    assert (response.status_code, response.body) == (400, b"None / Say something.")
