"""The machine a benchmark runs on: its description, CPU seconds from ``/proc``, a free
local port."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPUs, CPU model, memory, platform and Python, for the results' header."""
    meminfo = Path("/proc/meminfo")
    cpuinfo = Path("/proc/cpuinfo")
    memory_kb = (
        next(
            (
                int(line.split()[1])
                for line in meminfo.read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if meminfo.exists()
        else 0
    )
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if cpuinfo.exists()
        else platform.processor()
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
