"""The apps under load, served by uvicorn on 127.0.0.1 in separate processes (``spawn``)
that share one port with ``SO_REUSEPORT``: :func:`doorstep.app.create_app`, or the plain
FastAPI baseline of :mod:`bench.plain_app` under the same uvicorn settings.

Each doorstep process adds two bare endpoints to the same app: ``GET /bench/bare``
(``async def``) and ``GET /bench/bare-sync`` (a plain ``def``, so it runs in the threadpool
like every doorstep route). Both go through everything the app puts in front of a route:
uvicorn (uvloop, httptools), Starlette's error middleware, the app's pure-ASGI middleware
(security headers, request ids, the request timer, the connection gate), FastAPI's
exception middleware, doorstep's routing and the JSON response. They bypass the rest of a
doorstep request: the database session and its transaction (pool checkout, ``BEGIN``,
``COMMIT``), authentication (the token's hash lookup and the user), the service's
queries, the pydantic response model and, for pages, the Jinja template.

The workers log to files (structlog filtered to warnings) that the benchmark reads for
unhandled errors; a server can wait until it is idle again (:meth:`Servers.drain`) and
be restarted.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI

from bench.machine import cpu_s, free_port
from bench.plain_app import PLAIN_SELECT_PATH, create_plain_app
from doorstep.config import Settings
from doorstep.runtime import Runtime

BARE_PATH = "/bench/bare"

BARE_SYNC_PATH = "/bench/bare-sync"

DOORSTEP = "doorstep"

PLAIN = "plain"

# Per app: a ``def`` route (it needs a threadpool thread) that says the server is idle.
PROBE_PATHS = {DOORSTEP: BARE_SYNC_PATH, PLAIN: PLAIN_SELECT_PATH}


def add_bare_endpoints(app: FastAPI) -> None:
    """The ceiling: two routes that answer a constant, with no dependency at all."""

    async def bare() -> dict[str, bool]:
        return {"ok": True}

    def bare_sync() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route(BARE_PATH, bare, methods=["GET"], include_in_schema=False)
    app.add_api_route(BARE_SYNC_PATH, bare_sync, methods=["GET"], include_in_schema=False)


def _app(kind: str, database_url: str, data_dir: str) -> FastAPI:
    if kind == PLAIN:
        return create_plain_app(database_url)
    from doorstep.app import create_app

    runtime = Runtime(Settings(database_url=database_url, data_dir=Path(data_dir)))
    app = create_app(runtime)
    add_bare_endpoints(app)
    return app


def _serve(
    kind: str,
    database_url: str,
    data_dir: str,
    port: int,
    ready: multiprocessing.synchronize.Event,
    log_path: str,
) -> None:
    import uvicorn

    # The worker's output (uvicorn's and the app's log lines) goes to a file the
    # benchmark reads for unhandled errors (a request wrk gave up on is not in its counts).
    sys.stdout = sys.stderr = open(log_path, "a", buffering=1)  # noqa: SIM115
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    app = _app(kind, database_url, data_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=2048
    )
    server = uvicorn.Server(config)

    def signal_ready() -> None:
        while not server.started:
            time.sleep(0.05)
        ready.set()

    threading.Thread(target=signal_ready, daemon=True).start()
    server.run(sockets=[sock])


class Servers:
    """``workers`` uvicorn processes of one app (``kind``: doorstep or the plain baseline)
    on one port (SO_REUSEPORT); restartable."""

    def __init__(
        self, database_url: str, data_dir: str, workers: int, kind: str = DOORSTEP
    ) -> None:
        self.database_url, self.data_dir, self.workers = database_url, data_dir, workers
        self.kind = kind
        self.generation = 0
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.logs: list[Path] = []
        self.read_up_to: dict[Path, int] = {}
        self.start()

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        logs = [
            Path(self.data_dir) / f"uvicorn-{self.kind}-{self.generation}-{n}.log"
            for n in range(self.workers)
        ]
        self.logs.extend(logs)
        events = []
        for log in logs:
            ready = context.Event()
            process = context.Process(
                target=_serve,
                args=(self.kind, self.database_url, self.data_dir, self.port, ready, str(log)),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
            events.append(ready)
        until = time.monotonic() + 60.0
        for ready, started in zip(events, self.processes, strict=True):
            while not ready.wait(0.2):
                if not started.is_alive():
                    self.stop()
                    raise RuntimeError("a uvicorn worker exited before it started")
                if time.monotonic() > until:
                    self.stop()
                    raise RuntimeError("the uvicorn workers did not start within 60 s")

    def restart(self) -> None:
        self.stop()
        self.generation += 1
        self.start()

    def read_log(self) -> str:
        """What the workers wrote since the last call."""
        parts = []
        for log in self.logs:
            if not log.exists():
                continue
            with log.open("rb") as stream:
                stream.seek(self.read_up_to.get(log, 0))
                data = stream.read()
            self.read_up_to[log] = self.read_up_to.get(log, 0) + len(data)
            parts.append(data.decode(errors="replace"))
        return "".join(parts)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def cpu_s(self) -> float:
        return sum(cpu_s(pid) for pid in self.pids)

    def drain(self, cap_s: float) -> tuple[float, bool]:
        """Wait until the requests wrk left behind are done: the workers are idle and a
        ``def`` route (it needs a threadpool thread, as every doorstep route) answers. Idle
        alone is not enough: threads blocked on the database pool use no CPU."""
        started = time.monotonic()
        last = self.cpu_s()
        window = 0.25
        while (left := cap_s - (time.monotonic() - started)) > 0:
            time.sleep(window)
            now = self.cpu_s()
            idle = now - last < 0.05 * window * len(self.processes)
            last = now
            if not idle:
                continue
            try:
                answered = httpx.get(f"{self.base}{PROBE_PATHS[self.kind]}", timeout=max(left, 0.1))
            except httpx.HTTPError:
                continue
            if answered.status_code == 200:
                return time.monotonic() - started, True
            last = self.cpu_s()
        return time.monotonic() - started, False

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
        self.processes = []


def uvicorn_setup() -> dict[str, str]:
    import importlib.util

    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return {"uvicorn": uvicorn.__version__, "loop": loop, "http": http}
