"""The viewer: the video frame at the cursor with what the pose stage saw drawn over it (and, when the notes were
read off a keyboard, its key map with the keys sounding at the cursor: key_map.py).

The skeleton is painted with QPainter at the viewer's resolution (crisp at any window size) from the same
keypoints the note generator used: body bones in white, the left hand blue and the right orange (tagged L/R,
so swapped handedness shows at a glance), and every joint dot coloured by the tracker's confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from foley_engine import Keypoints, Note, skeleton

from .. import theme
from .key_map import draw_key_map

_HAND = {skeleton.LEFT: (theme.LEFT_HAND, "L"), skeleton.RIGHT: (theme.RIGHT_HAND, "R")}


class VideoView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.keypoints: Keypoints | None = None
        self.names: list[str] = []  # what each performer plays, left to right (labels their skeleton)
        self.keyboard: Any | None = None  # the engine's KeyboardGeometry the notes were read off, if they were
        self.keyboard_motion: Any | None = None  # the engine's CameraMotion when the camera moved the keys
        self.notes: list[Note] = []  # the take's notes, range time (to light the keys sounding at the cursor)
        self.notes_start = 0.0  # video time of the notes' time 0
        self.time = 0.0  # video clock, seconds
        self.placeholder = "Open a video or an OTIO timeline (Ctrl+O), or drop one here"
        self.setMinimumSize(320, 180)

    def show_frame(self, image: QImage | None, time: float) -> None:
        self.image, self.time = image, time
        self.update()

    def set_keypoints(self, keypoints: Keypoints | None, names: list[str] | None = None) -> None:
        """What the pose stage saw, and optionally each performer's label (their instrument)."""
        self.keypoints, self.names = keypoints, list(names or [])
        self.update()

    def set_keyboard(self, keyboard: Any | None, notes: list[Note] | None = None, start: float = 0.0,
                     motion: Any | None = None) -> None:
        """The keyboard the notes were read off (None: no key map) and the notes, whose time 0 is video time
        `start`: the keys sounding at the cursor are lit. `motion` (the engine's CameraMotion, None for a steady
        camera) moves the key map with the keys, frame by frame."""
        self.keyboard, self.notes, self.notes_start = keyboard, list(notes or []), start
        self.keyboard_motion = motion
        self.update()

    def sounding(self) -> set[int]:
        """Pitches of the notes sounding at the cursor."""
        at = self.time - self.notes_start
        return {note.pitch for note in self.notes if note.start <= at < note.end}

    def sample_index(self) -> int | None:
        """The keypoint sample shown for the current time, None outside the keypoints' range."""
        if self.keypoints is None or self.keypoints.num_frames == 0:
            return None
        index = round((self.time - self.keypoints.start) * self.keypoints.rate)
        return index if 0 <= index < self.keypoints.num_frames else None

    def picture_rect(self) -> QRectF:
        """Where the frame is drawn: fitted into the widget, aspect kept, centred."""
        if self.image is None or self.image.isNull():
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        width, height = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor("#0d0d0f"))
        if self.image is None or self.image.isNull():
            painter.setPen(theme.DIM)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            painter.end()
            return
        rect = self.picture_rect()
        painter.drawImage(rect, self.image)
        if self.keyboard is not None:
            shown = self.keyboard if self.keyboard_motion is None else self.keyboard_motion.moved(self.keyboard,
                                                                                                 self.time)
            draw_key_map(painter, rect, shown, self.sounding())
        sample, keypoints = self.sample_index(), self.keypoints
        if sample is not None and keypoints is not None:  # a sample index means keypoints
            scale = max(1.0, rect.width() / 640)
            for performer in range(keypoints.num_performers):
                self._draw_joints(painter, rect, keypoints.body[performer, sample], skeleton.BODY_BONES,
                                  theme.BODY, scale)
                for side in (skeleton.LEFT, skeleton.RIGHT):
                    colour, tag = _HAND[side]
                    hand = keypoints.hands[performer, sample, side]
                    self._draw_joints(painter, rect, hand, skeleton.HAND_BONES, colour, scale)
                    if hand[0, 2] > 0:
                        label = tag if keypoints.num_performers == 1 else f"{tag}{performer + 1}"
                        self._tag(painter, self._point(rect, hand[0]) + QPointF(8, 10), label, colour)
                self._name_performer(painter, rect, performer, sample)
        self._tag(painter, QPointF(rect.left() + 10, rect.top() + 20), f"{self.time:.2f} s", theme.TEXT)
        if self.keypoints is not None:
            self._draw_legend(painter, rect)
        painter.end()

    def _name_performer(self, painter: QPainter, rect: QRectF, performer: int, sample: int) -> None:
        """Number and instrument above the performer, matching the MIDI track order (left to right)."""
        if self.keypoints is None:
            return
        name = self.names[performer] if performer < len(self.names) else ""
        anchor = self.keypoints.label_anchor(performer, sample)
        if anchor is None or (self.keypoints.num_performers == 1 and not name):
            return
        x = rect.left() + anchor[0] * rect.width() - 20
        at = QPointF(x, max(rect.top() + 40, rect.top() + anchor[1] * rect.height() - 10))
        self._tag(painter, at, f"{performer + 1} {name}".strip(), theme.TEXT)

    @staticmethod
    def _point(rect: QRectF, joint: np.ndarray) -> QPointF:
        return QPointF(rect.left() + float(joint[0]) * rect.width(), rect.top() + float(joint[1]) * rect.height())

    def _draw_joints(self, painter: QPainter, rect: QRectF, joints: np.ndarray, bones: tuple, colour: QColor,
                     scale: float) -> None:
        confidence = joints[:, 2]
        for a, b in bones:
            if confidence[a] > 0 and confidence[b] > 0:
                bone = QColor(colour)
                bone.setAlpha(int(110 + 145 * min(float(confidence[a]), float(confidence[b]))))
                painter.setPen(QPen(bone, 2.0 * scale, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                painter.drawLine(self._point(rect, joints[a]), self._point(rect, joints[b]))
        radius = 2.6 * scale
        painter.setPen(QPen(QColor(0, 0, 0, 170), 1.0))
        for joint in joints:
            if joint[2] > 0:
                painter.setBrush(theme.confidence_colour(float(joint[2])))
                painter.drawEllipse(self._point(rect, joint), radius, radius)

    @staticmethod
    def _tag(painter: QPainter, at: QPointF, text: str, colour: QColor) -> None:
        """Text on a dark pill, readable over any footage."""
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(at.x() - 5, at.y() - metrics.ascent() - 3, metrics.horizontalAdvance(text) + 10,
                     metrics.height() + 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(colour)
        painter.drawText(at, text)

    def _draw_legend(self, painter: QPainter, rect: QRectF) -> None:
        """What the colours mean, in the picture's bottom-left corner."""
        font = QFont(painter.font())
        font.setBold(False)
        font.setPointSizeF(8.0)
        painter.setFont(font)
        entries = [(theme.BODY, "body"), (theme.LEFT_HAND, "left hand"), (theme.RIGHT_HAND, "right hand")]
        metrics = painter.fontMetrics()
        width = sum(30 + metrics.horizontalAdvance(label) for _, label in entries)
        width += metrics.horizontalAdvance("confidence") + 8 + 3 * 12 + 8
        box = QRectF(rect.left() + 8, rect.bottom() - 30, width, 22)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(box, 4, 4)
        x, y = box.left() + 8, box.center().y()
        for colour, label in entries:
            painter.setPen(QPen(colour, 3))
            painter.drawLine(QPointF(x, y), QPointF(x + 14, y))
            painter.setPen(theme.TEXT)
            painter.drawText(QPointF(x + 19, y + 4), label)
            x += 30 + metrics.horizontalAdvance(label)
        painter.setPen(theme.DIM)
        painter.drawText(QPointF(x, y + 4), "confidence")
        x += metrics.horizontalAdvance("confidence") + 12
        for value in (0.1, 0.5, 0.95):
            painter.setPen(QPen(QColor(0, 0, 0, 170), 1))
            painter.setBrush(theme.confidence_colour(value))
            painter.drawEllipse(QPointF(x, y), 4, 4)
            x += 12
