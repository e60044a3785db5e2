"""The inspector column: source and clip, range, instrument and generator settings, Generate and progress.

Seed, temperature and variations only matter to a generator that samples; with the deterministic baseline
they are disabled (with a tooltip saying why) instead of silently doing nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from foley_engine import INSTRUMENTS, ProgressEvent

from .generation import BASELINE, FILE, SHIPPED, Settings

SOURCE_CHOICES = (("auto", "Auto · the keys when a keyboard is in view"), ("keys", "The keys in the frame"),
                  ("model", "The model · from motion"), ("strikes", "Strikes · hands and feet hitting"))
MODEL_CHOICES = ((SHIPPED, "Shipped model"), (BASELINE, "Baseline · motion onsets"), (FILE, "Checkpoint file…"))
MAX_SEED = 2**31 - 1
DETERMINISTIC = "The baseline is deterministic: choose a model to vary seed, temperature and takes"


def section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class StageBars(QWidget):
    """One thin bar per engine stage, so a slow pose stage is visibly the pose stage, not a frozen panel."""

    def __init__(self, stages: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: dict[str, QProgressBar] = {}
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setVerticalSpacing(7)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.message = QLabel("")
        self.message.setObjectName("dim")
        self.message.setWordWrap(True)
        for stage in stages:
            self._add(stage)
        self._form.addRow(self.message)

    def _add(self, stage: str) -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setTextVisible(False)
        label = QLabel(stage.capitalize())
        label.setObjectName("dim")
        self._form.insertRow(len(self.bars), label, bar)
        self.bars[stage] = bar
        return bar

    def reset(self) -> None:
        for bar in self.bars.values():
            self._set(bar, 0.0)
        self.message.setText("")

    def report(self, event: ProgressEvent) -> None:
        bar = self.bars.get(event.stage) or self._add(event.stage)
        for stage, other in self.bars.items():  # stages run in order: the ones before this are complete
            if stage == event.stage:
                break
            self._set(other, 1.0)
        self._set(bar, event.fraction)
        self.message.setText(event.message)

    def finish(self, message: str) -> None:
        for bar in self.bars.values():
            self._set(bar, 1.0)
        self.message.setText(message)

    @staticmethod
    def _set(bar: QProgressBar, fraction: float) -> None:
        bar.setValue(round(fraction * 1000))
        done = fraction >= 1.0
        if bar.property("done") != done:
            bar.setProperty("done", done)
            bar.style().unpolish(bar)
            bar.style().polish(bar)


class Inspector(QFrame):
    clipChosen = Signal(int)  # row in the clip list
    rangeEdited = Signal()

    def __init__(self, stages: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.setFixedWidth(300)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.viewport().setAutoFillBackground(False)
        body = QWidget()
        body.setObjectName("section")
        column = QVBoxLayout(body)
        column.setContentsMargins(14, 8, 14, 8)
        column.setSpacing(6)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        column.addWidget(section("Source"))
        self.source_title = QLabel("No video")
        self.source_title.setObjectName("sourceTitle")
        self.source_title.setWordWrap(True)
        self.source_detail = QLabel("Open a video or a timeline")
        self.source_detail.setObjectName("dim")
        self.source_detail.setWordWrap(True)
        self.clips = QListWidget()
        self.clips.setMaximumHeight(120)
        self.clips.currentRowChanged.connect(self.clipChosen)
        self.clips.hide()
        for widget in (self.source_title, self.source_detail, self.clips):
            column.addWidget(widget)

        column.addWidget(section("Range"))
        self.start = self._seconds()
        self.end = self._seconds()
        self.whole = QPushButton("Whole clip")
        range_row = QHBoxLayout()
        for label, spin in (("Start", self.start), ("End", self.end)):
            caption = QLabel(label)
            caption.setObjectName("dim")
            range_row.addWidget(caption)
            range_row.addWidget(spin, 1)
        column.addLayout(range_row)
        column.addWidget(self.whole)
        self.whole.clicked.connect(self._whole_range)
        self.start.editingFinished.connect(self.rangeEdited)
        self.end.editingFinished.connect(self.rangeEdited)

        column.addWidget(section("Instrument"))
        self.instrument = QComboBox()
        for instrument in INSTRUMENTS.values():
            self.instrument.addItem(f"{instrument.gm_name}", instrument.name)
            self.instrument.setItemData(self.instrument.count() - 1,
                                        f"{instrument.name} · GM program {instrument.program + 1} · "
                                        f"{instrument.family}", Qt.ItemDataRole.ToolTipRole)
        column.addWidget(self.instrument)

        column.addWidget(section("Generator"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(6)
        self.source = QComboBox()
        for value, label in SOURCE_CHOICES:
            self.source.addItem(label, value)
        self.model = QComboBox()
        for value, label in MODEL_CHOICES:
            self.model.addItem(label, value)
        self.model_file = QLineEdit()
        self.model_file.setPlaceholderText("checkpoint .pt")
        browse = QPushButton("…")
        browse.setFixedWidth(30)
        browse.clicked.connect(self._browse_model)
        self.file_row = QWidget()
        file_layout = QHBoxLayout(self.file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        file_layout.addWidget(self.model_file, 1)
        file_layout.addWidget(browse)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature_slider = QSlider(Qt.Orientation.Horizontal)
        self.temperature_slider.setRange(0, 200)
        self.temperature_slider.valueChanged.connect(lambda value: self.temperature.setValue(value / 100))
        self.temperature.valueChanged.connect(lambda value: self.temperature_slider.setValue(round(value * 100)))
        temperature_row = QHBoxLayout()
        temperature_row.addWidget(self.temperature_slider, 1)
        temperature_row.addWidget(self.temperature)
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)
        form.addRow("Notes from", self.source)
        form.addRow("Model", self.model)
        form.addRow("", self.file_row)
        form.addRow("Temperature", temperature_row)
        form.addRow("Seed", self.seed)
        form.addRow("Takes", self.variations)
        column.addLayout(form)
        self.model.currentIndexChanged.connect(self._model_changed)
        column.addStretch(1)

        footer = QWidget()
        footer_layout = QVBoxLayout(footer)
        footer_layout.setContentsMargins(14, 10, 14, 12)
        footer_layout.setSpacing(8)
        buttons = QHBoxLayout()
        self.generate = QPushButton("Generate")
        self.generate.setObjectName("primary")
        self.generate.setToolTip("Generate (Ctrl+G)")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Cancel (Esc)")
        buttons.addWidget(self.generate, 1)
        buttons.addWidget(self.cancel)
        footer_layout.addLayout(buttons)
        self.stages = StageBars(stages)
        footer_layout.addWidget(self.stages)
        outer.addWidget(footer)
        self._model_changed()
        self.set_range(0.0, 0.0, locked=True)  # nothing opened yet

    @staticmethod
    def _seconds() -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(2)
        spin.setSuffix(" s")
        spin.setSingleStep(0.5)
        spin.setKeyboardTracking(False)
        spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return spin

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model checkpoint", self.model_file.text(),
                                              "Foley checkpoints (*.pt);;All files (*)")
        if path:
            self.model_file.setText(path)

    def _model_changed(self) -> None:
        samples = self.model.currentData() != BASELINE
        self.file_row.setVisible(self.model.currentData() == FILE)
        for widget in (self.temperature, self.temperature_slider, self.seed, self.variations):
            widget.setEnabled(samples)
            widget.setToolTip("" if samples else DETERMINISTIC)

    def _whole_range(self) -> None:
        self.start.setValue(self.start.minimum())
        self.end.setValue(self.end.maximum())
        self.rangeEdited.emit()

    # Source and range
    def set_source(self, title: str, detail: str, duration: float) -> None:
        self.source_title.setText(title)
        self.source_detail.setText(detail)
        for spin in (self.start, self.end):
            spin.setRange(0.0, duration)
        self.set_range(0.0, duration, locked=False)

    def set_range(self, start: float, end: float, locked: bool) -> None:
        """Show a range; a timeline clip's range comes from the edit and is locked."""
        for spin, value in ((self.start, start), (self.end, end)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
            spin.setEnabled(not locked)
        self.whole.setEnabled(not locked)

    def range(self) -> tuple[float, float]:
        return self.start.value(), self.end.value()

    def set_clips(self, rows: list[tuple[str, bool]]) -> None:
        """Timeline clips as (label, usable); unusable ones are listed greyed out with their reason."""
        self.clips.blockSignals(True)
        self.clips.clear()
        for label, usable in rows:
            item = QListWidgetItem(label)
            if not usable:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.clips.addItem(item)
        self.clips.blockSignals(False)
        self.clips.setVisible(bool(rows))

    # Settings
    def settings(self) -> Settings:
        return Settings(instrument=self.instrument.currentData(), source=self.source.currentData(),
                        model=self.model.currentData(),
                        model_file=self.model_file.text().strip(), temperature=self.temperature.value(),
                        seed=self.seed.value(), variations=self.variations.value())

    def apply_settings(self, settings: Settings) -> None:
        for combo, value in ((self.instrument, settings.instrument), (self.source, settings.source),
                             (self.model, settings.model)):
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)
        self.model_file.setText(settings.model_file)
        self.temperature.setValue(settings.temperature)
        self.seed.setValue(settings.seed)
        self.variations.setValue(settings.variations)
        self._model_changed()

    def load(self, store: QSettings, default: Settings) -> None:
        """The last session's settings; anything unreadable falls back to `default`."""
        def value(key: str, fallback, kind: type):
            try:
                return kind(store.value(key, fallback))
            except (TypeError, ValueError):
                return fallback

        self.apply_settings(Settings(
            instrument=value("instrument", default.instrument, str), source=value("source", default.source, str),
            model=value("model", default.model, str),
            model_file=value("model_file", default.model_file, str),
            temperature=value("temperature", default.temperature, float), seed=value("seed", default.seed, int),
            variations=value("variations", default.variations, int)))

    def save(self, store: QSettings) -> None:
        settings = self.settings()
        for key in ("instrument", "source", "model", "model_file", "temperature", "seed", "variations"):
            store.setValue(key, getattr(settings, key))
        store.sync()
