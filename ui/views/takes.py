"""Variations side by side: a column of cards, one per take, each with a miniature of its piano roll; click
one to choose it.

The miniature is enough to tell a busy take from a sparse one before listening to either.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from .. import theme
from ..generation import Take

CARD_WIDTH, CARD_HEIGHT = 236, 84


class TakeCard(QWidget):
    clicked = Signal(int)  # take number

    def __init__(self, take: Take, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.take = take
        self.selected = False
        self.setFixedSize(CARD_WIDTH, CARD_HEIGHT)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        notes = len(take.notes)
        self.setToolTip(f"Take {take.number}: {notes} notes, {take.performance.generator}")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.take.number)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.setPen(QPen(theme.ACCENT if self.selected else theme.BORDER, 2 if self.selected else 1))
        painter.setBrush(theme.RAISED if self.selected else theme.PANEL)
        painter.drawRoundedRect(frame, 5, 5)
        painter.setPen(theme.TEXT)
        title = painter.font()
        title.setBold(True)
        painter.setFont(title)
        painter.drawText(QRectF(10, 5, 100, 18), Qt.AlignmentFlag.AlignVCenter, f"Take {self.take.number}")
        body = painter.font()
        body.setBold(False)
        painter.setFont(body)
        painter.setPen(theme.DIM)
        painter.drawText(QRectF(70, 5, CARD_WIDTH - 80, 18), Qt.AlignmentFlag.AlignRight |
                         Qt.AlignmentFlag.AlignVCenter, f"{len(self.take.notes)} notes")
        self._draw_miniature(painter, QRectF(10, 27, CARD_WIDTH - 20, CARD_HEIGHT - 35))
        painter.end()

    def _draw_miniature(self, painter: QPainter, area: QRectF) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.BASE)
        painter.drawRoundedRect(area, 3, 3)
        notes = self.take.notes
        duration = self.take.duration
        if not notes or duration <= 0:
            return
        low = min(note.pitch for note in notes) - 1
        high = max(note.pitch for note in notes) + 1
        row = area.height() / (high - low + 1)
        for note in notes:
            x = area.left() + note.start / duration * area.width()
            width = max(1.5, (note.end - note.start) / duration * area.width())
            y = area.top() + (high - note.pitch) * row
            painter.fillRect(QRectF(x, y, width, max(1.5, row)), theme.velocity_colour(note.velocity))


class TakeStrip(QScrollArea):
    """The column of take cards; `chosen` tells which take the views, the player and Export now use."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[TakeCard] = []
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedWidth(CARD_WIDTH + 12)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.hint = QLabel()
        self.hint.setObjectName("dim")
        self.hint.setWordWrap(True)
        self._layout.insertWidget(0, self.hint)
        self._set_hint(0)

    def set_takes(self, takes: list[Take]) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for take in takes:
            card = TakeCard(take)
            card.clicked.connect(self.choose)
            self._layout.insertWidget(len(self.cards), card)
            self.cards.append(card)
        self._set_hint(len(takes))
        if takes:
            self.choose(takes[0].number)

    def _set_hint(self, count: int) -> None:
        """Say where takes come from; below a single take, that a sampling model gives several to compare."""
        self.hint.setText("Takes appear here after Generate." if count == 0 else
                          "Choose a model and several takes to compare variations here." if count == 1 else "")
        self.hint.setVisible(count < 2)
        self._layout.removeWidget(self.hint)
        self._layout.insertWidget(count, self.hint)

    def choose(self, number: int) -> None:
        for card in self.cards:
            card.selected = card.take.number == number
            card.update()
        self.chosen.emit(number)
