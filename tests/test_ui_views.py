"""The panel's views and plumbing without running the engine: fast, offscreen, no real footage needed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import qt  # noqa: F401 - before PySide6 and ui: Qt offscreen, or the module skipped without them
from PySide6.QtCore import QPoint, QSettings, Qt

from foley_engine.instruments import get_instrument
from foley_engine.keypoints import Keypoints
from foley_engine.notes import Note, Performance
from ui import app, theme
from ui.generation import BASELINE, SHIPPED, Settings, Take
from ui.player import Player
from ui.timestate import MIN_SPAN, TimeState
from ui.views.piano_roll import PianoRoll, pitch_name, tick_step, time_label
from ui.views.waveform import Waveform, peaks
from ui.window import MainWindow

RATE = 48000


def fake_take(number: int, notes: list[Note], duration: float = 4.0) -> Take:
    """A take as the engine would return it, with silent keypoints, without running the engine."""
    frames = int(duration * 30)
    keypoints = Keypoints(30.0, 0.0, np.zeros((1, frames, 25, 3), np.float32),
                          np.zeros((1, frames, 2, 21, 3), np.float32), (640, 360))
    performance = Performance(get_instrument("piano"), duration, [sorted(notes)], generator="test")
    audio = np.zeros((int(duration * RATE), 2), np.int16)
    audio[: RATE // 2, :] = 1000 * number
    result = SimpleNamespace(keypoints=keypoints, sample_rate=RATE, duration=duration, start=0.0, end=duration,
                             keyboard=None, camera_motion=None)
    return Take(number, performance, audio, result)


@pytest.fixture
def store(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, qapp, store: QSettings) -> MainWindow:
    theme.apply(qapp)
    made = MainWindow(store, audible=False)
    qtbot.addWidget(made)
    made.show()
    return made


def test_pitch_names_and_ruler_steps() -> None:
    assert [pitch_name(p) for p in (21, 60, 61, 108)] == ["A0", "C4", "C♯4", "C8"]
    assert time_label(75.25, 0.01) == "1:15.25" and time_label(3.0, 1.0) == "0:03"
    assert tick_step(10.0, 1000) == 1.0 and tick_step(1.0, 1000) == 0.1


def test_time_state_zoom_pan_and_follow(qtbot) -> None:
    state = TimeState()
    state.reset(10.0)
    state.zoom(0.5, anchor=5.0)
    assert (state.view_start, state.view_end) == pytest.approx((2.5, 7.5))
    state.pan(100.0)
    assert (state.view_start, state.view_end) == pytest.approx((5.0, 10.0))
    state.zoom(1e-6, anchor=7.0)
    assert state.view_end - state.view_start == pytest.approx(MIN_SPAN)
    state.set_view(0.0, 2.0)
    state.set_cursor(3.0, follow=True)  # playback past the view pages it
    assert state.view_start <= 3.0 <= state.view_end
    state.set_cursor(-4.0)
    assert state.cursor == 0.0


def test_piano_roll_draws_each_note_at_its_time_and_pitch(qtbot) -> None:
    state = TimeState()
    roll = PianoRoll(state)
    qtbot.addWidget(roll)
    roll.resize(800, 300)
    state.reset(4.0)
    notes = [Note(0.5, 1.0, 60, 30), Note(2.0, 3.0, 72, 120)]
    roll.set_tracks([notes])
    assert [note for _, note in roll.notes] == notes
    quiet, loud = (roll.note_rect(note) for note in notes)
    assert quiet.left() == pytest.approx(roll.x_of(0.5)) and loud.right() == pytest.approx(roll.x_of(3.0))
    assert loud.top() < quiet.top()  # higher pitch is higher up
    assert theme.velocity_colour(30) != theme.velocity_colour(120)
    state.set_cursor(2.5)
    assert roll.sounding() == {72}
    state.zoom(0.25, anchor=0.75)
    assert [note for _, note in roll.visible_notes()] == [notes[0]]
    roll.grab()  # paints without error


def test_scrubbing_with_the_mouse_moves_the_shared_cursor(qtbot) -> None:
    state = TimeState()
    roll, wave = PianoRoll(state), Waveform(state)
    for view in (roll, wave):
        qtbot.addWidget(view)
        view.resize(600, 200)
    state.reset(6.0)
    x = round(roll.x_of(3.0))
    qtbot.mouseClick(roll, Qt.MouseButton.LeftButton, pos=QPoint(x, 100))
    assert state.cursor == pytest.approx(3.0, abs=6.0 / roll.plot_width())
    assert wave.x_of(state.cursor) == pytest.approx(roll.x_of(state.cursor))  # one cursor line across views


def test_waveform_peaks_follow_the_audio() -> None:
    audio = np.zeros((48000, 2), np.int16)
    audio[24000:24100] = 16384
    result = peaks(audio)
    assert result.shape == (48000 // 64, 2)
    assert result[:, 1].max() == pytest.approx(0.5) and result[:300, 1].max() == 0


def test_silent_player_drives_the_cursor_and_stops_at_the_end(qtbot) -> None:
    player = Player(audible=False)
    assert not player.audible and player.silent_reason
    player.load(np.zeros((RATE // 2, 2), np.int16), RATE)
    positions: list[float] = []
    player.positionChanged.connect(positions.append)
    with qtbot.waitSignal(player.playingChanged, timeout=3000, check_params_cb=lambda playing: not playing):
        player.play()
    assert positions and positions[-1] == pytest.approx(0.5)
    assert positions == sorted(positions)


def test_variations_side_by_side_choose_a_take(window: MainWindow, qtbot) -> None:
    takes = [fake_take(n, [Note(0.2 * n, 0.2 * n + 0.5, 60 + n, 40 + 20 * n)]) for n in (1, 2, 3)]
    window.state.reset(4.0)
    window._generated(takes)
    assert [card.take.number for card in window.strip.cards] == [1, 2, 3]
    assert window.session.take.number == 1 and [n for _, n in window.roll.notes] == takes[0].notes
    qtbot.mouseClick(window.strip.cards[1], Qt.MouseButton.LeftButton)
    assert window.session.take.number == 2 and [n for _, n in window.roll.notes] == takes[1].notes
    assert window.strip.cards[1].selected and not window.strip.cards[0].selected
    assert window.wave.peaks.max() == pytest.approx(2000 / 32768, rel=1e-3)


def test_settings_are_remembered(qtbot, store: QSettings) -> None:
    first = MainWindow(store, audible=False)
    qtbot.addWidget(first)
    assert first.inspector.settings() == Settings() and Settings().model == SHIPPED  # first run: the shipped model
    first.inspector.apply_settings(Settings(instrument="cello", model=BASELINE, temperature=1.1, seed=42,
                                            variations=3))
    first.close()
    second = MainWindow(store, audible=False)
    qtbot.addWidget(second)
    assert second.inspector.settings() == Settings(instrument="cello", model=BASELINE, temperature=1.1, seed=42,
                                                   variations=3)


def test_baseline_disables_what_only_a_sampling_model_uses(window: MainWindow) -> None:
    inspector = window.inspector
    assert inspector.model.currentData() == SHIPPED  # the default, as `foley generate`
    assert all(w.isEnabled() for w in (inspector.temperature, inspector.seed, inspector.variations))
    inspector.apply_settings(Settings(model=BASELINE))
    assert not any(w.isEnabled() for w in (inspector.temperature, inspector.seed, inspector.variations))
    inspector.apply_settings(Settings(model=SHIPPED))
    assert all(w.isEnabled() for w in (inspector.temperature, inspector.seed, inspector.variations))
    names = [inspector.instrument.itemText(i) for i in range(inspector.instrument.count())]
    assert "Acoustic Grand Piano" in names and "Cello" in names  # General MIDI names


def test_the_video_view_names_each_performer(window: MainWindow) -> None:
    """A duet's take labels each player with their number and instrument in the panel's video view."""
    take = fake_take(1, [Note(0.5, 1.0, 60, 90)])
    frames = take.result.keypoints.num_frames
    body = np.zeros((2, frames, 25, 3), np.float32)
    body[0, :, :, :2], body[1, :, :, :2], body[:, :, :, 2] = (0.25, 0.5), (0.75, 0.5), 0.9
    take.result.keypoints = Keypoints(30.0, 0.0, body, np.zeros((2, frames, 2, 21, 3), np.float32), (640, 360))
    take.performance.tracks.append([])
    take.performance.track_instruments = [get_instrument("violin"), get_instrument("guitar")]
    window.state.reset(4.0)
    window._generated([take])
    assert window.viewer.names == ["violin", "guitar"]
    drawn: list[str] = []
    window.viewer._tag = lambda painter, at, text, colour: drawn.append(text)  # type: ignore[method-assign]
    window.viewer.show_frame(_grey_frame(), 1.0)
    window.viewer.repaint()
    assert {"1 violin", "2 guitar"} <= set(drawn)


def _grey_frame():
    from PySide6.QtGui import QImage

    image = QImage(640, 360, QImage.Format.Format_RGB888)
    image.fill(0x505050)
    return image


def test_command_line_arguments() -> None:
    args = app.parse(["--video", "clip.mp4", "--range", "12", "15", "--result-json", "out.json"])
    assert args.video == Path("clip.mp4") and args.range == [12.0, 15.0] and args.result_json == Path("out.json")
    for bad in (["--video", "a.mp4", "--timeline", "b.otio"], ["--timeline", "b.otio", "--range", "1", "2"],
                ["--video", "a.mp4", "--range", "5", "2"], ["--video", "a.mp4", "--clip", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            app.parse(bad)
        assert exit_info.value.code == 2


def _two_white_keys() -> SimpleNamespace:
    """A keyboard of two white keys, C4 and D4, side by side across a 640x360 frame's middle; C4 right under
    the camera."""
    def key(pitch: int, left: float) -> SimpleNamespace:
        polygon = np.array([[left, 100], [left + 100, 100], [left + 100, 260], [left, 260]], np.float64)
        return SimpleNamespace(pitch=pitch, black=False, polygon=polygon, name=f"{'CD'[pitch - 60 > 0]}4")
    return SimpleNamespace(frame_size=(640, 360), keys=[key(60, 200), key(62, 320)], under_camera=(60,))


def test_the_video_view_lights_the_keys_sounding_at_the_cursor(qtbot) -> None:
    """The key map the notes were read off is drawn over the frame, and the keys of the notes sounding at the
    cursor are filled: here D4 sounds from video time 11.0 to 11.5 (notes start at 10.0 s), C4 never does;
    C4, under the camera, is tinted."""
    from PySide6.QtGui import QImage

    from ui.views.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 360)
    frame = QImage(640, 360, QImage.Format.Format_RGB32)
    frame.fill(0)
    view.set_keyboard(_two_white_keys(), [Note(1.0, 1.5, 62, 90)], start=10.0)

    def fill_at(time: float, x: int) -> tuple[int, int, int]:
        view.show_frame(frame, time)
        colour = view.grab().toImage().pixelColor(x, 200)
        return colour.red(), colour.green(), colour.blue()

    accent = theme.ACCENT
    sounding, silent = fill_at(11.2, 370), fill_at(11.2, 250)
    assert sounding[0] > 100 and abs(sounding[0] - accent.red() * 170 / 255) < 30, sounding
    assert silent[0] > 30 and silent[2] > 30 and silent[1] < silent[0] / 2, silent  # the under-camera tint
    assert fill_at(11.6, 370) == (0, 0, 0)  # the note has ended
    view.set_keyboard(None)
    assert view.keyboard is None and fill_at(11.2, 370) == (0, 0, 0)


def test_the_video_view_moves_the_key_map_with_a_moving_camera(qtbot) -> None:
    """A camera that moved the keys: the key map is drawn where the motion (the engine's CameraMotion, here a
    stand-in moving the keys 60 px right from video time 11.0) took them at the frame shown."""
    from PySide6.QtGui import QImage

    from ui.views.video_view import VideoView

    class Moving:
        def moved(self, keyboard: SimpleNamespace, time: float) -> SimpleNamespace:
            shift = np.array([60.0, 0.0]) if time >= 11.0 else np.zeros(2)
            keys = [SimpleNamespace(**{**vars(key), "polygon": key.polygon + shift}) for key in keyboard.keys]
            return SimpleNamespace(**{**vars(keyboard), "keys": keys})

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 360)
    frame = QImage(640, 360, QImage.Format.Format_RGB32)
    frame.fill(0)
    view.set_keyboard(_two_white_keys(), [Note(0.5, 1.5, 62, 90)], start=10.0, motion=Moving())

    def fill_at(time: float, x: int) -> tuple[int, int, int]:
        view.show_frame(frame, time)
        colour = view.grab().toImage().pixelColor(x, 200)
        return colour.red(), colour.green(), colour.blue()

    assert fill_at(10.6, 370)[0] > 100 and fill_at(10.6, 450) == (0, 0, 0)  # D4 where it was found
    assert fill_at(11.2, 450)[0] > 100 and fill_at(11.2, 230) == (0, 0, 0)  # D4, and C4, where the camera took them


def test_the_panel_offers_every_note_source_the_engine_has() -> None:
    from foley_engine.options import SOURCES
    from ui.inspector import SOURCE_CHOICES

    assert [value for value, _ in SOURCE_CHOICES] == list(SOURCES)
