"""The ``doorstep`` command run as a real process, for the tests that drive it."""

from __future__ import annotations

import os
import subprocess
import sys


def run_doorstep(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -m doorstep ARGS`` with ``env`` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "doorstep", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=check,
    )
