"""deploy/ says what the app does: nginx's limits and timeouts are the app's defaults, and the
systemd units run commands and options that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer

from doorstep.cli import app
from doorstep.config import Settings
from doorstep.routing import MULTIPART_OVERHEAD_BYTES

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
CLIP_LOCATION = "location ~ ^/api/v1/cameras/[^/]+/(clips|uploads/[^/]+)$ {"


def _directive(block: str, name: str) -> str:
    [value] = re.findall(rf"^\s*{name}\s+([^;]+);", block, flags=re.M)
    return value.strip()


def _blocks(conf: str) -> tuple[str, str]:
    """The TLS server block without its clip-upload location, and that location."""
    server = conf[conf.index("listen 443") :]
    start = server.index(CLIP_LOCATION)
    end = server.index("}", start)
    return server[:start] + server[end + 1 :], server[start:end]


def test_nginx_limits_and_timeouts_are_the_apps() -> None:
    defaults = Settings()
    server, clip_upload = _blocks((DEPLOY / "nginx" / "doorstep.conf").read_text())
    assert int(_directive(server, "client_max_body_size")) == defaults.max_body_bytes
    clip_limit = defaults.max_clip_bytes + MULTIPART_OVERHEAD_BYTES
    assert int(_directive(clip_upload, "client_max_body_size")) == clip_limit
    assert _directive(clip_upload, "proxy_request_buffering") == "off"
    assert _directive(server, "client_body_timeout") == f"{defaults.body_idle_timeout_s:g}s"
    # the upload paths are the ones the app limits as clips
    from doorstep.routing import _CLIP_UPLOAD_PATHS

    pattern = re.compile(CLIP_LOCATION.split()[2])
    for path in _CLIP_UPLOAD_PATHS:
        assert pattern.match(re.sub(r"\{[^}]+\}", "x1", path)), path
    metrics = server[server.index("location = /metrics") :]
    assert "deny all;" in metrics[: metrics.index("}")]


def _command_line(unit: str) -> list[str]:
    [line] = re.findall(r"^ExecStart=(.+)$", (DEPLOY / "systemd" / unit).read_text(), re.M)
    words = shlex.split(line.replace("%i", "9101"))
    return words[words.index("/opt/doorstep/venv/bin/doorstep") + 1 :]


def test_systemd_units_run_real_commands() -> None:
    root: Any = typer.main.get_command(app)
    for unit in ("doorstep-web.service", "doorstep-worker@.service"):
        args = _command_line(unit)
        command = root.get_command(root.make_context("doorstep", [args[0]]), args[0])
        assert command is not None, unit
        # parsing refuses an option the command does not have
        command.make_context(args[0], args[1:])
    assert _command_line("doorstep-web.service")[:1] == ["serve"]
    assert "--metrics-port" in _command_line("doorstep-worker@.service")
