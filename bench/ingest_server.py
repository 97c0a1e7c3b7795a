"""The ingest benchmark's server: the app under uvicorn in a separate process (spawned),
on 127.0.0.1 and a free port, with the benchmark's own database and data folder."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path

import httpx
import structlog

from bench.machine import free_port
from doorstep.config import Settings
from doorstep.runtime import Runtime

__all__ = ["start_server"]


def _serve(database_url: str, data_dir: str, port: int) -> None:
    import uvicorn

    from doorstep.app import create_app

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runtime = Runtime(Settings(database_url=database_url, data_dir=Path(data_dir)))
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


def _wait_ready(base: str, deadline_s: float = 120.0) -> None:
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        try:
            httpx.get(f"{base}/api/v1/openapi.json", timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the uvicorn server did not start")


def start_server(ingest_url: str, data_dir: str) -> tuple[multiprocessing.process.BaseProcess, int]:
    """The app under uvicorn in a separate process, answering; and its port."""
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(ingest_url, data_dir, port), daemon=True
    )
    server.start()
    _wait_ready(f"http://127.0.0.1:{port}")
    return server, port
