"""A dark theme in the spirit of DaVinci Resolve and Blender, and the colour scales the views share.

Editors look at footage all day: a bright panel beside the viewer fights the picture, so everything is dark
grey with one warm accent for the action that costs time (Generate) and the playhead.
"""

from __future__ import annotations

import itertools

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = QColor("#1c1d20")
PANEL = QColor("#242529")
RAISED = QColor("#2d2f34")
BASE = QColor("#151619")
BORDER = QColor("#393b41")
TEXT = QColor("#d9dbe0")
DIM = QColor("#8c9099")
ACCENT = QColor("#e8833a")  # Generate, the playhead
SELECT = QColor("#3d7bd9")  # selections, focus
LEFT_HAND = QColor("#3fa9ff")
RIGHT_HAND = QColor("#ff8c2e")
BODY = QColor("#e6e6e6")
WAVE = QColor("#4fc3a1")

# Velocity scale, soft to loud: deep indigo, teal, green, warm yellow (readable on the dark roll).
_VELOCITY_STOPS = ((0.0, QColor("#3b3f9c")), (0.35, QColor("#2a8fb0")), (0.65, QColor("#4cc38a")),
                   (1.0, QColor("#f5d547")))
# Joint confidence, unsure to sure: red, amber, green (as the engine's preview sheets).
_CONFIDENCE_STOPS = ((0.0, QColor("#ff4d4d")), (0.5, QColor("#ffc233")), (1.0, QColor("#3ddc84")))


def _blend(stops: tuple[tuple[float, QColor], ...], value: float) -> QColor:
    value = min(1.0, max(0.0, value))
    for (low, a), (high, b) in itertools.pairwise(stops):
        if value <= high:
            t = (value - low) / (high - low)
            return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t, a.greenF() + (b.greenF() - a.greenF()) * t,
                                   a.blueF() + (b.blueF() - a.blueF()) * t)
    return QColor(stops[-1][1])


def velocity_colour(velocity: int) -> QColor:
    """The fill of a note: MIDI velocity 1..127 on the soft-to-loud scale."""
    return _blend(_VELOCITY_STOPS, (velocity - 1) / 126)


def confidence_colour(confidence: float) -> QColor:
    """A joint dot: tracker confidence 0..1 from red to green."""
    return _blend(_CONFIDENCE_STOPS, confidence)


STYLE = f"""
QWidget {{ color: {TEXT.name()}; font-size: 9pt; }}
QMainWindow, QDialog {{ background: {WINDOW.name()}; }}
QToolBar {{ background: {PANEL.name()}; border: none; border-bottom: 1px solid {BORDER.name()}; spacing: 6px;
            padding: 4px 8px; }}
QToolBar QToolButton {{ padding: 4px 10px; border-radius: 4px; }}
QToolBar QToolButton:hover {{ background: {RAISED.name()}; }}
QToolBar QToolButton:disabled {{ color: #5c5f66; }}
QStatusBar {{ background: {PANEL.name()}; color: {DIM.name()}; border-top: 1px solid {BORDER.name()}; }}
QSplitter::handle {{ background: {WINDOW.name()}; }}
QFrame#inspector {{ background: {PANEL.name()}; border-left: 1px solid {BORDER.name()}; }}
QWidget#section {{ background: transparent; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
QLabel#sectionTitle {{ color: {DIM.name()}; font-size: 8pt; font-weight: 600; letter-spacing: 1px;
                       padding-top: 6px; }}
QLabel#dim {{ color: {DIM.name()}; }}
QLabel#sourceTitle {{ font-size: 11pt; font-weight: 600; }}
QFrame#viewPanel {{ background: {BASE.name()}; border: 1px solid {BORDER.name()}; border-radius: 4px; }}
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit {{ background: {BASE.name()}; border: 1px solid {BORDER.name()};
    border-radius: 3px; padding: 3px 6px; min-height: 18px; selection-background-color: {SELECT.name()}; }}
QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus, QLineEdit:focus {{ border-color: {SELECT.name()}; }}
QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QLineEdit:disabled {{ color: #5c5f66; }}
QComboBox QAbstractItemView {{ background: {RAISED.name()}; selection-background-color: {SELECT.name()}; }}
QPushButton {{ background: {RAISED.name()}; border: 1px solid {BORDER.name()}; border-radius: 4px;
               padding: 5px 12px; }}
QPushButton:hover {{ background: #373a40; }}
QPushButton:disabled {{ color: #5c5f66; background: {PANEL.name()}; }}
QPushButton#primary {{ background: {ACCENT.name()}; color: #1b1205; border: none; font-weight: 700;
                       font-size: 10pt; padding: 7px 14px; }}
QPushButton#primary:hover {{ background: #f29a55; }}
QPushButton#primary:disabled {{ background: #5a4432; color: #2b2118; }}
QPushButton#transport {{ border-radius: 14px; min-width: 28px; max-width: 28px; min-height: 28px;
                         max-height: 28px; padding: 0; font-size: 11pt; }}
QProgressBar {{ background: {BASE.name()}; border: none; border-radius: 2px; max-height: 4px; }}
QProgressBar::chunk {{ background: {ACCENT.name()}; border-radius: 2px; }}
QProgressBar[done="true"]::chunk {{ background: {WAVE.name()}; }}
QListWidget {{ background: {BASE.name()}; border: 1px solid {BORDER.name()}; border-radius: 3px; }}
QListWidget::item {{ padding: 3px; }}
QListWidget::item:selected {{ background: {SELECT.name()}; }}
QSlider::groove:horizontal {{ height: 4px; background: {BASE.name()}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {TEXT.name()}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QSlider::sub-page:horizontal {{ background: {SELECT.name()}; border-radius: 2px; }}
QScrollArea {{ border: none; background: transparent; }}
QToolTip {{ background: {RAISED.name()}; color: {TEXT.name()}; border: 1px solid {BORDER.name()}; }}
"""


def apply(app: QApplication) -> None:
    """Fusion style + a dark palette (for what the style sheet does not reach) + the style sheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    role = QPalette.ColorRole
    for name, colour in ((role.Window, WINDOW), (role.WindowText, TEXT), (role.Base, BASE),
                         (role.AlternateBase, PANEL), (role.Text, TEXT), (role.Button, RAISED),
                         (role.ButtonText, TEXT), (role.Highlight, SELECT),
                         (role.HighlightedText, QColor("#ffffff")), (role.ToolTipBase, RAISED),
                         (role.ToolTipText, TEXT), (role.PlaceholderText, DIM)):
        palette.setColor(name, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, role.Text, QColor("#5c5f66"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, QColor("#5c5f66"))
    app.setPalette(palette)
    app.setStyleSheet(STYLE)
