"""The panel's main window: viewer, takes, piano roll and waveform on one time cursor, the inspector beside.

What is open, the takes and exporting them live in the Qt-free `Session` (session.py); the window turns
clicks into its operations and shows the result. Generation runs in a `Job` thread; the window only reacts
to its signals, so the GUI never blocks and Cancel (Esc) is always live. Errors end up in one dialog with
the engine's one-line message, whatever raised them.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from foley_engine import FoleyError, InputError, ProgressEvent

from .frames import FrameStore
from .generation import Settings, Take, generate_takes
from .inspector import Inspector, section
from .player import Player
from .session import Session
from .source import is_timeline, timeline_suffixes
from .timestate import TimeState
from .views.piano_roll import PianoRoll, time_label
from .views.takes import TakeStrip
from .views.video_view import VideoView
from .views.waveform import Waveform
from .worker import Job, one_line

#: Progress bars, in pipeline order; a stage the engine adds later gets a bar when it first reports.
STAGES = ["probe", "pose", "notes", "synth"]
VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.mxf);;All files (*)"


def panel(*widgets: QWidget, spacing: int = 0) -> QFrame:
    """A framed column of views; the first takes the height the others leave."""
    frame = QFrame()
    frame.setObjectName("viewPanel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(1, 1, 1, 1)
    layout.setSpacing(spacing)
    for index, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if index == 0 else 0)
    return frame


class MainWindow(QMainWindow):
    #: "ok", "failed" or "cancelled", once the generation thread has ended and the panel is idle again.
    generationEnded = Signal(str)

    def __init__(self, store: QSettings, result_json: Path | None = None, out_dir: Path | None = None,
                 audible: bool = True) -> None:
        super().__init__()
        self.store = store
        self.session = Session(result_json, out_dir)
        self.job: Job | None = None
        self._outcome = ""
        self.error_dialog: QMessageBox | None = None
        self.setWindowTitle("Foley")
        self.setAcceptDrops(True)
        self.resize(1400, 850)

        self.state = TimeState(self)
        self.frames = FrameStore(self)
        self.player = Player(self, audible=audible)
        self.viewer = VideoView()
        self.roll = PianoRoll(self.state)
        self.wave = Waveform(self.state)
        self.strip = TakeStrip()
        self.inspector = Inspector(STAGES)
        self._build_layout()
        self._build_actions()

        self.state.cursorChanged.connect(self._cursor_moved)
        self.frames.framesAdded.connect(lambda _count: self._cursor_moved(self.state.cursor))
        self.player.positionChanged.connect(lambda seconds: self.state.set_cursor(seconds, follow=True))
        self.player.playingChanged.connect(self._playing_changed)
        self.strip.chosen.connect(self.choose_take)
        self.inspector.clipChosen.connect(self.choose_clip)
        self.inspector.rangeEdited.connect(self._range_edited)
        self.inspector.generate.clicked.connect(self.generate)
        self.inspector.cancel.clicked.connect(self.cancel)
        self.inspector.load(self.store, Settings())  # the engine's default generator, as `foley generate`
        self.statusBar().addPermanentWidget(QLabel(self.player.silent_reason or "sound on"))
        self._update_enabled()

    # Layout and actions
    def _build_layout(self) -> None:
        self.play_button = QPushButton("▶")
        self.play_button.setObjectName("transport")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.time_readout = QLabel("0:00.00 / 0:00.00")
        self.take_readout = QLabel("")
        self.take_readout.setObjectName("dim")
        transport = QWidget()
        row = QHBoxLayout(transport)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(self.play_button)
        row.addWidget(self.time_readout)
        row.addSpacing(16)
        row.addWidget(self.take_readout)
        row.addStretch(1)
        for view in (self.roll, self.wave):
            view.setToolTip("Drag to scrub · Ctrl+wheel to zoom · wheel to pan")

        viewer = panel(self.viewer, transport)
        takes = QWidget()
        takes_column = QVBoxLayout(takes)
        takes_column.setContentsMargins(0, 0, 0, 0)
        takes_column.addWidget(section("Takes"))
        takes_column.addWidget(self.strip, 1)
        top = QWidget()
        top_row = QHBoxLayout(top)
        top_row.setContentsMargins(0, 0, 0, 0)
        top_row.setSpacing(10)
        top_row.addWidget(viewer, 1)
        top_row.addWidget(takes)

        timeline = QWidget()
        column = QVBoxLayout(timeline)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addWidget(panel(self.roll), 3)
        column.addWidget(panel(self.wave), 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(timeline)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(10, 10, 10, 10)
        centre_layout.addWidget(split)

        body = QWidget()
        body_layout = QHBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(0)
        body_layout.addWidget(centre, 1)
        body_layout.addWidget(self.inspector)
        self.setCentralWidget(body)

    def _build_actions(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(toolbar)
        brand = QLabel("  FOLEY  ")
        brand.setStyleSheet("font-weight: 800; letter-spacing: 3px; color: #e8833a;")
        toolbar.addWidget(brand)

        def action(text: str, shortcut: str, slot, tip: str, on_toolbar: bool = True) -> QAction:
            made = QAction(text, self)
            made.setShortcut(QKeySequence(shortcut))
            made.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            made.setToolTip(f"{tip} ({shortcut})")
            made.triggered.connect(slot)
            self.addAction(made)
            if on_toolbar:
                toolbar.addAction(made)
            return made

        self.open_action = action("Open…", "Ctrl+O", self.open_dialog, "Open a video or a timeline")
        self.export_action = action("Use this take" if self.session.editor_mode else "Export…", "Ctrl+E",
                                    self.export, "Export the chosen take")
        self.generate_action = action("Generate", "Ctrl+G", self.generate, "Generate", on_toolbar=False)
        self.cancel_action = action("Cancel", "Esc", self.cancel, "Cancel", on_toolbar=False)
        self.play_action = action("Play", "Space", self.toggle_play, "Play / pause", on_toolbar=False)

    def _update_enabled(self) -> None:
        busy = self.job is not None
        opened, chosen = self.session.video is not None, self.session.take is not None
        self.inspector.generate.setEnabled(opened and not busy)
        self.generate_action.setEnabled(opened and not busy)
        self.inspector.cancel.setEnabled(busy)
        self.export_action.setEnabled(chosen and not busy)
        self.open_action.setEnabled(not busy)
        self.play_button.setEnabled(chosen)

    # Opening
    def open_dialog(self) -> None:
        suffixes = " ".join(f"*{suffix}" for suffix in sorted(timeline_suffixes()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or a timeline", str(self.store.value("dir", "")),
                                              f"Videos and timelines ({suffixes} *.mp4 *.mov *.mkv *.avi *.webm "
                                              f"*.m4v *.mxf);;Timelines ({suffixes});;{VIDEO_FILTER}")
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path, span: tuple[float, float] | None = None, clip: str | None = None) -> bool:
        """Open a video (optionally at a range) or a timeline (optionally at a clip); errors go to the dialog."""
        if self.job is not None:
            return False
        try:
            if is_timeline(path):
                self._open_timeline(path, clip)
            else:
                self._open_video(path, span)
        except FoleyError as error:
            self.show_error(one_line(error))
            return False
        self.store.setValue("dir", str(path.parent))
        return True

    def _open_video(self, path: Path, span: tuple[float, float] | None) -> None:
        info = self.session.open_video(path, span)
        self.inspector.set_clips([])
        detail = f"{info.width}×{info.height} · {float(info.frame_rate):.3g} fps · {info.duration:.2f} s"
        self.inspector.set_source(path.name, detail, info.duration)
        self.inspector.set_range(*self.session.range, locked=False)
        self._source_changed()

    def _open_timeline(self, path: Path, clip: str | None) -> None:
        timeline, index = self.session.open_timeline(path, clip)
        self.inspector.set_clips([(item.label(), item.usable) for item in timeline.clips])
        usable = sum(item.usable for item in timeline.clips)
        self.inspector.set_source(path.name, f"timeline · {len(timeline.clips)} video clips, {usable} usable", 0.0)
        self._source_changed()
        if index is None:
            raise InputError(f"no usable video clip in {path.name}")
        self.inspector.clips.setCurrentRow(index)
        self.choose_clip(index)

    def choose_clip(self, index: int) -> None:
        if self.job is not None:
            return
        try:
            info = self.session.choose_clip(index)
        except FoleyError as error:
            self.show_error(one_line(error))
            return
        clip = self.session.clip
        if info is None or clip is None:
            return
        for spin in (self.inspector.start, self.inspector.end):
            spin.setRange(0.0, info.duration)
        self.inspector.set_range(clip.start, clip.end, locked=True)
        self.inspector.source_detail.setText(self.session.clip_detail)
        self._source_changed()

    def _range_edited(self) -> None:
        if self.session.set_range(*self.inspector.range()):
            self._source_changed()

    def _source_changed(self) -> None:
        """A new video, range or timeline: the views start over on it, without takes."""
        self.player.pause()
        self.setWindowTitle(self.session.title)
        self._show_takes()
        self.viewer.set_keypoints(None)
        self.viewer.set_keyboard(None)
        video, (start, end) = self.session.video, self.session.range
        if video is not None:
            self.frames.load(video, start, end, self.session.frame_rate)
        else:
            self.frames.stop()
        self.state.reset(end - start)
        self.inspector.stages.reset()
        self._update_enabled()

    # Generation
    def generate(self) -> None:
        if self.session.video is None or self.job is not None:
            return
        self.inspector.save(self.store)
        self.player.pause()
        self.inspector.stages.reset()
        self._start_job(Job(partial(generate_takes, self.session.request(self.inspector.settings()))))
        self.statusBar().showMessage("Generating…")

    def cancel(self) -> None:
        if self.job is not None and not self.job.is_cancelling():
            self.job.cancel()
            self.inspector.stages.message.setText("Cancelling…")
            self.statusBar().showMessage("Cancelling…")

    def _start_job(self, job: Job) -> None:
        self.job = job
        job.progressed.connect(self._progressed)
        job.succeeded.connect(self._generated)
        job.failed.connect(self._job_failed)
        job.cancelled.connect(self._job_cancelled)
        job.finished.connect(self._job_finished)
        job.start()
        self._update_enabled()

    def _progressed(self, event: ProgressEvent) -> None:
        if self.job is not None and not self.job.is_cancelling():
            self.inspector.stages.report(event)

    def _generated(self, takes: list[Take]) -> None:
        self._outcome = "ok"
        self.session.set_takes(takes)
        self._show_takes()
        notes = len(self.session.take.notes) if self.session.take else 0
        message = f"{len(takes)} take{'s' if len(takes) > 1 else ''} · {notes} notes"
        self.inspector.stages.finish(message)
        self.statusBar().showMessage(f"Generated {message}", 8000)

    def _job_failed(self, message: str) -> None:
        self._outcome = "failed"
        self.inspector.stages.message.setText("Failed")
        self.statusBar().showMessage("Failed", 8000)
        self.show_error(message)

    def _job_cancelled(self) -> None:
        self._outcome = "cancelled"
        self.inspector.stages.reset()
        self.inspector.stages.message.setText("Cancelled: nothing was written")
        self.statusBar().showMessage("Cancelled", 8000)

    def _job_finished(self) -> None:
        if self.job is not None:
            self.job.wait()
            self.job.deleteLater()
        self.job = None
        self._update_enabled()
        self.generationEnded.emit(self._outcome)

    # Takes and playback
    def _show_takes(self) -> None:
        """The session's takes as cards; the strip then chooses the first, which shows it everywhere."""
        takes = self.session.takes
        self.strip.set_takes(takes)
        if not takes:
            self.roll.clear()
            self.wave.set_audio(None)
            self.player.load(None, 48000)
            self.take_readout.setText("")
        self._update_enabled()

    def choose_take(self, number: int) -> None:
        take = self.session.choose_take(number)
        if take is None:
            return
        rate = take.result.sample_rate
        self.roll.set_tracks(take.tracks)
        self.wave.set_audio(take.audio, rate)
        names = [take.performance.instrument_of(p).name for p in range(len(take.performance.tracks))]
        self.viewer.set_keypoints(take.result.keypoints, names)
        self.viewer.set_keyboard(take.result.keyboard, take.notes, take.result.start, take.result.camera_motion)
        self.player.load(take.audio, rate)
        self.take_readout.setText(f"Take {take.number} · {len(take.notes)} notes · "
                                  f"{take.performance.instrument.gm_name} · {take.performance.generator}")
        self._cursor_moved(self.state.cursor)
        self._update_enabled()

    def toggle_play(self) -> None:
        if self.session.take is not None:
            self.player.seek(self.state.cursor)
            self.player.toggle()

    def _playing_changed(self, playing: bool) -> None:
        self.play_button.setText("❚❚" if playing else "▶")

    def _cursor_moved(self, seconds: float) -> None:
        """Every view follows the one cursor; scrubbing also moves playback."""
        source_time = self.session.range[0] + seconds
        self.viewer.show_frame(self.frames.frame_at(source_time), source_time)
        self.time_readout.setText(f"{time_label(seconds, 0.01)} / {time_label(self.state.duration, 0.01)}")
        self.player.seek(seconds)

    # Export
    def export(self) -> None:
        """Write the chosen take where the user says (in editor mode, to the default place) and, in editor mode,
        hand it back and close."""
        if self.session.take is None or self.job is not None:
            return
        destination = self._destination(self.session.default_destination())
        if destination is None:
            return
        try:
            outputs = self.session.export(destination)
            listed = ", ".join(path.name for path in outputs.values())
            self.inspector.stages.finish(f"Exported {listed}")
            self.statusBar().showMessage(f"Exported {listed}", 10000)
            accepted = self.session.accept(outputs)
        except FoleyError as error:
            self.show_error(one_line(error))
            return
        if accepted:
            self.close()

    def _destination(self, default: Path) -> Path | None:
        """Where to write: the default without asking in editor mode (confirming a replace), else a save dialog
        (which confirms replacing)."""
        if self.session.editor_mode:
            if default.exists() and QMessageBox.question(
                    self, "Foley", f"Replace {default.name}?") != QMessageBox.StandardButton.Yes:
                return None
            return default
        if self.session.timeline is not None:
            caption, file_filter = "Export the timeline", f"Timeline (*{default.suffix})"
        else:
            caption, file_filter = "Export the take's audio (the MIDI goes beside it)", "WAV audio (*.wav)"
        path, _ = QFileDialog.getSaveFileName(self, caption, str(default), file_filter)
        return Path(path) if path else None

    # Errors, drops, closing
    def show_error(self, message: str) -> None:
        """One line in a window-modal dialog that does not block the event loop (or the tests)."""
        if self.error_dialog is not None:
            self.error_dialog.close()
        self.error_dialog = QMessageBox(QMessageBox.Icon.Critical, "Foley", message, QMessageBox.StandardButton.Ok,
                                        self)
        self.error_dialog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_dialog.open()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self.job is None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls: list[QUrl] = [url for url in event.mimeData().urls() if url.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(Path(urls[0].toLocalFile()))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop everything this window started: engine work (its pose processes too), decoding, playback."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
        self.frames.stop()
        self.player.pause()
        self.inspector.save(self.store)
        super().closeEvent(event)
