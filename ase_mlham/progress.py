"""A dependency-free progress bar for long command-line jobs (stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Prints ``label [#####     ] done/total  elapsed  eta  message``.

    On a terminal the line is redrawn in place; otherwise (logs, CI) a line is
    written every ``log_every`` seconds and at the end, so logs stay short.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 enabled: bool = True, log_every: float = 10.0, width: int = 30) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.log_every = log_every
        self.width = width
        self.done = 0
        self.start = time.perf_counter()
        self._last_log = -float("inf")
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n: int = 1, message: str = "") -> None:
        """Advance by ``n`` steps and redraw."""
        self.done += n
        now = time.perf_counter()
        final = self.done >= self.total
        if not self.enabled or (not self._interactive and not final and now - self._last_log < self.log_every):
            return
        self._last_log = now
        elapsed = now - self.start
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(self.width * min(fraction, 1.0)))
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        line = (f"{self.label} [{'#' * filled}{' ' * (self.width - filled)}] {self.done}/{self.total}"
                f"  {elapsed:6.1f}s  eta {eta:6.1f}s  {message}")
        end = "\r" if self._interactive and not final else "\n"
        self.stream.write(("\r" if self._interactive else "") + line + end)
        self.stream.flush()

    def write(self, message: str) -> None:
        """Print a message line without disturbing the bar."""
        if self._interactive:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        self.stream.flush()
