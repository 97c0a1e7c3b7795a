"""Domain errors. Services raise these; one handler turns them into the API's error shape."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class DoorstepError(Exception):
    """A refusal the client can act on: an HTTP status, a stable code and a message."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        """A kind of refusal may name its status and code in its class line (the table below)."""
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


def found(value: T | None, message: str, *, code: str) -> T:
    """``value`` when there is one; None (a lookup that found nothing, or nothing the
    caller may see) is refused as NotFound with ``message`` and ``code``."""
    if value is None:
        raise NotFound(message, code=code)
    return value


class InvalidInput(DoorstepError, status_code=400, code="invalid_input"):
    """The request breaks a rule of its content: a field, a time, a value out of range."""


class Unauthenticated(DoorstepError, status_code=401, code="unauthenticated"):
    """No credential, or one that is wrong, expired or revoked."""


class Forbidden(DoorstepError, status_code=403, code="forbidden"):
    """The caller is known but may not do this."""


class NotFound(DoorstepError, status_code=404, code="not_found"):
    """No such thing, or none the caller may see."""


class Conflict(DoorstepError, status_code=409, code="conflict"):
    """The thing is not in a state that allows this (already done, changed meanwhile)."""


class PayloadTooLarge(DoorstepError, status_code=413, code="payload_too_large"):
    """The body is larger than the limit for this route."""


class UnsupportedMedia(DoorstepError, status_code=415, code="unsupported_media"):
    """The body's type or file format is not one this route takes."""


class RateLimited(DoorstepError, status_code=429, code="rate_limited"):
    """Too many attempts in a while; the client may try again later."""
