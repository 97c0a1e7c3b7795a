"""Group commit of single-event requests (issue 16): concurrent devices' events, each sent
alone, written in one transaction.

A request hands its event to the process's :class:`Gatherer` (on the event loop) and
waits. The gatherer collects what arrives within ``ingest_group_window_ms`` (or up to
``ingest_group_max_events``) and records the group in one worker thread and one
transaction, the way the batch endpoint records a camera's batch
(``events.record_event_group``): the cameras' tokens in one query, one INSERT, the
owners' alerts as for any event. Each request answers only after that commit, with its own
event (201), the event its device_ref recorded before (200), or its own error (401, 400).
When the group's transaction fails, each event is tried again alone, in a transaction of
its own, so that one event cannot fail the others. A window of 0 turns grouping off: one
transaction per request.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio
from starlette.datastructures import State
from starlette.types import Scope

from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.schemas import EventRead
from doorstep.runtime import Runtime
from doorstep.security import token_digest

T = TypeVar("T")
R = TypeVar("R")

# What a request gets back: its event's view and whether it was created, or its error.
EventAnswer = tuple[EventRead, bool]


class Gatherer(Generic[T, R]):
    """Gathers the items submitted on one event loop for ``window_s`` after the first (or
    until ``max_items``) and hands them, in one worker thread, to ``work``, which answers
    each item in order with a result or an exception; each submitter awaits its own.
    With ``slots`` (the app's connection gate), a group waits for a slot, as one request.

    A submitter that goes away (its client disconnected) does not take its item out of
    the group. Bound to the loop it first runs on; on another loop (a test's next client)
    it starts afresh."""

    def __init__(
        self,
        work: Callable[[list[T]], Sequence[R | Exception]],
        *,
        window_s: float,
        max_items: int,
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._work = work
        self._slots = slots
        self._window_s = window_s
        self._max_items = max_items
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._pending, self._timer, self._running = loop, [], None, set()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self._pending = self._pending, []
        if group and self._loop is not None:
            task = self._loop.create_task(self._run(group))
            self._running.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._running.discard)

    async def _run(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        answers: Sequence[R | Exception]
        try:
            if self._slots is None:
                answers = await anyio.to_thread.run_sync(self._work, [i for i, _ in group])
            else:
                async with self._slots:  # the app's connection gate: one for the group
                    answers = await anyio.to_thread.run_sync(self._work, [i for i, _ in group])
        except Exception as exc:  # work answers each item; this is a bug in it
            answers = [exc] * len(group)
        for (_, future), answer in zip(group, answers, strict=True):
            if future.done():  # its request was cancelled
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)


def record_one(runtime: Runtime, item: camera_events.GroupedEvent) -> EventAnswer:
    """One event in a transaction of its own (grouping off, or a failed group's retry):
    the token checked, then the event recorded. Blocking."""
    settings = runtime.settings
    with runtime.db.transaction() as session:
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=item.camera_id, token=item.token
        )
        result = camera_events.report_device_event(
            session=session,
            camera=camera,
            kind=item.spec.kind,
            started_at=item.spec.started_at,
            ended_at=item.spec.ended_at,
            device_ref=item.spec.device_ref,
            max_duration_s=settings.max_clip_duration_s,
            alert_window_s=settings.event_alert_window_s,
            max_age_days=settings.max_clip_age_days,
        )
        view = camera_inbox.event_view(result.event, camera, result.clip)
    return view, result.created


def _one_answer(runtime: Runtime, item: camera_events.GroupedEvent) -> EventAnswer | Exception:
    try:
        return record_one(runtime, item)
    except Exception as exc:
        return exc


def record_group(
    runtime: Runtime, items: list[camera_events.GroupedEvent]
) -> list[EventAnswer | Exception]:
    """A group's events in one transaction, each answered in order; when that transaction
    fails (the commit included), each event alone. Blocking: the gatherer's one thread hop."""
    settings = runtime.settings
    try:
        with runtime.db.transaction() as session:
            recorded = camera_events.record_event_group(
                session=session,
                events=items,
                max_duration_s=settings.max_clip_duration_s,
                alert_window_s=settings.event_alert_window_s,
                max_age_days=settings.max_clip_age_days,
            )
            answers: list[EventAnswer | Exception] = []
            for answer in recorded:
                if isinstance(answer, Exception):
                    answers.append(answer)
                    continue
                camera, result = answer
                view = camera_inbox.event_view(result.event, camera, result.clip)
                answers.append((view, result.created))
    except Exception:
        return [_one_answer(runtime, item) for item in items]
    return answers


_SINGLE_EVENT = re.compile(r"/api/v1/cameras/[^/]+/events")


def holds_no_connection(scope: Scope) -> bool:
    """A device's single event (``POST /api/v1/cameras/{id}/events``), when events are
    grouped: its request holds no database connection (its token check and its write go
    in groups, each group through one of the connection gate's slots), so the gate lets
    it in at once and a group can gather more than the pool's size."""
    return scope.get("method") == "POST" and _SINGLE_EVENT.fullmatch(scope["path"]) is not None


# A device's credentials as the route guard checks them: the camera it names, its token.
TokenCheck = tuple[uuid.UUID, str | None]


def check_tokens(runtime: Runtime, items: list[TokenCheck]) -> list[Exception | None]:
    """Many devices' early token checks (``routing``'s step 2) in one read-only query:
    None for a good token, else its 401. Blocking: the gatherer's one thread hop."""
    with runtime.db.read_only() as session:
        cameras = camera_registry.cameras_by_id(session, {camera_id for camera_id, _ in items})
    answers: list[Exception | None] = []
    for camera_id, token in items:
        try:
            camera_registry.check_camera_token(cameras.get(camera_id), token)
        except Exception as exc:
            answers.append(exc)
        else:
            answers.append(None)
    return answers


def _app_gatherer(
    state: State, name: str, work: Callable[[list[T]], Sequence[R | Exception]], runtime: Runtime
) -> Gatherer[T, R]:
    """The app's gatherer called ``name`` (kept on ``state``, the app's state), made on
    first use with the runtime's window and group size."""
    gatherer: Gatherer[T, R] | None = getattr(state, name, None)
    if gatherer is None:
        settings = runtime.settings
        gatherer = Gatherer(
            work,
            window_s=settings.ingest_group_window_ms / 1000,
            max_items=settings.ingest_group_max_events,
            slots=getattr(state, "connection_slots", None),
        )
        setattr(state, name, gatherer)
    return gatherer


def event_gatherer(
    state: State, runtime: Runtime
) -> Gatherer[camera_events.GroupedEvent, EventAnswer]:
    """The app's gatherer of single events."""
    return _app_gatherer(
        state, "event_gatherer", lambda items: record_group(runtime, items), runtime
    )


# How long a token the early check passed is taken as good again without a query, and
# how many such tokens a process keeps. Only the route guard's check (whether a body is
# read at all) trusts it: a revoked token may have its body read for this long, and its
# event is still refused, by the write's own check of the token.
TRUSTED_FOR_S = 30.0
_TRUSTED_MAX = 100_000


class TrustedTokens:
    """The (camera, token digest) pairs the early check passed in the last
    ``TRUSTED_FOR_S`` seconds."""

    def __init__(self) -> None:
        self._until: dict[tuple[uuid.UUID, str], float] = {}

    def trusted(self, camera_id: uuid.UUID, token: str) -> bool:
        until = self._until.get((camera_id, token_digest(token)))
        return until is not None and until > time.monotonic()

    def trust(self, camera_id: uuid.UUID, token: str) -> None:
        if len(self._until) >= _TRUSTED_MAX:
            self._until.clear()
        self._until[(camera_id, token_digest(token))] = time.monotonic() + TRUSTED_FOR_S


async def check_token_early(
    state: State, runtime: Runtime, camera_id: uuid.UUID, token: str | None
) -> None:
    """The route guard's check of a device's token, grouped with other devices' checks
    (one read-only query and one thread for the group); a token it passed lately is not
    read again. A wrong token raises its 401."""
    trusted: TrustedTokens | None = getattr(state, "trusted_tokens", None)
    if trusted is None:
        trusted = state.trusted_tokens = TrustedTokens()
    if token and trusted.trusted(camera_id, token):
        return
    gatherer: Gatherer[TokenCheck, None] = _app_gatherer(
        state, "token_gatherer", lambda items: check_tokens(runtime, items), runtime
    )
    await gatherer.submit((camera_id, token))
    if token:
        trusted.trust(camera_id, token)
