"""The web app admits no more requests at a time than the database pool has connections."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from doorstep.app import ConnectionGate, create_app
from doorstep.db import POOL_OVERFLOW, POOL_SIZE
from doorstep.runtime import Runtime


def _scope(path: str = "/api/v1/feed") -> dict[str, Any]:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Inner:
    """An app that counts how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.streaming = asyncio.Event()
        self.finish_stream = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/boom":
            raise RuntimeError("the route failed")
        self.inside += 1
        self.most = max(self.most, self.inside)
        await asyncio.sleep(0.01)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/stream":
            self.streaming.set()
            await self.finish_stream.wait()
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(gate: ConnectionGate, path: str = "/api/v1/feed") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gate(_scope(path), _receive, send)
    return sent


async def test_at_most_limit_requests_are_inside_at_once() -> None:
    inner = Inner()
    gate = ConnectionGate(inner, limit=3)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(_call(gate) for _ in range(40)))
    assert inner.most == 3
    assert all(a[0]["status"] == 200 and a[1]["body"] == b"ok" for a in answers)


async def test_a_streaming_body_does_not_hold_a_slot() -> None:
    inner = Inner()
    gate = ConnectionGate(inner, limit=1)  # type: ignore[arg-type]
    stream = asyncio.create_task(_call(gate, "/stream"))
    await asyncio.wait_for(inner.streaming.wait(), 2)
    # The video is still being sent, yet the next request gets in.
    answer = await asyncio.wait_for(_call(gate), 2)
    assert answer[0]["status"] == 200
    inner.finish_stream.set()
    await stream


async def test_a_failing_request_gives_its_slot_back() -> None:
    gate = ConnectionGate(Inner(), limit=1)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await _call(gate, "/boom")
    answer = await asyncio.wait_for(_call(gate), 2)
    assert answer[0]["status"] == 200


def test_the_gate_matches_the_pool(runtime: Runtime, db_backend: str) -> None:
    app = create_app(runtime)
    gates = [m for m in app.user_middleware if m.cls is ConnectionGate]
    if db_backend == "postgres":
        assert runtime.db.max_connections == POOL_SIZE + POOL_OVERFLOW
        assert runtime.db.engine.pool.size() == POOL_SIZE  # type: ignore[attr-defined]
        assert [g.kwargs["limit"] for g in gates] == [POOL_SIZE + POOL_OVERFLOW]
    else:
        # SQLite opens a connection per session: nothing to run out of.
        assert runtime.db.max_connections is None and not gates
