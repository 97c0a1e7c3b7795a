"""Domain errors. Services raise these; one handler turns them into the API's error shape."""

from __future__ import annotations

from typing import Any


class DoorstepError(Exception):
    """A refusal the client can act on: an HTTP status, a stable code and a message."""

    status_code = 400
    code = "bad_request"

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


class InvalidInput(DoorstepError):
    status_code = 400
    code = "invalid_input"


class Unauthenticated(DoorstepError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DoorstepError):
    status_code = 403
    code = "forbidden"


class NotFound(DoorstepError):
    status_code = 404
    code = "not_found"


class Conflict(DoorstepError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DoorstepError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMedia(DoorstepError):
    status_code = 415
    code = "unsupported_media"


class RateLimited(DoorstepError):
    status_code = 429
    code = "rate_limited"
