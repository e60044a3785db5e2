"""The rendered audio as a waveform on the same time axis as the piano roll.

Peaks are computed once per take (min/max per block of samples), so repainting while the cursor moves only
aggregates a few thousand numbers, however long the clip.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from .. import theme
from ..timestate import TimeState
from .timeview import GUTTER, TimeView

BLOCK = 64  # samples per precomputed peak: 0.75 ms at 48 kHz, finer than any zoom level shows


def peaks(audio: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(blocks, 2) min/max of the mono mix, scaled to -1..1."""
    mono = audio.astype(np.float32).mean(axis=1) / 32768.0 if audio.ndim == 2 else audio.astype(np.float32)
    count = len(mono) // block * block
    if count == 0:
        return np.zeros((0, 2), np.float32)
    blocks = mono[:count].reshape(-1, block)
    return np.stack([blocks.min(axis=1), blocks.max(axis=1)], axis=1)


class Waveform(TimeView):
    def __init__(self, state: TimeState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.peaks = np.zeros((0, 2), np.float32)
        self.sample_rate = 48000
        self.setMinimumHeight(56)

    def set_audio(self, audio: np.ndarray | None, sample_rate: int = 48000) -> None:
        self.peaks = peaks(audio) if audio is not None else np.zeros((0, 2), np.float32)
        self.sample_rate = sample_rate
        self.update()

    def column_peaks(self) -> np.ndarray:
        """(columns, 2) min/max per pixel column of the plot, for the visible window."""
        columns = int(self.plot_width())
        if len(self.peaks) == 0 or columns <= 0:
            return np.zeros((0, 2), np.float32)
        per_second = self.sample_rate / BLOCK
        edges = np.linspace(self.state.view_start, self.state.view_end, columns + 1) * per_second
        edges = np.clip(np.round(edges).astype(int), 0, len(self.peaks))
        starts = np.minimum(edges[:-1], len(self.peaks) - 1)
        window = self.peaks[:max(int(edges[-1]), int(starts[-1]) + 1)]
        return np.stack([np.minimum.reduceat(window[:, 0], starts), np.maximum.reduceat(window[:, 1], starts)], 1)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.BASE)
        middle = self.height() / 2
        half = self.height() / 2 - 4
        columns = self.column_peaks()
        if len(columns):
            painter.setPen(QPen(theme.BORDER, 1))
            painter.drawLine(QPointF(GUTTER, middle), QPointF(self.width(), middle))
            # Scale to the loudest peak (FluidSynth renders around -6..-21 dBFS: full scale would look empty).
            level = max(float(np.abs(self.peaks).max()), 1e-4)
            painter.setPen(QPen(theme.WAVE, 1))
            for column, (low, top) in enumerate(columns.tolist()):
                x = GUTTER + column + 0.5
                painter.drawLine(QPointF(x, middle - top / level * half), QPointF(x, middle - low / level * half))
        else:
            painter.setPen(theme.DIM)
            painter.drawText(QRectF(GUTTER, 0, self.plot_width(), self.height()), Qt.AlignmentFlag.AlignCenter,
                             "The rendered audio appears here")
        painter.fillRect(QRectF(0, 0, GUTTER, self.height()), theme.PANEL)
        painter.setPen(theme.DIM)
        painter.drawText(QRectF(4, 0, GUTTER - 10, self.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "Audio")
        painter.setPen(QPen(theme.BORDER, 1))
        painter.drawLine(QPointF(GUTTER - 0.5, 0), QPointF(GUTTER - 0.5, self.height()))
        self.draw_cursor(painter)
        painter.end()
