"""A one-line progress bar for the terminal (count, ETA, current file), a run summary, and the
progress line of long work that is not pages (grouping sheets)."""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Progress:
    """Redraws one line on a terminal; prints one line per step elsewhere (logs, CI)."""

    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)  # the stderr of now, not import
    width: int = 24
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _model_steps: int = 0
    _model_seconds: float = 0.0

    def update(self, name: str, *, model_seconds: float | None = None) -> None:
        """One more page done; `model_seconds` when the model ran (skips do not count for ETA)."""
        self.done += 1
        if model_seconds is not None:
            self._model_steps += 1
            self._model_seconds += model_seconds
        self.stream.write(self._line(name) + ("\r" if self.stream.isatty() else "\n"))
        self.stream.flush()

    def _line(self, name: str) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        eta = "--:--"
        if self._model_steps:
            eta = clock(self._model_seconds / self._model_steps * (self.total - self.done))
        if len(name) > 40:
            name = "..." + name[-37:]
        return f"[{bar}] {self.done}/{self.total} ETA {eta} {name}".ljust(100)

    def close(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")


@dataclass
class StageProgress:
    """ "stage: done of total (elapsed)" while work goes on: redrawn each second on a terminal, a
    line a minute elsewhere; nothing for work over in its first seconds."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0
    _drawn: bool = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        every = 1.0 if self.stream.isatty() else 60.0
        if now - self.started < 3.0 or now - self._last < every:
            return
        self._last = now
        line = f"{stage}: {done:,} of {total:,} ({clock(now - self.started)})"
        self.stream.write(line.ljust(60) + ("\r" if self.stream.isatty() else "\n"))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self.stream.isatty():
            self.stream.write("\n")


@dataclass
class Summary:
    """Counts of outcomes and the median seconds per labeled worksheet."""

    outcomes: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)

    def add(self, status: str, outcome: str, seconds: float | None) -> None:
        self.outcomes[status if status in ("skipped", "failed") else outcome] += 1
        if status == "labeled" and seconds is not None:
            self.seconds.append(seconds)

    @property
    def model_failures(self) -> int:
        """Pages the model failed on (not files that could not be read)."""
        return self.outcomes["failed"]

    def lines(self) -> list[str]:
        counts = self.outcomes
        labeled = counts["labeled"]
        parts = [
            f"labeled {labeled}",
            f"unsupported {counts['unsupported']}",
            f"unparseable {counts['unparseable'] + counts['truncated']}",
            f"file errors {counts['error']}",
            f"model failures {counts['failed']}",
            f"skipped (already labeled) {counts['skipped']}",
        ]
        median = f"{statistics.median(self.seconds):.2f} s" if self.seconds else "n/a"
        return [", ".join(parts), f"median seconds per worksheet: {median}"]
