"""Take the README's screenshot (docs/screenshot.png): the demo, a resident's timeline at
1280x800 in Debian's Chromium.

    .venv/bin/python scripts/screenshot.py

It builds a fresh demo in a temporary folder, serves it on a free port, signs in as the
demo resident and photographs the page with today's navigation.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "doorstep", "demo", "--data-dir", folder]
        server = subprocess.Popen([*command, "--port", str(port)], cwd=folder)
        try:
            deadline = time.monotonic() + 180
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the demo did not start")
                time.sleep(0.5)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=FLAGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                base = f"http://127.0.0.1:{port}"
                page.goto(f"{base}/signin")
                page.fill('input[name="email"]', "resident@example.org")
                page.fill('input[name="password"]', "doorstep-demo")
                page.click('button[type="submit"]')
                page.goto(f"{base}/timeline")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(ROOT / "docs" / "screenshot.png")


if __name__ == "__main__":
    main()
