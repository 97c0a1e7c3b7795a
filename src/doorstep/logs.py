"""Logging for the command-line processes (server, worker, bridges): one line per event,
JSON by default (``DOORSTEP_LOG_FORMAT=console`` for people reading a terminal).

Every line of an HTTP request carries its ``request_id`` (the client's ``X-Request-ID``
when it sent a sound one, else a new one; ``operations.RequestIds``), and so does every
line the worker writes for a job that request queued (``outbox_jobs.request_id``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token
from typing import Any

import structlog

_SOUND_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def configure(level: int = logging.INFO, *, log_format: str | None = None) -> None:
    """structlog through the standard library to stderr, with plain tracebacks.

    The console renderer draws tracebacks with rich when it is installed, which took
    seconds per error on the event loop and stalled a loaded server (the HTTP benchmark
    saw it); a plain traceback costs microseconds.
    """
    chosen = log_format or os.environ.get("DOORSTEP_LOG_FORMAT", "json")
    renderer: Any
    if chosen == "console":
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    else:
        renderer = structlog.processors.JSONRenderer()
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    structlog.configure(
        logger_factory=structlog.stdlib.LoggerFactory(),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.format_exc_info if chosen != "console" else _keep,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
    )


def _keep(_logger: Any, _name: str, event: Any) -> Any:
    return event


def request_id_from(header: str | None) -> str:
    """The client's request id when it is a sound one (short, no spaces or quotes), else
    a new one."""
    if header and _SOUND_ID.match(header):
        return header
    return os.urandom(16).hex()


def bind_request_id(request_id: str) -> Token[Any]:
    """Bind ``request_id`` to the log lines of this context (what :func:`bound` does for
    any values, without its generator: it runs once per HTTP request); returns the token
    :func:`unbind_request_id` takes."""
    return structlog.contextvars.bind_contextvars(request_id=request_id)["request_id"]


def unbind_request_id(token: Token[Any]) -> None:
    structlog.contextvars.reset_contextvars(request_id=token)


def current_request_id() -> str | None:
    """The request id bound to this context (an HTTP request, or a job it queued)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value is not None else None


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Log lines written inside carry ``values`` (None values are left out)."""
    tokens = structlog.contextvars.bind_contextvars(
        **{k: v for k, v in values.items() if v is not None}
    )
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
