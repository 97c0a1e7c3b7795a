"""What every page's form shares: reading its fields, saying its first problem in the
form's own words, running its action (a refusal re-renders the form with the message:
``web.render.Page.refusal``), the notice shown after a form's redirect, and a listing's
day filters."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from doorstep.errors import DoorstepError, InvalidInput

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Enum)


def form_action(
    session: Session,
    act: Callable[[], T],
    *,
    done: Callable[[T], Response],
    refused: Callable[[DoorstepError], Response],
    passes: Collection[int] = (),
) -> Response:
    """Run a form's action in a savepoint and answer with ``done(result)``.

    A refusal (a ``DoorstepError``) undoes what the action wrote, and nothing else of the
    request's transaction, and answers with ``refused(error)``: the form's page again, with
    the message and the error's status. A refusal whose status is in ``passes`` (a 404 of
    a thing that is not there, say) goes on to the app's error page instead.
    """
    try:
        with session.begin_nested():
            result = act()
    except DoorstepError as exc:
        if exc.status_code in passes:
            raise
        return refused(exc)
    return done(result)


def notice_for(request: Request, notices: Mapping[str, str]) -> str | None:
    """The sentence for the ``notice`` a form's redirect put in the query (or None)."""
    return notices.get(request.query_params.get("notice", ""))


def validation_message(exc: ValidationError, labels: dict[str, str]) -> str:
    """One readable sentence for the first problem of a form, in the form's own words."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    label = labels.get(field, field or "This form")
    problem = str(first.get("msg", "is not valid"))
    problem = problem.removeprefix("Value error, ")
    return f"{label}: {problem[:1].lower()}{problem[1:]}."


def validated(schema: type[M], values: Mapping[str, Any], labels: dict[str, str]) -> M:
    """``values`` as a ``schema``; a problem is refused (``InvalidInput``) in the form's
    own words (``validation_message``)."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, labels)) from exc


def require_position(values: Mapping[str, Any], what: str) -> None:
    """A form's position is placed on its map (or typed): refuse one without it."""
    if not values["latitude"] or not values["longitude"]:
        raise InvalidInput(
            f"Place {what} on the map, or type its latitude and longitude.",
            code="position_missing",
        )


def chosen(kind: type[E], values: list[str], what: str, code: str) -> list[E] | None:
    """The choices of a list filter as members of ``kind`` (None when none is chosen)."""
    try:
        return [kind(v) for v in values] or None
    except ValueError as exc:
        raise InvalidInput(f"Choose {what} from the list.", code=code) from exc


def checkbox(value: object) -> bool:
    """An HTML checkbox is sent only when ticked."""
    return value is not None and str(value) not in ("", "0", "off", "false")


def day_bounds(date_from: str, date_to: str) -> tuple[datetime | None, datetime | None]:
    """A filter's From/To days (YYYY-MM-DD, UTC) as [since, until): To includes that day."""

    def day(value: str, label: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"{label} is not a date (YYYY-MM-DD).", code="invalid_date") from exc

    first, last = day(date_from, "From"), day(date_to, "To")
    since = datetime.combine(first, time.min, UTC) if first else None
    if last == date.max:  # the day after it, where the filter would end, does not exist
        raise InvalidInput(
            "To is the last date there is; leave it empty to include every later day.",
            code="invalid_date",
        )
    until = datetime.combine(last + timedelta(days=1), time.min, UTC) if last else None
    return since, until


def text(value: object) -> str:
    """A form field as text: a missing field or an uploaded file reads as empty."""
    return value if isinstance(value, str) else ""


class DayFilters:
    """A listing's From/To days (see ``day_bounds``) and its page cursor, read from the
    query string and written back into its links; a listing with more filters adds its own
    choices (``choices``), which its links carry first."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.date_from = params.get("from", "")
        self.date_to = params.get("to", "")
        self.cursor = params.get("cursor") or None

    def since(self) -> datetime | None:
        return day_bounds(self.date_from, self.date_to)[0]

    def until(self) -> datetime | None:
        return day_bounds(self.date_from, self.date_to)[1]

    def window(self) -> dict[str, Any]:
        """The days and the cursor, as a listing query takes them."""
        return {"since": self.since(), "until": self.until(), "cursor": self.cursor}

    def choices(self) -> list[tuple[str, str]]:
        return []

    def query(self, **extra: str) -> str:
        """The query string of these filters, with ``extra`` (a cursor, say) last."""
        pairs = self.choices()
        if self.date_from:
            pairs.append(("from", self.date_from))
        if self.date_to:
            pairs.append(("to", self.date_to))
        pairs += list(extra.items())
        return urlencode(pairs)
