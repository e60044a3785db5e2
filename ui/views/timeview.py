"""What the piano roll and the waveform share: a left gutter, time <-> x on the shared window, scrubbing, zoom.

Both views use the same gutter width, so their time axes line up to the pixel and the cursor is one line.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QWidget

from .. import theme
from ..timestate import TimeState

GUTTER = 64  # px: the piano roll's keyboard; the waveform's level scale


class TimeView(QWidget):
    def __init__(self, state: TimeState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        state.cursorChanged.connect(self.update)
        state.viewChanged.connect(self.update)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.IBeamCursor)

    def plot_width(self) -> float:
        return max(1.0, self.width() - GUTTER)

    def x_of(self, seconds: float) -> float:
        span = self.state.view_end - self.state.view_start
        if span <= 0:
            return float(GUTTER)
        return GUTTER + (seconds - self.state.view_start) / span * self.plot_width()

    def time_at(self, x: float) -> float:
        span = self.state.view_end - self.state.view_start
        return self.state.view_start + (x - GUTTER) / self.plot_width() * span

    def draw_cursor(self, painter: QPainter, top: float = 0.0) -> None:
        if self.state.duration <= 0:
            return
        x = self.x_of(self.state.cursor)
        if x < GUTTER:
            return
        painter.setPen(QPen(theme.ACCENT, 1.5))
        painter.drawLine(QPointF(x, top), QPointF(x, self.height()))

    # Scrub with the mouse; Ctrl+wheel zooms time around the pointer, the wheel pans a zoomed view.
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and event.position().x() >= GUTTER:
            self.state.set_cursor(self.time_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.state.set_cursor(self.time_at(max(GUTTER, event.position().x())))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if not steps:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.state.zoom(0.8 ** steps, self.time_at(event.position().x()))
        else:
            self.state.pan(-steps * 0.1 * (self.state.view_end - self.state.view_start))
        event.accept()
