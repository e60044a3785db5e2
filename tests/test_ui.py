"""The panel end to end, offscreen, on the real engine and the shipped piano clip: generate, cancel, errors,
keyboard, export, the editor adapters' --result-json contract, and timelines.

The clip tests share one range (12-15 s), so after the first generation the pose stage answers from the
session's keypoint cache and the rest cost about a second each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import qt  # noqa: F401 - before PySide6 and ui: Qt offscreen, or the module skipped without them
from conftest import unfinished_work
from media import make_video, not_a_video
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from timelines import clip, media, timeline, video_track

from foley_engine.midi import read_notes
from ui import app
from ui.generation import FILE, Settings
from ui.window import MainWindow

RANGE = (12.0, 15.0)  # both hands play here; short, so a cold pose stage stays cheap
COLD_RANGE = (30.0, 34.0)  # used only by the cancel test: never in the cache when it starts
GENERATE_TIMEOUT = 600_000  # ms; a cold pose stage on a loaded 2-core machine


def open_panel(qtbot, tmp_path: Path, *argv: str) -> MainWindow:
    """The window `foley-panel ARGV` opens, with settings in tmp_path instead of the user's."""
    store = QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)
    window = app.open_window(app.parse([*argv, "--no-sound"]), store)
    qtbot.addWidget(window)
    with qtbot.waitActive(window):  # window shortcuts (Space, Ctrl+G, Esc, Ctrl+E) need the active window
        window.activateWindow()
    return window


def generate(qtbot, window: MainWindow, via_shortcut: bool = False) -> None:
    with qtbot.waitSignal(window.generationEnded, timeout=GENERATE_TIMEOUT) as ended:
        if via_shortcut:
            qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        else:
            qtbot.mouseClick(window.inspector.generate, Qt.MouseButton.LeftButton)
    dialog = window.error_dialog.text() if window.error_dialog else ""
    assert ended.args == ["ok"], dialog


def pose_workers() -> list[int]:
    """Pids of this process's pose worker children still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        if ppid == os.getpid() and b"foley_engine.pose.mediapipe_runner" in command:
            found.append(int(entry.name))
    return found


def wav_frames(path: Path) -> np.ndarray:
    with wave.open(str(path)) as file:
        return np.frombuffer(file.readframes(file.getnframes()), np.int16).reshape(-1, 2)


def same_notes(shown, written) -> None:
    """The piano roll's notes are the MIDI file's, to the MIDI tick (0.52 ms)."""
    shown = sorted((n.pitch, n.velocity, n.start, n.end) for n in shown)
    written = sorted((n.pitch, n.velocity, n.start, n.end) for n in written)
    assert len(shown) == len(written) > 0
    for a, b in zip(shown, written, strict=True):
        assert a[:2] == b[:2] and a[2:] == pytest.approx(b[2:], abs=1e-3)


@pytest.mark.real_media
def test_generate_shows_exactly_the_notes_of_the_written_midi(piano_video, qtbot, tmp_path, monkeypatch) -> None:
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, RANGE))
    assert window.inspector.generate.isEnabled() and window.session.take is None
    generate(qtbot, window)
    shown = [note for _, note in window.roll.notes]
    assert shown == window.session.take.notes
    assert [note for _, note in window.roll.visible_notes()] == shown  # the whole range is in view
    plot = window.roll.rect().adjusted(0, 0, 1, 1)
    assert all(plot.contains(window.roll.note_rect(note).center().toPoint()) for note in shown)
    assert window.viewer.keypoints is window.session.take.result.keypoints

    target = tmp_path / "out" / "take.wav"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), "WAV audio (*.wav)"))
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert sorted(p.name for p in target.parent.iterdir()) == ["take.mid", "take.wav"]  # nothing else, no temps
    same_notes(shown, [note for track in read_notes(target.with_suffix(".mid")) for note in track])
    assert len(wav_frames(target)) == round((RANGE[1] - RANGE[0]) * 48000)


@pytest.mark.real_media
def test_cancel_during_pose_stops_the_workers_and_leaves_nothing(piano_video, qtbot, tmp_path,
                                                                  isolated_cache) -> None:
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, COLD_RANGE))
    before = {path: path.stat().st_mtime for path in unfinished_work(isolated_cache)}
    window.generate()
    qtbot.waitUntil(lambda: window.inspector.stages.bars["pose"].value() > 0 and bool(pose_workers()),
                    timeout=120_000)
    with qtbot.waitSignal(window.generationEnded, timeout=30_000) as ended:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert ended.args == ["cancelled"]
    assert pose_workers() == []
    # no cache entry, no temp (a keyboard found before the cancel is a finished stage's result: it may stay)
    assert {path: path.stat().st_mtime for path in unfinished_work(isolated_cache)} == before
    assert window.session.take is None and window.inspector.generate.isEnabled() and window.error_dialog is None


def test_bad_file_dropped_on_the_panel_shows_the_error_dialog(qtbot, tmp_path) -> None:
    window = open_panel(qtbot, tmp_path)
    bad = not_a_video(tmp_path / "clip.mp4")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(bad))])
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert window.error_dialog is not None and window.error_dialog.isVisible()
    message = window.error_dialog.text()
    assert "not a video" in message and "\n" not in message
    assert window.session.video is None and not window.inspector.generate.isEnabled()


def test_missing_soundfont_and_no_performer_are_dialogs_not_crashes(qtbot, tmp_path, monkeypatch) -> None:
    video = make_video(tmp_path / "empty-room.mp4", seconds=1.0)
    window = open_panel(qtbot, tmp_path, str(video))
    monkeypatch.setenv("FOLEY_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with qtbot.waitSignal(window.generationEnded, timeout=60_000) as ended:
        window.generate()
    assert ended.args == ["failed"] and "fluid-soundfont-gm" in window.error_dialog.text()
    monkeypatch.delenv("FOLEY_SOUNDFONT")
    with qtbot.waitSignal(window.generationEnded, timeout=GENERATE_TIMEOUT) as ended:
        window.generate()
    assert ended.args == ["failed"] and "no performer visible" in window.error_dialog.text()
    assert window.isVisible() and window.inspector.generate.isEnabled()


@pytest.mark.real_media
def test_keyboard_shortcuts(piano_video, qtbot, tmp_path, monkeypatch) -> None:
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, RANGE))
    generate(qtbot, window, via_shortcut=True)  # Ctrl+G
    qtbot.keyClick(window, Qt.Key.Key_Space)  # play
    assert window.player.playing
    qtbot.waitUntil(lambda: window.state.cursor > 0.3, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    assert not window.player.playing
    cursor = window.state.cursor
    assert window.player.position == pytest.approx(cursor)
    assert window.viewer.time == pytest.approx(RANGE[0] + cursor)  # the video follows the cursor
    assert window.roll.sounding() == {n.pitch for n in window.session.take.notes if n.start <= cursor < n.end}
    qtbot.mouseClick(window.roll, Qt.MouseButton.LeftButton, pos=QPoint(round(window.roll.x_of(2.0)), 60))
    assert window.player.position == pytest.approx(window.state.cursor)  # scrubbing moves playback too
    target = tmp_path / "keys.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # export
    assert target.is_file() and target.with_suffix(".mid").is_file()


@pytest.mark.real_media
def test_result_json_hands_the_take_back_to_an_editor(piano_video, qtbot, tmp_path) -> None:
    result = tmp_path / "result.json"
    out = tmp_path / "editor"
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, RANGE),
                        "--instrument", "marimba", "--result-json", str(result), "--out-dir", str(out))
    generate(qtbot, window)
    assert window.export_action.text() == "Use this take"
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.session.exit_code == 0 and not window.isVisible()
    record = json.loads(result.read_text())
    assert record["instrument"] == "marimba" and (record["start"], record["end"]) == RANGE
    assert record["outputs"] == {"wav": str(out / "video.foley.wav"), "mid": str(out / "video.foley.mid")}
    same_notes(window.session.take.notes, [n for track in read_notes(record["outputs"]["mid"]) for n in track])
    assert record["notes"] == len(window.session.take.notes) and record["take"] == 1


@pytest.mark.real_media
def test_closing_without_a_take_exits_1_and_writes_nothing(piano_video, qtbot, tmp_path) -> None:
    result = tmp_path / "result.json"
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, RANGE),
                        "--result-json", str(result))
    window.close()
    assert window.session.exit_code == 1 and not result.exists()


@pytest.mark.real_media
def test_timeline_clip_generate_and_export_the_updated_timeline(piano_video, qtbot, tmp_path) -> None:
    edit = timeline("Edit", video_track("V1", clip("Intro", media(piano_video), 2.0, 48, 24),
                                       clip("Piano close-up", media(piano_video), RANGE[0], 72, 24)))
    source = tmp_path / "edit.otio"
    otio.adapters.write_to_file(edit, str(source))
    original = source.read_bytes()
    result = tmp_path / "result.json"
    window = open_panel(qtbot, tmp_path, "--timeline", str(source), "--clip", "Piano close-up",
                        "--result-json", str(result))
    assert window.inspector.clips.count() == 2 and window.inspector.clips.currentRow() == 1
    assert window.session.range == RANGE and not window.inspector.start.isEnabled()  # the edit decides the range
    generate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.session.exit_code == 0
    outputs = json.loads(result.read_text())["outputs"]
    written = otio.adapters.read_from_file(outputs["timeline"])
    foley = [t for t in written.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert len(foley) == 1
    clips = list(foley[0].find_clips())
    assert [c.name for c in clips] == ["Piano close-up (Foley)"]
    assert clips[0].range_in_parent().start_time.to_seconds() == pytest.approx(2.0)  # after the 2 s intro
    assert np.array_equal(wav_frames(Path(outputs["wav"])), window.session.take.audio)  # the take that was heard
    assert source.read_bytes() == original  # IN untouched


@pytest.mark.real_media
def test_model_variations_each_get_their_own_audio(piano_video, qtbot, tmp_path) -> None:
    pytest.importorskip("torch")
    from model_fixtures import tiny_model

    from foley_engine.model import save_checkpoint

    checkpoint = save_checkpoint(tmp_path / "tiny.pt", tiny_model())
    window = open_panel(qtbot, tmp_path, "--video", str(piano_video), "--range", *map(str, RANGE))
    window.inspector.apply_settings(Settings(source="model", model=FILE, model_file=str(checkpoint),
                                             temperature=1.0, seed=3, variations=3))
    generate(qtbot, window)
    assert [card.take.number for card in window.strip.cards] == [1, 2, 3]
    samples = round((RANGE[1] - RANGE[0]) * 48000)
    assert all(take.audio.shape == (samples, 2) for take in window.session.takes)
    assert all(take.performance.generator.startswith("model:tiny-") for take in window.session.takes)
    qtbot.mouseClick(window.strip.cards[2], Qt.MouseButton.LeftButton)
    assert window.session.take.number == 3
    assert [n for _, n in window.roll.notes] == [n for track in window.session.takes[2].tracks for n in track]


def test_foley_panel_command_starts(tmp_path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    shown = subprocess.run([sys.executable, "-m", "ui.app", "--help"], capture_output=True, text=True, env=env,
                           check=False, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert shown.returncode == 0 and "--result-json" in shown.stdout
    bad = subprocess.run([sys.executable, "-m", "ui.app", "--video", "a.mp4", "--timeline", "b.otio"],
                         capture_output=True, text=True, env=env, timeout=120, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    assert bad.returncode == 2 and "give one of" in bad.stderr
