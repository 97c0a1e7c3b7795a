"""Logging for the command-line processes (server, worker, bridges): one line per event."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: int = logging.INFO) -> None:
    """structlog through the standard library to stderr, with plain tracebacks.

    The default renderer draws tracebacks with rich when it is installed, which took
    seconds per error on the event loop and stalled a loaded server (the HTTP benchmark
    saw it); a plain traceback costs microseconds.
    """
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    structlog.configure(
        logger_factory=structlog.stdlib.LoggerFactory(),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
    )
