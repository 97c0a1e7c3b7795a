"""Browser tests: a real uvicorn server on 127.0.0.1 and Debian's Chromium through Playwright.

SQLite only, and nothing leaves the machine: the map's tile server is an unreachable
local address, so the pages are also checked to work without map tiles.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from tests.conftest import make_settings

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.runtime import Runtime

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """Bound before the server starts, so the port cannot be taken in between."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, listening_socket: socket.socket) -> Settings:
    port = listening_socket.getsockname()[1]
    return make_settings(
        tmp_path,
        database_url,
        base_url=f"http://127.0.0.1:{port}",
        tile_url=UNREACHABLE_TILES,
    )


@pytest.fixture
def live_server(runtime: Runtime, listening_socket: socket.socket) -> Iterator[str]:
    """The app with its in-process worker, served by uvicorn in a thread; yields its base URL."""
    config = uvicorn.Config(
        create_app(runtime, run_worker=True), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listening_socket]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield runtime.settings.base_url
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module: Playwright's sync API keeps an event loop running
    while it is open, which the asyncio tests of other folders must not inherit."""
    if not Path(CHROMIUM).exists():
        message = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# Runs in every document before its own scripts (Playwright injects it outside the page's
# content security policy) and hands each violation the browser reports to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportCspViolation(
    event.effectiveDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber
  );
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the browser refused under the content security policy during the test."""
    return []


@pytest.fixture
def page(
    browser: Browser, live_server: str, csp_violations: list[str], request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context on the live server; a screenshot lands in test-artifacts/
    when the test fails. Uncaught script errors and content security policy violations
    fail the test."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    context.expose_function("reportCspViolation", lambda report: csp_violations.append(report))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    tab = context.new_page()
    script_errors: list[str] = []
    tab.on("pageerror", lambda exc: script_errors.append(str(exc)))
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert script_errors == [], f"uncaught script errors: {script_errors}"
    assert csp_violations == [], f"content security policy violations: {csp_violations}"
