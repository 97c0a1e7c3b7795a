"""Local receivers for the notices a worker sends: an SMTP server (aiosmtpd) and a
webhook receiver (uvicorn), in a separate process, counting what arrives. ``/stats`` on
the webhook port answers the counts as JSON. Two ways of counting: :class:`Deliveries`
(the fan-out: how many and how many distinct) and :class:`KeyedArrivals` (the kill test:
each recipient and each delivery key, to find the lost and the doubled)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.machine import free_port


class Deliveries:
    """Emails and webhooks received, distinct recipients and delivery keys."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {"emails": 0, "webhooks": 0, "last": 0.0}
        self.recipients: set[str] = set()
        self.deliveries: set[str] = set()

    def email(self, recipients: list[str]) -> None:
        with self.lock:
            self.state["emails"] += 1
            self.recipients.update(recipients)
            self.state["last"] = time.time()

    def webhook(self, key: str) -> None:
        with self.lock:
            self.state["webhooks"] += 1
            self.deliveries.add(key)
            self.state["last"] = time.time()

    def stats(self) -> bytes:
        with self.lock:
            return json.dumps(
                {
                    **self.state,
                    "distinct_recipients": len(self.recipients),
                    "distinct_deliveries": len(self.deliveries),
                }
            ).encode()


class KeyedArrivals:
    """Every arrival by email recipient and by webhook delivery key (the kill test: what
    was lost, what came twice and whether a key protects it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.emails: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.unkeyed = 0
        self.last = 0.0

    def email(self, recipients: list[str]) -> None:
        with self.lock:
            for to in recipients:
                self.emails[to] = self.emails.get(to, 0) + 1
            self.last = time.time()

    def webhook(self, key: str) -> None:
        with self.lock:
            if key:
                self.keys[key] = self.keys.get(key, 0) + 1
            else:
                self.unkeyed += 1
            self.last = time.time()

    def stats(self) -> bytes:
        with self.lock:
            emails, keys = self.emails, self.keys
            return json.dumps(
                {
                    "emails": sum(emails.values()),
                    "email_recipients": len(emails),
                    "doubled_emails": sum(n - 1 for n in emails.values()),
                    "webhooks": sum(keys.values()) + self.unkeyed,
                    "webhook_keys": len(keys),
                    "repeated_keys": sum(1 for n in keys.values() if n > 1),
                    "repeat_arrivals": sum(n - 1 for n in keys.values()),
                    "unkeyed": self.unkeyed,
                    "last": self.last,
                }
            ).encode()


Counts = type[Deliveries] | type[KeyedArrivals]


def _sink_main(smtp_port: int, http_port: int, counts_type: Counts, delay_s: float) -> None:
    """Both receivers, until the process is terminated; a webhook answers after
    ``delay_s`` (a slow receiver)."""
    import asyncio

    import uvicorn
    from aiosmtpd.controller import Controller

    counts = counts_type()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts.email(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["path"] == "/stats":
            body, status = counts.stats(), 200
        else:
            if delay_s:
                await asyncio.sleep(delay_s)
            counts.webhook(dict(scope["headers"]).get(b"x-doorstep-delivery", b"").decode())
            body, status = b"", 204
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=http_port, log_level="warning", access_log=False, lifespan="off"
    )
    asyncio.run(uvicorn.Server(config).serve())


class Sinks:
    """The receivers' process: started, asked for its counts, stopped."""

    def __init__(self, counts_type: Counts, delay_s: float = 0.0) -> None:
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_sink_main,
            args=(self.smtp_port, self.http_port, counts_type, delay_s),
            daemon=True,
        )

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/hook"

    def worker_env(self, database_url: str, data_dir: Path) -> dict[str, str]:
        """The environment of a ``doorstep worker`` on ``database_url`` that sends its
        emails and webhooks here (and polls the outbox every 50 ms)."""
        return {
            **os.environ,
            "DOORSTEP_DATABASE_URL": database_url,
            "DOORSTEP_DATA_DIR": str(data_dir),
            "DOORSTEP_SMTP_HOST": "127.0.0.1",
            "DOORSTEP_SMTP_PORT": str(self.smtp_port),
            "DOORSTEP_SMTP_STARTTLS": "false",
            "DOORSTEP_WORKER_POLL_S": "0.05",
            # The webhook sink is plain http on 127.0.0.1, refused unless the operator
            # allows it.
            "DOORSTEP_WEBHOOK_ALLOW_HTTP": "true",
            "DOORSTEP_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1",
        }

    def start(self) -> None:
        self.process.start()
        until = time.monotonic() + 30
        while time.monotonic() < until:
            try:
                self.stats()
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the sinks did not start")

    def stats(self) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{self.http_port}/stats", timeout=5.0)
        result: dict[str, Any] = answer.json()
        return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)
