"""The generated notes as a piano roll: time across, pitch up, a keyboard with octave names, velocity as colour.

Notes under the cursor light up, on the roll and on the keyboard, so during playback you can see which
note you are hearing. The pitch axis fits the notes (at least two octaves), because a full 88-key roll
would squash a melody into a few pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from foley_engine import Note

from .. import theme
from ..timestate import TimeState
from .timeview import GUTTER, TimeView

RULER = 24  # px: the time ruler on top
MIN_PITCHES = 25  # two octaves and a bit, so a few notes never fill the roll
_BLACK_KEYS = {1, 3, 6, 8, 10}
_NAMES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")
_TICK_STEPS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)


def pitch_name(pitch: int) -> str:
    """MIDI pitch -> scientific name, middle C (60) = C4."""
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


def time_label(seconds: float, step: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return f"{int(minutes)}:{rest:0{3 + decimals if decimals else 2}.{decimals}f}"


def tick_step(span: float, width: float, min_px: float = 80.0) -> float:
    """The smallest round step whose labels are at least `min_px` apart."""
    for step in _TICK_STEPS:
        if step / max(span, 1e-9) * width >= min_px:
            return step
    return _TICK_STEPS[-1]


def draw_ruler(painter: QPainter, view: TimeView, height: float) -> None:
    """Time ticks and labels across the top of a time view (shared by the roll and the waveform)."""
    state = view.state
    painter.fillRect(QRectF(0, 0, view.width(), height), theme.PANEL)
    painter.setPen(QPen(theme.BORDER, 1))
    painter.drawLine(QPointF(0, height - 0.5), QPointF(view.width(), height - 0.5))
    span = state.view_end - state.view_start
    if span <= 0:
        return
    step = tick_step(span, view.plot_width())
    font = QFont(painter.font())
    font.setPointSizeF(7.5)
    painter.setFont(font)
    first = math.ceil(state.view_start / step - 1e-9)
    for index in range(first, int(state.view_end / step + 1e-9) + 1):
        t = index * step
        x = view.x_of(t)
        painter.setPen(QPen(theme.DIM, 1))
        painter.drawLine(QPointF(x, height - 7), QPointF(x, height - 1))
        painter.drawText(QPointF(x + 3, height - 9), time_label(t, step))
        for minor in range(1, 5):
            mx = view.x_of(t + minor * step / 5)
            if mx < view.width():
                painter.setPen(QPen(theme.BORDER, 1))
                painter.drawLine(QPointF(mx, height - 4), QPointF(mx, height - 1))


class PianoRoll(TimeView):
    def __init__(self, state: TimeState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.notes: list[tuple[int, Note]] = []  # (performer, note), as written to the MIDI file
        self.low, self.high = 48, 72
        self.setMinimumHeight(160)

    def set_tracks(self, tracks: Sequence[Sequence[Note]]) -> None:
        """Show one take: notes per performer, times in seconds from the range start."""
        self.notes = [(performer, note) for performer, track in enumerate(tracks) for note in track]
        if self.notes:
            low = min(note.pitch for _, note in self.notes) - 2
            high = max(note.pitch for _, note in self.notes) + 2
        else:
            low, high = 48, 72
        missing = MIN_PITCHES - (high - low + 1)
        if missing > 0:
            low, high = low - missing // 2, high + missing - missing // 2
        self.low, self.high = max(0, low), min(127, high)
        self.update()

    def clear(self) -> None:
        self.set_tracks([])

    def row_height(self) -> float:
        return max(1.0, (self.height() - RULER) / (self.high - self.low + 1))

    def y_of(self, pitch: int) -> float:
        """Top of the row of `pitch`."""
        return RULER + (self.high - pitch) * self.row_height()

    def note_rect(self, note: Note) -> QRectF:
        x0, x1 = self.x_of(note.start), self.x_of(note.end)
        row = self.row_height()
        height = max(4.0, row - 2)  # a squeezed roll still shows notes as bars, not hairlines
        return QRectF(x0, self.y_of(note.pitch) + (row - height) / 2, max(2.0, x1 - x0), height)

    def visible_notes(self) -> list[tuple[int, Note]]:
        """The notes inside the visible window: what a person sees right now."""
        return [(p, n) for p, n in self.notes if n.end > self.state.view_start and n.start < self.state.view_end]

    def sounding(self) -> set[int]:
        cursor = self.state.cursor
        return {note.pitch for _, note in self.notes if note.start <= cursor < note.end}

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), theme.BASE)
        sounding = self.sounding()
        self._draw_lanes(painter)
        self._draw_grid(painter)
        painter.setClipRect(QRectF(GUTTER, RULER, self.plot_width(), self.height() - RULER))
        cursor = self.state.cursor
        for _performer, note in self.visible_notes():
            rect = self.note_rect(note)
            fill = theme.velocity_colour(note.velocity)
            on = note.start <= cursor < note.end
            painter.setPen(QPen(QColor("#ffffff") if on else fill.darker(250), 1.4 if on else 1.0))
            painter.setBrush(fill.lighter(135) if on else fill)
            radius = min(3.0, rect.height() / 3)
            painter.drawRoundedRect(rect, radius, radius)
        painter.setClipping(False)
        self._draw_keyboard(painter, sounding)
        draw_ruler(painter, self, RULER)
        self._draw_velocity_legend(painter)
        if not self.notes:
            painter.setPen(theme.DIM)
            painter.drawText(QRectF(GUTTER, RULER, self.plot_width(), self.height() - RULER),
                             Qt.AlignmentFlag.AlignCenter, "Generate to see the notes here")
        self.draw_cursor(painter, RULER)
        painter.end()

    def _draw_lanes(self, painter: QPainter) -> None:
        row = self.row_height()
        for pitch in range(self.low, self.high + 1):
            if pitch % 12 in _BLACK_KEYS:
                painter.fillRect(QRectF(GUTTER, self.y_of(pitch), self.plot_width(), row), QColor("#111215"))
            if pitch % 12 == 0:  # a line under every C: the octave grid
                painter.setPen(QPen(theme.BORDER, 1))
                y = self.y_of(pitch) + row
                painter.drawLine(QPointF(GUTTER, y), QPointF(self.width(), y))

    def _draw_grid(self, painter: QPainter) -> None:
        span = self.state.view_end - self.state.view_start
        if span <= 0:
            return
        step = tick_step(span, self.plot_width())
        painter.setPen(QPen(QColor(255, 255, 255, 16), 1))
        for index in range(math.ceil(self.state.view_start / step), int(self.state.view_end / step) + 1):
            x = self.x_of(index * step)
            painter.drawLine(QPointF(x, RULER), QPointF(x, self.height()))

    def _draw_keyboard(self, painter: QPainter, sounding: set[int]) -> None:
        row = self.row_height()
        painter.fillRect(QRectF(0, RULER, GUTTER, self.height() - RULER), theme.PANEL)
        key_left, key_width = GUTTER - 22, 22
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        for pitch in range(self.low, self.high + 1):
            y = self.y_of(pitch)
            black = pitch % 12 in _BLACK_KEYS
            colour = theme.ACCENT if pitch in sounding else QColor("#202125") if black else QColor("#c9ccd2")
            painter.fillRect(QRectF(key_left, y, key_width - (6 if black else 0), row - (1 if row > 3 else 0)),
                             colour)
            if pitch % 12 == 0:
                painter.setPen(theme.TEXT)
                painter.drawText(QRectF(2, y - 4, key_left - 6, row + 8),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, pitch_name(pitch))
        painter.setPen(QPen(theme.BORDER, 1))
        painter.drawLine(QPointF(GUTTER - 0.5, RULER), QPointF(GUTTER - 0.5, self.height()))

    def _draw_velocity_legend(self, painter: QPainter) -> None:
        """A soft-to-loud colour bar in the ruler's right corner: what the note colours mean."""
        width, height = 90.0, 6.0
        right = self.width() - 10
        bar = QRectF(right - width, (RULER - height) / 2, width, height)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for velocity in (1, 32, 64, 96, 127):
            gradient.setColorAt((velocity - 1) / 126, theme.velocity_colour(velocity))
        painter.fillRect(QRectF(bar.left() - 64, 1, width + 70, RULER - 3), theme.PANEL)
        painter.setPen(theme.DIM)
        painter.drawText(QRectF(bar.left() - 62, 0, 58, RULER), Qt.AlignmentFlag.AlignRight |
                         Qt.AlignmentFlag.AlignVCenter, "velocity")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 2, 2)
