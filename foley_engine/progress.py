"""Progress reporting shared by the pipeline, the CLI and the editor adapters.

Stages report a fraction of their own work; `StageProgress` turns that into an overall fraction with fixed
stage weights, so a bar or an editor's status line moves smoothly instead of jumping per stage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

from .errors import Cancelled
from .protocol import ProgressLine, write_line


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "probe", "pose", "notes", "synth", "write", or a caller's stage name
    fraction: float  # of this stage, 0..1
    overall: float  # of the whole job, 0..1
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]
#: `--progress`: a bar on a terminal, the protocol's JSON lines on stdout, nothing, or "auto" (a bar on a tty)
ProgressMode = Literal["auto", "bar", "json", "none"]
PROGRESS_MODES: tuple[ProgressMode, ...] = ("auto", "bar", "json", "none")
StageCallback = Callable[[float, str], None]


class StageProgress:
    """Maps per-stage fractions onto one overall fraction; hands each stage a `(fraction, message)` callback."""

    def __init__(self, weights: dict[str, float], sink: ProgressCallback | None,
                 should_cancel: Callable[[], bool] | None = None):
        total = sum(weights.values())
        self._offsets: dict[str, float] = {}
        self._weights: dict[str, float] = {}
        acc = 0.0
        for stage, weight in weights.items():
            self._offsets[stage] = acc / total
            self._weights[stage] = weight / total
            acc += weight
        self._sink = sink
        self._should_cancel = should_cancel

    def report(self, stage: str, fraction: float, message: str = "") -> None:
        if self._should_cancel is not None and self._should_cancel():
            raise Cancelled("cancelled")
        if self._sink is None:
            return
        fraction = min(1.0, max(0.0, fraction))
        overall = self._offsets[stage] + self._weights[stage] * fraction
        self._sink(ProgressEvent(stage, fraction, round(overall, 4), message))

    def stage(self, stage: str) -> StageCallback:
        def report(fraction: float, message: str = "") -> None:
            self.report(stage, fraction, message)

        return report


class JsonLinesProgress:
    """The protocol's progress lines (protocol.ProgressLine), at most one per stage every `min_interval`
    seconds: what the Blender/Resolve adapters and the panel parse."""

    def __init__(self, stream: TextIO = sys.stdout, min_interval: float = 0.1):
        self._stream = stream
        self._min_interval = min_interval
        self._last: tuple[str, float] = ("", 0.0)

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        stage_changed = event.stage != self._last[0]
        if not stage_changed and event.fraction < 1.0 and now - self._last[1] < self._min_interval:
            return
        self._last = (event.stage, now)
        write_line(ProgressLine.of(event), self._stream)


class TerminalBar:
    """A single-line bar on a terminal (stderr), redrawn in place."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30):
        self._stream = stream
        self._width = width
        self._last_draw = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.overall < 1.0 and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        filled = int(round(self._width * event.overall))
        bar = "█" * filled + "·" * (self._width - filled)
        line = f"\r{bar} {event.overall * 100:5.1f}%  {event.stage:<6} {event.message[:40]:<40}"
        self._stream.write(line)
        if event.overall >= 1.0:
            self._stream.write("\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\r" + " " * (self._width + 60) + "\r")
        self._stream.flush()
