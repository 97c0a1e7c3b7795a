"""The feed API's page, read in one pass: everything a ``GET /api/v1/feed`` does with the
database, in one function that the route runs once in the threadpool.

Against the dependency path (``api_user``, ``ReadSession``, ``timeline.feed``), which
takes a threadpool hop for the caller, one for the route and one for the commit, and
reads the token with its user, then the home, then the page inside BEGIN and COMMIT:

- one statement reads the bearer token, its user and his home (``api_tokens``'s caller
  columns, the home joined to them); the home's cells come from ``areas.home_cells``,
  cached by the home's position and radius, so a moved home has other cells at once;
- a second reads the page as the viewer sees it (``timeline.page_statement``, the same
  statement as the dependency path), on a fit read replica as every feed read, else on
  the primary;
- on PostgreSQL both run in autocommit (``Database.standalone_reads``): no BEGIN or
  COMMIT round trips. Nothing here writes, but the token's use, which is recorded after
  the page as ``api_tokens.use_is_due`` says (every few minutes a token), in a
  transaction of its own once the read connection is back in the pool;
- the page is built from the rows (``display.view_of``) and written as JSON bytes.

A revoked token or an inactive user is refused by the same rules and errors as
``api_user`` on the next request: nothing about the caller is kept between requests.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.orm import Session

from doorstep.accounts import api_tokens
from doorstep.accounts import deps as account_deps
from doorstep.accounts.models import User
from doorstep.db import Database, utcnow
from doorstep.feed import areas, homes, timeline
from doorstep.feed import display as feed_display
from doorstep.feed import service as feed_service
from doorstep.feed.models import Home
from doorstep.feed.schemas import FeedPage, PostRead
from doorstep.replicas import ReplicaSet
from doorstep.security import token_digest


@functools.cache
def _caller_statement() -> Select[Any]:
    """The token, its user and his home (None columns without one), in one statement."""
    return (
        api_tokens.caller_statement()
        .add_columns(Home.exact_latitude, Home.exact_longitude, Home.radius_m)
        .outerjoin(Home, Home.user_id == User.id)
    )


def _read_views(
    reader: Connection | Session,
    query: timeline.PageQuery,
    viewer_id: uuid.UUID,
    moderator: bool,
) -> list[PostRead]:
    dialect = (reader.get_bind() if isinstance(reader, Session) else reader).dialect.name
    statement = timeline.page_statement(query, dialect=dialect)
    rows = reader.execute(statement, query.parameters())
    return [feed_display.view_of(row, viewer_id, moderator) for row in rows]


def read_page(
    *,
    db: Database,
    replicas: ReplicaSet,
    token: str,
    read_after: int | None = None,
    ask: timeline.PageAsk,
) -> bytes:
    """The caller's feed page (``FeedPage`` as JSON): the posts ``timeline.feed`` gives
    for the user of the bearer ``token``, the same answers and errors as the dependency
    path. ``read_after``: the caller's ``doorstep_read_after`` position, for the replicas.
    Blocking: run it in the threadpool."""
    with db.standalone_reads() as connection:
        caller = account_deps.accepted_caller(
            token,
            connection.execute(_caller_statement(), {"token_hash": token_digest(token)}).first(),
        )
        if caller.exact_latitude is None:
            raise homes.no_home()
        query = timeline.page_query(
            cells=areas.home_cells(caller.exact_latitude, caller.exact_longitude, caller.radius_m),
            ask=ask,
        )
        moderator = caller.role in feed_service.MODERATOR_ROLES
        if not replicas.configured:
            views = _read_views(connection, query, caller.user_id, moderator)
        else:
            with replicas.read(after=read_after) as replica:
                reader = connection if replica is None else replica
                views = _read_views(reader, query, caller.user_id, moderator)
    now = utcnow()
    if api_tokens.use_is_due(caller.last_used_at, now):
        with db.transaction() as session:
            api_tokens.record_token_use(session=session, token_id=caller.token_id, now=now)
    page = timeline.sliced(views, query.limit)
    return FeedPage(posts=page.posts, next_cursor=page.next_cursor).model_dump_json().encode()
