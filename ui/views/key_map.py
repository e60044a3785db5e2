"""The key map over the video: the keyboard the notes were read off, its keys, and the keys sounding now.

Drawn from the engine's KeyboardGeometry (FoleyResult.keyboard: every key's pitch, colour and outline in the
pixels of the frames it was found in), so a user can check at a glance what was read: a key lit where none
is pressed, or the neighbour of the one pressed, shows as it happens. The keys right under the camera, whose
presses barely show (KeyboardGeometry.under_camera), are tinted: notes there are often missed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from .. import theme

WHITE_EDGE = QColor(80, 220, 120, 150)
BLACK_EDGE = QColor(70, 140, 255, 170)
SOUNDING = QColor(theme.ACCENT.red(), theme.ACCENT.green(), theme.ACCENT.blue(), 170)
UNDER_CAMERA = QColor(220, 60, 220, 70)  # the engine's UNDER_CAMERA_RGB, see-through


def _polygon(rect: QRectF, outline: Any, frame_size: tuple[int, int]) -> QPolygonF:
    width, height = frame_size
    return QPolygonF([QPointF(rect.left() + float(x) / width * rect.width(),
                              rect.top() + float(y) / height * rect.height()) for x, y in outline])


def draw_key_map(painter: QPainter, rect: QRectF, keyboard: Any, sounding: Collection[int]) -> None:
    """Every key's outline (white keys green, black keys blue, black keys over white ones), the keys whose pitch
    is in `sounding` filled with the accent colour, those under the camera tinted, and the C keys named."""
    painter.save()
    unseen = set(keyboard.under_camera)
    for key in sorted(keyboard.keys, key=lambda key: key.black):
        polygon = _polygon(rect, key.polygon, keyboard.frame_size)
        painter.setPen(QPen(BLACK_EDGE if key.black else WHITE_EDGE, 1.0))
        painter.setBrush(SOUNDING if key.pitch in sounding else UNDER_CAMERA if key.pitch in unseen
                         else Qt.BrushStyle.NoBrush)
        painter.drawPolygon(polygon)
    painter.setPen(theme.TEXT)
    for key in keyboard.keys:
        if not key.black and key.pitch % 12 == 0:
            front = (key.polygon[2] + key.polygon[3]) / 2
            back = (key.polygon[0] + key.polygon[1]) / 2
            at = _polygon(rect, [front + 0.12 * (front - back)], keyboard.frame_size).at(0)
            painter.drawText(QRectF(at.x() - 20, at.y() - 8, 40, 16), Qt.AlignmentFlag.AlignCenter, key.name)
    painter.restore()
