"""Group commit of single events (issue 16): concurrent devices' POST /events written in
one transaction, each request answered after the commit with its own event or error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from tests.conftest import make_settings
from tests.factories import CameraWithToken, make_camera, make_person

from doorstep.app import create_app
from doorstep.cameras import events as camera_events
from doorstep.cameras import ingest_groups
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import MotionEvent
from doorstep.cameras.schemas import EventRead
from doorstep.db import utcnow
from doorstep.errors import InvalidInput, Unauthenticated
from doorstep.media.kinds import EventKind
from doorstep.runtime import Runtime

# Long enough that every request of a test's burst joins the first group.
WINDOW_MS = 300.0


def _runtime(tmp_path: Path, database_url: str, window_ms: float, **settings: Any) -> Runtime:
    return Runtime(
        make_settings(tmp_path, database_url, ingest_group_window_ms=window_ms, **settings)
    )


async def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.fixture
def grouped(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path, database_url, WINDOW_MS)
    yield runtime
    runtime.close()


@pytest.fixture
async def api(grouped: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(grouped) as c:
        yield c


def _body(n: int, **extra: Any) -> dict[str, Any]:
    started = utcnow() - timedelta(minutes=10, seconds=n)
    return {"kind": "motion", "started_at": started.isoformat(), **extra}


async def _send(
    api: httpx.AsyncClient, cam: CameraWithToken, body: dict[str, Any]
) -> httpx.Response:
    return await api.post(f"/api/v1/cameras/{cam.camera.id}/events", headers=cam.headers, json=body)


def _stored(runtime: Runtime) -> dict[uuid.UUID, MotionEvent]:
    with runtime.db.read_only() as session:
        return {e.id: e for e in session.scalars(select(MotionEvent))}


class EventInserts:
    """Counts the INSERT statements into motion_events an engine runs."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        if args[2].lstrip().upper().startswith("INSERT INTO MOTION_EVENTS"):
            self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def full_groups(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    """Groups that close only when full (40 events): a burst of 40 requests makes exactly
    one, however slowly this machine parses them."""
    runtime = _runtime(tmp_path, database_url, 10_000, ingest_group_max_events=40)
    yield runtime
    runtime.close()


async def test_concurrent_events_are_one_transaction_and_each_gets_its_own_event(
    full_groups: Runtime,
) -> None:
    owner = make_person(full_groups)
    cameras = [make_camera(full_groups, owner.user, name=f"Cam {i}") for i in range(4)]
    inserts = EventInserts(full_groups.db.engine)
    sends = [(cameras[n % 4], _body(n, device_ref=f"clip-{n}")) for n in range(40)]
    try:
        async with await _client(full_groups) as api:
            responses = await asyncio.gather(*(_send(api, cam, body) for cam, body in sends))
    finally:
        inserts.close()
    assert [r.status_code for r in responses] == [201] * 40
    assert inserts.count == 1  # the whole burst in one INSERT
    stored = _stored(full_groups)
    assert len(stored) == 40
    for (cam, body), response in zip(sends, responses, strict=True):
        answer = response.json()
        row = stored[uuid.UUID(answer["id"])]
        assert (row.camera_id, row.device_ref) == (cam.camera.id, body["device_ref"])
        assert answer["camera_id"] == str(cam.camera.id)
        assert answer["camera_name"] == cam.camera.name
        assert answer["on_device"] is True


async def test_a_bad_event_in_a_group_gets_its_own_error_and_the_others_commit(
    grouped: Runtime, api: httpx.AsyncClient
) -> None:
    owner = make_person(grouped)
    cam = make_camera(grouped, owner.user)
    stranger = CameraWithToken(cam.camera, "not-its-token")
    future = _body(0) | {"started_at": (utcnow() + timedelta(hours=1)).isoformat()}
    too_long = _body(1) | {"ended_at": (utcnow() + timedelta(minutes=30)).isoformat()}
    good = [_body(n, device_ref=f"good-{n}") for n in range(2, 8)]
    responses = await asyncio.gather(
        _send(api, cam, future),
        _send(api, stranger, _body(9)),
        *(_send(api, cam, body) for body in good),
        _send(api, cam, too_long),
    )
    codes = [(r.status_code, r.json().get("error", {}).get("code")) for r in responses]
    assert codes[0] == (400, "start_in_future")
    assert codes[1] == (401, "invalid_camera_token")
    assert codes[-1] == (400, "event_too_long")
    assert [code for code, _ in codes[2:-1]] == [201] * len(good)
    assert "future" in responses[0].json()["error"]["message"]
    stored = _stored(grouped)
    assert sorted(e.device_ref or "" for e in stored.values()) == sorted(
        b["device_ref"] for b in good
    )


def _grouped_event(cam: CameraWithToken, n: int, **kw: Any) -> camera_events.GroupedEvent:
    spec = camera_events.DeviceEventSpec(
        kind=EventKind.motion,
        started_at=utcnow() - timedelta(minutes=5, seconds=n),
        ended_at=None,
        device_ref=kw.get("device_ref"),
    )
    return camera_events.GroupedEvent(cam.camera.id, kw.get("token", cam.token), spec)


def test_a_wrong_token_in_a_group_is_refused_alone(runtime: Runtime) -> None:
    """The group's one token query: a token revoked (or wrong) by the time the group is
    written refuses its own event, and an unknown camera too; the others are recorded."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    items = [
        _grouped_event(cam, 0, device_ref="a"),
        _grouped_event(cam, 1, token="wrong"),
        camera_events.GroupedEvent(uuid.uuid4(), cam.token, _grouped_event(cam, 2).spec),
        _grouped_event(cam, 3, token=None),
        _grouped_event(cam, 4, device_ref="b"),
    ]
    answers = ingest_groups.record_group(runtime, items)
    for refused in answers[1:4]:
        assert isinstance(refused, Unauthenticated) and refused.code == "invalid_camera_token"
    first, last = answers[0], answers[4]
    assert isinstance(first, tuple) and isinstance(last, tuple)
    assert first[1] and last[1]  # created
    assert set(_stored(runtime)) == {first[0].id, last[0].id}


async def test_a_device_ref_repeated_in_a_group_and_across_groups_answers_the_first_event(
    grouped: Runtime, api: httpx.AsyncClient
) -> None:
    owner = make_person(grouped)
    cam, other = make_camera(grouped, owner.user), make_camera(grouped, owner.user, name="Back")
    body = _body(1, device_ref="same")
    same = await asyncio.gather(
        _send(api, cam, body), _send(api, cam, body), _send(api, other, body)
    )
    assert sorted(r.status_code for r in same[:2]) == [200, 201]
    assert same[0].json()["id"] == same[1].json()["id"]
    assert same[2].status_code == 201  # another camera's reference is its own
    assert same[2].json()["id"] != same[0].json()["id"]
    again = await asyncio.gather(_send(api, cam, body), _send(api, cam, _body(2)))
    assert again[0].status_code == 200 and again[0].json()["id"] == same[0].json()["id"]
    assert again[1].status_code == 201
    assert len(_stored(grouped)) == 3


async def test_an_answered_event_is_already_committed(
    grouped: Runtime, api: httpx.AsyncClient
) -> None:
    """Crash safety: when a request is answered its event is in the database, read on a
    connection of its own while the rest of the burst may still be waiting."""
    owner = make_person(grouped)
    cam = make_camera(grouped, owner.user)
    outside = create_engine(grouped.settings.database_url)
    try:
        tasks = [asyncio.ensure_future(_send(api, cam, _body(n))) for n in range(12)]
        for done in asyncio.as_completed(tasks):
            response = await done
            assert response.status_code == 201
            with Session(outside) as session:
                assert session.get(MotionEvent, uuid.UUID(response.json()["id"])) is not None
    finally:
        outside.dispose()


async def test_a_failed_group_is_retried_event_by_event(
    grouped: Runtime, api: httpx.AsyncClient
) -> None:
    """The group's transaction fails (the database refuses its INSERT): each event is
    written again alone and answered as if it had come alone."""
    owner = make_person(grouped)
    cam = make_camera(grouped, owner.user)
    failures = []

    def refuse_the_group_insert(*args: Any) -> None:
        statement, many = args[2], args[5]
        if many and statement.startswith("INSERT INTO motion_events") and not failures:
            failures.append(statement)
            raise OperationalError(statement, None, Exception("connection lost"))

    event.listen(grouped.db.engine, "before_cursor_execute", refuse_the_group_insert)
    try:
        responses = await asyncio.gather(
            _send(api, cam, _body(0, device_ref="x")),
            _send(api, cam, _body(1, device_ref="x")),
            _send(api, cam, _body(2) | {"started_at": "2020-01-01T00:00:00Z"}),
            _send(api, cam, _body(3)),
        )
    finally:
        event.remove(grouped.db.engine, "before_cursor_execute", refuse_the_group_insert)
    assert len(failures) == 1
    assert sorted(r.status_code for r in responses[:2]) == [200, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert responses[2].status_code == 400
    assert responses[2].json()["error"]["code"] == "event_too_old"
    assert responses[3].status_code == 201
    assert len(_stored(grouped)) == 2


async def test_window_zero_writes_each_event_in_its_own_transaction(
    tmp_path: Path, database_url: str
) -> None:
    runtime = _runtime(tmp_path, database_url, 0)
    try:
        owner = make_person(runtime)
        cam = make_camera(runtime, owner.user)
        app = create_app(runtime)
        inserts = EventInserts(runtime.db.engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            bodies = [_body(n, device_ref=f"r{n % 5}") for n in range(10)]
            responses = await asyncio.gather(*(_send(c, cam, b) for b in bodies))
        inserts.close()
        assert sorted(r.status_code for r in responses) == [200] * 5 + [201] * 5
        assert inserts.count == 10  # one per request (a repeat's refused insert included)
        assert not hasattr(app.state, "event_gatherer")
        assert {uuid.UUID(r.json()["id"]) for r in responses} == set(_stored(runtime))
    finally:
        runtime.close()


def test_the_group_answers_views_like_a_single_event(runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    item = _grouped_event(cam, 0, device_ref="v")
    (grouped,) = ingest_groups.record_group(runtime, [item])
    alone = ingest_groups.record_one(runtime, item)  # the same reference again
    assert isinstance(grouped, tuple)
    assert alone == (grouped[0], False)
    assert isinstance(grouped[0], EventRead) and grouped[1] is True
    future = camera_events.DeviceEventSpec(
        EventKind.motion, utcnow() + timedelta(days=1), None, None
    )
    with pytest.raises(InvalidInput):
        ingest_groups.record_one(
            runtime, camera_events.GroupedEvent(cam.camera.id, cam.token, future)
        )


async def test_a_token_revoked_after_the_early_check_trusted_it_is_refused_by_the_write(
    grouped: Runtime, api: httpx.AsyncClient
) -> None:
    """The route guard takes a token it passed lately as good without a query; the
    group's own token check still refuses the event once the token is revoked."""
    owner = make_person(grouped)
    cam = make_camera(grouped, owner.user)
    assert (await _send(api, cam, _body(0))).status_code == 201
    with grouped.db.transaction() as session:
        camera_registry.revoke_camera_token(
            session=session, owner=owner.user, camera_id=cam.camera.id
        )
    refused = await _send(api, cam, _body(1))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_camera_token"
    assert len(_stored(grouped)) == 1
    wrong = await _send(api, CameraWithToken(cam.camera, "never-issued"), _body(2))
    assert wrong.status_code == 401
