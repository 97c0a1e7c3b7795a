"""Real ``doorstep`` processes for the tests that run an instance as production does:
web processes and workers started with the CLI, waited for on ``/readyz``, their logs kept
in files, every one of them stopped at the end, even when the test fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import httpx

from tests.servers import free_port

T = TypeVar("T")

# Generous: five processes importing PyAV and OpenCV at once on a loaded 2-core machine.
START_TIMEOUT_S = 180.0


@dataclass
class DoorstepProcess:
    """One running ``python -m doorstep ...``, its output going to ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    url: str | None = None  # a web process's address

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=20)
        self.log_file.close()


@dataclass
class ProcessGroup:
    """Processes of one instance sharing an environment (database, storage, mail)."""

    env: dict[str, str]
    log_dir: Path
    processes: list[DoorstepProcess] = field(default_factory=list)

    def start(self, name: str, *args: str, url: str | None = None) -> DoorstepProcess:
        data_dir = self.log_dir / name  # each process its own data dir, as separate machines
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "doorstep", *args],
            env={**os.environ, **self.env, "DOORSTEP_DATA_DIR": str(data_dir)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        process = DoorstepProcess(name, popen, log_path, log_file, url)
        self.processes.append(process)
        return process

    def serve(self, name: str) -> DoorstepProcess:
        port = free_port()
        return self.start(
            name, "serve", "--host", "127.0.0.1", "--port", str(port),
            url=f"http://127.0.0.1:{port}",
        )  # fmt: skip

    def worker(self, name: str) -> DoorstepProcess:
        return self.start(name, "worker")

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until every web process answers ``/readyz`` with 200 and every process
        still runs."""
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            while True:
                self.check_running()
                if process.url is None or _ready(process.url):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{process.name} was not ready in {timeout_s:.0f} s")
                time.sleep(0.5)

    def check_running(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None:
                raise AssertionError(f"{process.name} exited with {code}")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in self.processes:
            process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"----- {p.name} ({p.log_path})\n{p.log()[-6000:]}" for p in self.processes
        )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False  # not listening yet


@contextmanager
def process_group(env: dict[str, str], log_dir: Path) -> Iterator[ProcessGroup]:
    """A group whose processes are all stopped on the way out; their logs are printed
    when the body failed (pytest shows them with the failure)."""
    group = ProcessGroup(env, log_dir)
    try:
        yield group
    except BaseException:
        print(group.logs())
        raise
    finally:
        group.stop_all()


def eventually(
    check: Callable[[], T | None], *, what: str, group: ProcessGroup, timeout_s: float = 180.0
) -> T:
    """Poll ``check`` until it answers something truthy (the processes must stay up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        group.check_running()
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
