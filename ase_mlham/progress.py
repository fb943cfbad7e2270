"""Progress bars of long command-line jobs: tqdm, with the label, message and logging behaviour the
commands share."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


class ProgressBar:
    """``label: 40%|####      | done/total [elapsed<eta, message]`` on ``stream`` (stderr by default).

    On a terminal the bar is redrawn in place; otherwise (logs, CI) at most every ``log_every``
    seconds, so logs stay short. :meth:`write` lines are printed even when the bar is disabled
    (``enabled=False``, the commands' ``--quiet``): they report events, not progress.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 enabled: bool = True, log_every: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar = tqdm(total=max(int(total), 0), desc=label, file=self.stream, disable=not enabled,
                         mininterval=0.1 if interactive else log_every, dynamic_ncols=interactive,
                         ascii=not interactive)

    def update(self, n: int = 1, message: str = "") -> None:
        """Advance by ``n`` steps, showing ``message`` after the bar; closes the bar at its total."""
        if message:
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.update(n)
        if self._bar.total and self._bar.n >= self._bar.total:
            self._bar.close()

    def write(self, message: str) -> None:
        """Print a message line without disturbing the bar."""
        if self._bar.disable:
            self.stream.write(message + "\n")
            self.stream.flush()
        else:
            self._bar.write(message, file=self.stream)
