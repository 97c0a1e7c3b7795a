"""The demo's own helpers (issue 15, item 10): the demo officer's code command, and
session cookies an HTTP client keeps when the demo serves plain http on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from doorstep.demo import DEMO_MARKER, serving_environment
from tests.commands import run_doorstep as _doorstep
from tests.factories import csrf_of


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo built once for the module; its folder and the officer's TOTP secret."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    built = _doorstep("demo", "--no-serve", "--data-dir", str(folder), env={})
    assert f"doorstep demo-code --data-dir {folder}" in built.stdout
    assert "import pyotp" not in built.stdout
    secret = re.search(r"TOTP secret ([A-Z2-7]+)", built.stdout)
    assert secret is not None and (folder / DEMO_MARKER).is_file()
    return folder, secret.group(1)


def _demo_code(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _doorstep("demo-code", *args, env=env or {}, check=False)


def test_the_code_command_serves_the_demo_officer_only(
    demo_dir: tuple[Path, str], tmp_path: Path
) -> None:
    folder, secret = demo_dir
    for args in ((), ("officer@example.org",), (" Officer@Example.org ",)):
        shown = _demo_code(*args, "--data-dir", str(folder))
        assert shown.returncode == 0, shown.stderr
        assert pyotp.TOTP(secret).verify(shown.stdout.strip(), valid_window=1)
    for other in ("admin@example.org", "resident@example.org", "someone@example.net"):
        refused = _demo_code(other, "--data-dir", str(folder))
        assert refused.returncode == 2 and not refused.stdout
        assert "only for the demo officer" in refused.stderr

    # Not the demo: a plain instance, a missing folder, or the demo's folder with
    # another database behind it.
    plain = tmp_path / "instance"
    _doorstep("migrate", env={"DOORSTEP_DATA_DIR": str(plain)})
    elsewhere = {"DOORSTEP_DATABASE_URL": f"sqlite:///{plain / 'doorstep.db'}"}
    for args, env in (
        (("--data-dir", str(plain)), None),
        (("--data-dir", str(tmp_path / "nothing")), None),
        (("--data-dir", str(folder)), elsewhere),
    ):
        refused = _demo_code(*args, env=env)
        assert refused.returncode == 2 and not refused.stdout, args
        assert "not the demo" in refused.stderr
    assert not (tmp_path / "nothing").exists()


def test_cookies_are_secure_except_for_plain_http_on_loopback() -> None:
    def cookie_setting(host: str, **environ: str) -> str | None:
        env = serving_environment(data_dir=Path("d"), host=host, port=8123, environ=environ)
        return env.get("DOORSTEP_COOKIE_SECURE")

    assert serving_environment(data_dir=Path("d"), host="127.0.0.1", port=8123, environ={}) == {
        "DOORSTEP_DATA_DIR": "d",
        "DOORSTEP_BASE_URL": "http://127.0.0.1:8123",
        "DOORSTEP_COOKIE_SECURE": "false",
    }
    assert cookie_setting("localhost") == cookie_setting("::1") == "false"
    # Served beyond this machine, or behind https: Secure stays.
    assert cookie_setting("0.0.0.0") is None
    assert cookie_setting("192.168.1.20") is None
    assert cookie_setting("127.0.0.1", DOORSTEP_BASE_URL="https://demo.example.org") is None
    assert cookie_setting("127.0.0.1", DOORSTEP_BASE_URL="http://demo.example.org") is None
    # What the person set wins.
    assert cookie_setting("127.0.0.1", DOORSTEP_COOKIE_SECURE="true") is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served_demo(demo_dir: tuple[Path, str]) -> Iterator[str]:
    """``doorstep demo --port`` serving the built demo; yields its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "doorstep", "demo", "--data-dir", str(demo_dir[0])]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_an_http_client_keeps_the_demo_session_on_plain_http(
    served_demo: str, demo_dir: tuple[Path, str]
) -> None:
    """A real client over plain http: the cookies are not Secure, so it keeps them, signs
    the officer in with the code the demo command shows, and stays signed in."""
    with httpx.Client(base_url=served_demo, timeout=30) as client:
        page = client.get("/signin")
        signed = client.post(
            "/signin",
            data={
                "csrf_token": csrf_of(page.text),
                "email": "officer@example.org",
                "password": "doorstep-demo",
                "next": "/account",
            },
        )
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("doorstep_session=") and "secure" not in cookie.lower()
        for _ in range(3):
            code = _demo_code("--data-dir", str(demo_dir[0])).stdout.strip()
            page = client.get("/signin/2fa")
            second = client.post(
                "/signin/2fa",
                data={"csrf_token": csrf_of(page.text), "code": code, "next": "/account"},
            )
            if "just used" not in second.text:  # the demo's setup spent this step
                break
            time.sleep(30 - time.time() % 30 + 0.5)
        assert second.status_code == 303, second.text
        account = client.get("/account", headers={"accept": "text/html"})
        assert account.status_code == 200 and "officer@example.org" in account.text
