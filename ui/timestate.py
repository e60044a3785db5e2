"""The one time cursor and visible window every view follows, so video, piano roll and waveform never disagree.

Times are seconds from the generated range's start: the same clock as the notes and the audio samples.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

#: Narrowest visible window when zooming in, seconds: a few frames, enough to place a cursor on one note.
MIN_SPAN = 0.25


class TimeState(QObject):
    cursorChanged = Signal(float)
    viewChanged = Signal(float, float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.duration = 0.0
        self.cursor = 0.0
        self.view_start = 0.0
        self.view_end = 0.0

    def reset(self, duration: float) -> None:
        """A new range: cursor to its start, the whole range visible."""
        self.duration = max(0.0, duration)
        self.set_view(0.0, self.duration)
        self.set_cursor(0.0)

    def set_cursor(self, seconds: float, follow: bool = False) -> None:
        """Move the cursor; with `follow` (playback) page the view so the cursor stays visible."""
        seconds = min(self.duration, max(0.0, seconds))
        self.cursor = seconds
        span = self.view_end - self.view_start
        if follow and span < self.duration and not self.view_start <= seconds <= self.view_end:
            self.set_view(seconds, seconds + span)
        self.cursorChanged.emit(seconds)

    def set_view(self, start: float, end: float) -> None:
        """Show [start, end], kept inside the range and at least MIN_SPAN wide."""
        span = min(self.duration, max(MIN_SPAN, end - start)) if self.duration else 0.0
        start = min(max(0.0, start), self.duration - span)
        self.view_start, self.view_end = start, start + span
        self.viewChanged.emit(self.view_start, self.view_end)

    def zoom(self, factor: float, anchor: float) -> None:
        """Scale the visible span by `factor` (< 1 zooms in) keeping the time `anchor` where it is on screen."""
        span = self.view_end - self.view_start
        if span <= 0:
            return
        ratio = (anchor - self.view_start) / span
        new_span = span * factor
        self.set_view(anchor - ratio * new_span, anchor - ratio * new_span + new_span)

    def pan(self, seconds: float) -> None:
        self.set_view(self.view_start + seconds, self.view_end + seconds)
