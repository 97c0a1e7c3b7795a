"""The HTTP benchmark's own baseline: a plain FastAPI app, none of doorstep's code in it.

It is served by :mod:`bench.servers` in a process of its own, with the same uvicorn
settings as doorstep, and loaded by the same wrk settings, so that a doorstep endpoint's
rate can be read as a share of what FastAPI itself does on this machine:

- ``GET /plain/bare`` (``async def``): a constant JSON answer, no middleware, no
  dependency; the ceiling for doorstep's own trivial route ``/bench/bare``.
- ``GET /plain/select`` (``def``, through the threadpool as doorstep's routes): one
  20-row SELECT through a SQLAlchemy engine on the same database (the newest published
  feed posts, by their ``(status, created_at)`` index), returned as JSON; the ceiling for
  an endpoint that reads the database: the feed API and the public request log.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import create_engine, text

PLAIN_BARE_PATH = "/plain/bare"

PLAIN_SELECT_PATH = "/plain/select"

# The 20 newest published posts: an index range scan, a few columns of each row.
TWENTY_ROWS = text(
    "SELECT id, category, title, body, coarse_cell, created_at FROM feed_posts"
    " WHERE status = 'published' ORDER BY created_at DESC LIMIT 20"
)


def create_plain_app(database_url: str) -> FastAPI:
    """The baseline app: FastAPI's defaults, SQLAlchemy's default engine options."""
    engine = create_engine(database_url)
    app = FastAPI()

    async def bare() -> dict[str, bool]:
        return {"ok": True}

    def twenty_rows() -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(TWENTY_ROWS)]

    app.add_api_route(PLAIN_BARE_PATH, bare, methods=["GET"])
    app.add_api_route(PLAIN_SELECT_PATH, twenty_rows, methods=["GET"])
    return app
