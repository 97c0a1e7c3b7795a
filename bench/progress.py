"""Progress lines of a bulk load on stderr, at most one a second per table."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress lines on stderr, at most one a second per table."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.label, self.total, self.done, self.started, self.shown = "", 0, 0, 0.0, 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.perf_counter()

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.perf_counter()
        if now - self.shown >= self.every_s or self.done >= self.total:
            self.shown = now
            elapsed = max(now - self.started, 1e-9)
            share = self.done / self.total if self.total else 1.0
            print(
                f"{self.label}: {self.done:,}/{self.total:,} ({share:.0%}),"
                f" {self.done / elapsed:,.0f} rows/s, {elapsed:.0f} s",
                file=self.stream,
                flush=True,
            )

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)
