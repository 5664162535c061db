"""Progress of long work: a bar on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("loans.progress")

WIDTH = 30
LOG_EVERY_SECONDS = 5.0


class Progress:
    """``update(done)`` out of ``total``; redraws a bar on a TTY, otherwise logs a
    line at most every few seconds (and at the end)."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total = label, max(total, 0)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.perf_counter()
        self._last_log = 0.0
        self._done = 0
        self._closed = False

    def update(self, done: int, note: str = "") -> None:
        self._done = done
        elapsed = time.perf_counter() - self.started
        if self.tty:
            filled = WIDTH * done // self.total if self.total else WIDTH
            bar = "#" * filled + "." * (WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {note} "
                              f"{elapsed:.1f}s ")
            self.stream.flush()
        elif done >= self.total or elapsed - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = elapsed
            log.info("%s: %d/%d %s (%.1f s)", self.label, done, self.total, note, elapsed)

    def close(self) -> None:
        if self.tty and not self._closed:
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True
