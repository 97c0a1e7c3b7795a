"""The feed a resident reads: published posts whose coarse cell's centre lies within his
radius of his home, newest first (by publication, ties by id), keyset-paginated, each
page read in one statement that carries what a post row shows.

Which posts a page holds: PostgreSQL reads each home cell's newest posts through
``ix_feed_posts_coarse_cell_published_at_id`` and merges them
(:func:`newest_per_cell_statement`), so a page reads about a page per cell however many
posts the cells hold. SQLite has no ``LATERAL``: it keeps the plain keyset query over
all the cells (:func:`feed_statement`), with the same answers.

Privacy: the home's exact position only picks the cells (``feed.areas``); the pages show
coarse cells (``feed.display``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from doorstep import paging
from doorstep.accounts.models import User
from doorstep.errors import InvalidInput
from doorstep.feed import areas
from doorstep.feed import display as feed_display
from doorstep.feed.homes import require_home
from doorstep.feed.models import Category, Post, PostStatus
from doorstep.feed.schemas import PostRead
from doorstep.feed.service import MAX_PAGE

PageKeys = Select[uuid.UUID, datetime | None]


@dataclass
class FeedSlice:
    posts: list[PostRead]
    next_cursor: str | None


@dataclass(frozen=True)
class _Shape:
    """Which of a page's optional conditions a query carries: one statement each, built
    once with its values as parameters (so its SQL, and its server-side plan, is reused)."""

    by_cell: bool
    categories: bool
    since: bool
    until: bool
    cursor: bool


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """What a page asks of a post besides its cell: published, the categories, the days,
    and older than the cursor's post (the ``published_at <= at`` bound lets an index
    scan start at the cursor instead of filtering every newer row)."""
    found: list[ColumnElement[bool]] = [Post.status == PostStatus.published]
    if shape.categories:
        found.append(Post.category.in_(bindparam("categories", expanding=True)))
    if shape.since:
        found.append(Post.published_at >= bindparam("since"))
    if shape.until:
        found.append(Post.published_at < bindparam("until"))
    if shape.cursor:
        at = bindparam("cursor_at", type_=Post.published_at.type)
        post_id = bindparam("cursor_id", type_=Post.id.type)
        found.append(Post.published_at <= at)
        found.append(or_(Post.published_at < at, and_(Post.published_at == at, Post.id < post_id)))
    return found


def _newest_first(keys: PageKeys) -> PageKeys:
    return keys.order_by(Post.published_at.desc(), Post.id.desc()).limit(bindparam("page_rows"))


@functools.cache
def _keys_statement(shape: _Shape) -> PageKeys:
    if not shape.by_cell:
        cells = bindparam("home_cells", type_=BigInteger, expanding=True)
        return _newest_first(
            select(Post.id, Post.published_at).where(
                Post.coarse_cell.in_(cells), *_conditions(shape)
            )
        )
    home_cells = (
        func.unnest(bindparam("home_cells", type_=ARRAY(BigInteger)))
        .table_valued("cell")
        .render_derived(name="home_cells")
    )
    newest = _newest_first(
        select(Post.id, Post.published_at).where(
            Post.coarse_cell == home_cells.c.cell, *_conditions(shape)
        )
    ).lateral("newest")
    return (
        select(newest.c.id, newest.c.published_at)
        .select_from(home_cells)
        .join(newest, true())
        .order_by(newest.c.published_at.desc(), newest.c.id.desc())
        .limit(bindparam("page_rows"))
    )


@functools.cache
def _page_statement(shape: _Shape) -> Select[Any]:
    """The page as its viewer sees it, in one statement: its keys, then what each row
    shows (``feed.display``), newest first."""
    keys = _keys_statement(shape).subquery("keys")
    return feed_display.view_statement(keys).order_by(keys.c.published_at.desc(), keys.c.id.desc())


@dataclass(frozen=True)
class PageQuery:
    """What a page asks for: the home's cells, the filters, the cursor and the size."""

    cells: Sequence[int]
    categories: Sequence[Category] | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 30

    def shape(self, *, by_cell: bool) -> _Shape:
        return _Shape(
            by_cell=by_cell,
            categories=bool(self.categories),
            since=self.since is not None,
            until=self.until is not None,
            cursor=bool(self.cursor),
        )

    def parameters(self) -> dict[str, Any]:
        """The statement's values; ``limit + 1`` rows (the last says whether there is a
        next page). A cursor that is not one is refused here (``invalid_cursor``)."""
        values: dict[str, Any] = {"home_cells": sorted(self.cells), "page_rows": self.limit + 1}
        if self.categories:
            values["categories"] = list(self.categories)
        if self.since is not None:
            values["since"] = self.since
        if self.until is not None:
            values["until"] = self.until
        if self.cursor:
            values["cursor_at"], values["cursor_id"] = paging.decode_cursor(self.cursor)
        return values


def feed_statement(query: PageQuery) -> PageKeys:
    """The page's keys ``(id, published_at)`` by one keyset query over all the cells:
    ``coarse_cell IN (cells)``, newest first. It reads every post of the cells newer than
    the cursor: SQLite's query, and the reference the merge is checked against."""
    return _keys_statement(query.shape(by_cell=False)).params(query.parameters())


def newest_per_cell_statement(query: PageQuery) -> PageKeys:
    """The same keys as :func:`feed_statement`, on PostgreSQL: for each cell its newest
    ``limit + 1`` matching posts (``CROSS JOIN LATERAL``, an index scan that stops after
    them), then the newest ``limit + 1`` of those. Any post of the page is among its own
    cell's newest, so nothing is lost; the cells come as one array parameter."""
    return _keys_statement(query.shape(by_cell=True)).params(query.parameters())


@dataclass(frozen=True)
class PageAsk:
    """What a reader asks of his feed: the categories, the days, the cursor and the size."""

    categories: Sequence[Category] | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 30


def page_query(*, cells: Sequence[int], ask: PageAsk) -> PageQuery:
    """What a page of the feed over ``cells`` asks for, its limit brought within bounds;
    naive times are refused (``naive_time``)."""
    for value in (ask.since, ask.until):
        if value is not None and value.tzinfo is None:
            raise InvalidInput("Times need a time zone.", code="naive_time")
    return PageQuery(
        cells=cells,
        categories=ask.categories,
        since=ask.since,
        until=ask.until,
        cursor=ask.cursor,
        limit=max(1, min(ask.limit, MAX_PAGE)),
    )


def page_statement(query: PageQuery, *, dialect: str) -> Select[Any]:
    """The one statement that reads ``query``'s page as its viewer sees it
    (``feed.display.view_statement``, ``limit + 1`` rows): the per-cell merge on
    PostgreSQL, the keyset query elsewhere. Its values: ``query.parameters()``."""
    return _page_statement(query.shape(by_cell=dialect == "postgresql"))


def sliced(views: list[PostRead], limit: int) -> FeedSlice:
    """The page out of the ``limit + 1`` views read, and the cursor of the next one when
    there is more."""
    next_cursor = None
    if len(views) > limit:
        last = views[limit - 1]
        assert last.published_at is not None
        next_cursor = paging.encode_cursor(last.published_at, last.id)
    return FeedSlice(posts=views[:limit], next_cursor=next_cursor)


def feed(*, session: Session, viewer: User, ask: PageAsk = PageAsk()) -> FeedSlice:
    """Published posts whose coarse cell's centre lies within the viewer's radius of his
    home, newest first (by publication), as he sees them; keyset-paginated: a cursor
    keeps its place while new posts arrive. Refuses a viewer without a home
    (``home_required``)."""
    home = require_home(session=session, owner=viewer)
    query = page_query(
        cells=areas.home_cells(home.exact_latitude, home.exact_longitude, home.radius_m),
        ask=ask,
    )
    views = feed_display.views_of(
        session=session,
        viewer=viewer,
        statement=page_statement(query, dialect=session.get_bind().dialect.name),
        parameters=query.parameters(),
    )
    return sliced(views, query.limit)
