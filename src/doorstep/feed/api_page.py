"""The feed API's page, read in one pass: everything a ``GET /api/v1/feed`` does with the
database, in one function that the route runs once in the threadpool.

Against the dependency path (``api_user``, ``ReadSession``, ``timeline.feed``), which
takes a threadpool hop for the caller, one for the route and one for the commit, and
reads the token with its user, then the home, then the page inside BEGIN and COMMIT:

- one statement reads the bearer token, its user and his home (``api_tokens``'s caller
  columns, the home joined to them); the home's cells come from ``areas.home_cells``,
  cached by the home's position and radius;
- a second reads the page as the viewer sees it (``timeline.page_statement``, the same
  statement as the dependency path), on a fit read replica as every feed read, else on
  the primary;
- without replicas, the next page of the same token is ONE statement: the caller and the
  page together, the page's cells those of the home seen last time, the caller's row
  found only while the home is still exactly there (``_caller_and_page``). A moved home
  finds no row, a revoked token or an inactive user a row that is refused: either goes
  the two-statement way, so it takes effect on the next request;
- on PostgreSQL they run in autocommit (``Database.standalone_reads``): no BEGIN or
  COMMIT round trips. Nothing here writes, but the token's use, which is recorded after
  the page as ``api_tokens.use_is_due`` says (every few minutes a token), in a
  transaction of its own once the read connection is back in the pool;
- the page is built from the rows (``display.view_of``) and written as JSON bytes.

A revoked token or an inactive user is refused by the same rules and errors as
``api_user`` on the next request: of a caller, only his home's position is kept between
requests, and the statement that uses it checks it.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select, true
from sqlalchemy.orm import Session

from doorstep.accounts import api_tokens
from doorstep.accounts import deps as account_deps
from doorstep.accounts.models import User
from doorstep.db import Database, utcnow
from doorstep.errors import DoorstepError
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


# The home each token's caller had at his last page, by the token's digest. The next page
# then reads the caller and the page in one statement (:func:`_caller_and_page`), whose
# caller row comes back only while the home is still exactly there; a moved home, a
# revoked token or an inactive user sends the request the two-statement way, which
# answers as the first time. Only positions are kept, never who may read what; bounded,
# and emptied when full.
_HOMES_SEEN: dict[str, tuple[float, float, float]] = {}
_HOMES_SEEN_MAX = 100_000


@functools.cache
def _caller_and_page(page: Select[Any]) -> Select[Any]:
    """The caller (as :func:`_caller_statement`, if his home is at ``seen_latitude``,
    ``seen_longitude`` with ``seen_radius_m``) and the rows of ``page``, newest first, in
    one statement: one row with no post when the page is empty, none when the home moved
    or the token is unknown."""
    caller = (
        _caller_statement()
        .where(
            Home.exact_latitude == bindparam("seen_latitude"),
            Home.exact_longitude == bindparam("seen_longitude"),
            Home.radius_m == bindparam("seen_radius_m"),
        )
        .subquery("caller")
    )
    rows = page.subquery("page")
    return (
        select(caller, rows)
        .select_from(caller.outerjoin(rows, true()))
        .order_by(rows.c.published_at.desc(), rows.c.id.desc())
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


def _in_one_statement(
    connection: Connection, digest: str, seen: tuple[float, float, float], ask: timeline.PageAsk
) -> tuple[Row[Any], timeline.PageQuery, list[PostRead]] | None:
    """The caller, the query and the page read together for a home seen before; None
    when that home moved or the token is not (or no longer) live."""
    latitude, longitude, radius_m = seen
    try:
        query = timeline.page_query(cells=areas.home_cells(*seen), ask=ask)
        parameters = query.parameters()
    except DoorstepError:
        return None  # refused after the caller is, as the first time
    page = timeline.page_statement(query, dialect=connection.dialect.name)
    values = {
        "token_hash": digest,
        "seen_latitude": latitude,
        "seen_longitude": longitude,
        "seen_radius_m": radius_m,
    }
    rows = connection.execute(_caller_and_page(page), values | parameters).all()
    if not rows or not api_tokens.token_is_live(
        revoked_at=rows[0].revoked_at, user_is_active=rows[0].is_active
    ):
        return None
    caller = rows[0]
    moderator = caller.role in feed_service.MODERATOR_ROLES
    views = [feed_display.view_of(r, caller.user_id, moderator) for r in rows if r.id is not None]
    return caller, query, views


def _in_two_statements(
    connection: Connection,
    replicas: ReplicaSet,
    token: str,
    digest: str,
    read_after: int | None,
    ask: timeline.PageAsk,
) -> tuple[Row[Any], timeline.PageQuery, list[PostRead]]:
    """The caller with his home, then his page (on a fit replica when there are some)."""
    caller = account_deps.accepted_caller(
        token, connection.execute(_caller_statement(), {"token_hash": digest}).first()
    )
    if caller.exact_latitude is None:
        raise homes.no_home()
    query = timeline.page_query(
        cells=areas.home_cells(caller.exact_latitude, caller.exact_longitude, caller.radius_m),
        ask=ask,
    )
    moderator = caller.role in feed_service.MODERATOR_ROLES
    if not replicas.configured:
        return caller, query, _read_views(connection, query, caller.user_id, moderator)
    with replicas.read(after=read_after) as replica:
        reader = connection if replica is None else replica
        return caller, query, _read_views(reader, query, caller.user_id, moderator)


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
    digest = token_digest(token)
    # With replicas, the caller is read on the primary and the page on a replica: apart.
    seen = None if replicas.configured else _HOMES_SEEN.get(digest)
    with db.standalone_reads() as connection:
        found = None if seen is None else _in_one_statement(connection, digest, seen, ask)
        if found is not None:
            caller, query, views = found
        else:
            caller, query, views = _in_two_statements(
                connection, replicas, token, digest, read_after, ask
            )
    if not replicas.configured:
        if len(_HOMES_SEEN) >= _HOMES_SEEN_MAX:
            _HOMES_SEEN.clear()
        _HOMES_SEEN[digest] = (caller.exact_latitude, caller.exact_longitude, caller.radius_m)
    now = utcnow()
    if api_tokens.use_is_due(caller.last_used_at, now):
        with db.transaction() as session:
            api_tokens.record_token_use(session=session, token_id=caller.token_id, now=now)
    page = timeline.sliced(views, query.limit)
    return FeedPage(posts=page.posts, next_cursor=page.next_cursor).model_dump_json().encode()
