"""The keys source end to end on rendered clips of keys being played (tests/played_keys.py).

Each clip is a random melody on a keyboard drawn with its pressed keys down (the gaps beside a pressed white
key open, a pressed black key drops), by two hands whose fingers follow the notes, written to H.264 at
640 x 360 and read back as a user's video is: the keyboard is found on the clip's keyframes
(`locate_keyboard`), the band around every key edge is sampled on every frame, and the notes are read with the
rendered fingertips as the hands' keypoints (`read_keyboard`). The cameras are the ones recordings vary, one
change at a time: from above, the player at the top and the picture rolled, 35 degrees off vertical from the
side, one end of the keyboard out of the frame, the hands' shadows cast over the keys by a lamp behind the player
(0.78 / 0.39 before shadows were taken out of the edges' change), a wide lens in a dim room with exposure jitter.
Notes are scored as `foley eval` scores them (onset within 50 ms; note F1 also needs the pitch), at the true clock.

The melody stays on keys well inside the frame: a key the frame does not show cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from keyboards import Camera, Style, render
from played_keys import Performed, fingertip_keypoints, melody, perform

from foley_engine.evaluation.scoring import score
from foley_engine.instruments import get_instrument
from foley_engine.notes import Note
from foley_engine.sources.keys import locate_keyboard, read_keyboard

SECONDS = 8.0
SIZE = (640, 360)
ONSET_FLOOR, NOTE_FLOOR = 0.9, 0.85

CASES = {
    "61 keys from above": dict(keys=61, camera=Camera(), seed=5),
    "88 keys, the player at the top, rolled 20 degrees": dict(keys=88, camera=Camera(roll=200), seed=2),
    "76 keys, 35 degrees off vertical from the side": dict(keys=76, camera=Camera(tilt=35, azimuth=-60), seed=4),
    "61 keys, the low end only, tilted and rolled": dict(
        keys=61, camera=Camera(shown=(-1, 24), tilt=20, roll=10), seed=7),
    "61 keys from above, a lamp behind the player: the hands' shadows on the keys": dict(
        keys=61, camera=Camera(), seed=2, shadow=0.35),
    "76 keys through a wide lens, dim wood room, exposure jitter": dict(
        keys=76, camera=Camera(tilt=30, azimuth=-120, distortion=-0.08, roll=170), seed=7, flicker=0.015,
        noise=5.0, lighting=0.5, style=Style(white=(205, 200, 190), background="wood")),
}


def _played(tmp_path: Path, keys: int, camera: Camera, seed: int, style: Style | None = None,
            lighting: float = 0.3, **looks: float) -> tuple[Performed, Path]:
    """A clip of a melody on the keys well inside the frame, written to H.264."""
    style = style or Style()
    shown = render(keys, SIZE, camera, style, lighting, frames=1, seed=seed)
    inside = [pitch for pitch in shown.centres if shown.inside(pitch, 1.5)]
    lowest = max(min(inside), 48)
    notes = melody(SECONDS, lowest, min(max(inside), lowest + 26), seed=seed)
    performed = perform(notes, SECONDS, keys, SIZE, camera, style, lighting, seed=seed, **looks)
    path = tmp_path / "played.mp4"
    _write(performed, path)
    return performed, path


def _write(performed: Performed, path: Path) -> None:
    """The clip's frames as H.264 (crf 20) at `path`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(performed.rate))
        stream.width, stream.height = SIZE
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "20"}
        for frame in performed.frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _scores(performed: Performed, path: Path, hands_seen: bool = True) -> dict:
    geometry = locate_keyboard(path, 0.0, SECONDS)
    assert geometry is not None, "no keyboard found"
    hands = fingertip_keypoints(performed.fingertips, performed.rate, SIZE, hands_seen)
    read = read_keyboard(path, 0.0, SECONDS, hands, get_instrument("piano"), geometry)
    truth = [Note(onset, release, pitch, 80) for pitch, onset, release in performed.notes]
    return score(truth, read.performance.tracks[0])


@pytest.mark.parametrize("name", list(CASES))
def test_the_pressed_keys_are_read_with_their_pitches_from_any_camera(name: str, tmp_path: Path) -> None:
    performed, path = _played(tmp_path, **CASES[name])
    result = _scores(performed, path)
    assert result["onset_f1"] >= ONSET_FLOOR and result["note_f1"] >= NOTE_FLOOR, (
        f"{name}: onset F1 {result['onset_f1']:.2f}, note F1 {result['note_f1']:.2f} "
        f"({result['estimated']} notes read, {result['reference']} played)")


def test_without_hands_in_view_the_key_that_moved_both_edges_is_read(tmp_path: Path) -> None:
    """No fingertip to choose between neighbours that share an edge: the one whose both edges moved is."""
    performed, path = _played(tmp_path, **CASES["61 keys from above"])
    result = _scores(performed, path, hands_seen=False)
    assert result["onset_f1"] >= ONSET_FLOOR and result["note_f1"] >= NOTE_FLOOR, (
        f"onset F1 {result['onset_f1']:.2f}, note F1 {result['note_f1']:.2f}")


def test_a_press_between_two_frames_is_timed_between_them(tmp_path: Path) -> None:
    """A key takes tens of milliseconds to go down and a camera's shutter stays open for part of the frame, so the
    frame in which a key went down shows it part way: the onset lies between frames, and a reading quantised to
    whole frames is off by up to one (a third of the 50 ms an onset is scored within). Here every key goes down
    over 30 ms to its note's onset, seen with the shutter open half the frame: the onsets read keep one delay
    (which the evaluation's clock lag takes up), and scatter around it by a few milliseconds."""
    performed, path = _played(tmp_path, **CASES["61 keys from above"], travel=0.03, shutter=0.5)
    result = _scores(performed, path)
    errors = np.array(result["timing_errors"])
    assert len(errors) >= 0.9 * len(performed.notes), f"{len(errors)} of {len(performed.notes)} onsets matched"
    delay = float(np.median(errors))
    scatter = float(np.median(np.abs(errors - delay)))
    assert abs(delay) < 0.02 and scatter < 0.005, (
        f"onsets read {delay * 1000:+.1f} ms late, scattered by {scatter * 1000:.1f} ms around that")


def _chord_read(tmp_path: Path, chord: list[tuple[int, float, float]], tune: list[tuple[int, float, float]],
                seconds: float, seed: int) -> list[tuple[int, float, float]]:
    """The notes below middle C read off a rendered clip of `chord` (left hand) and `tune` (right hand), as
    (pitch, start, end) rounded to 0.1 s."""
    performed = perform(sorted(chord + tune, key=lambda note: (note[1], note[0])), seconds, 61, SIZE, seed=seed)
    path = tmp_path / "held.mp4"
    _write(performed, path)
    geometry = locate_keyboard(path, 0.0, seconds)
    assert geometry is not None
    hands = fingertip_keypoints(performed.fingertips, performed.rate, SIZE)
    read = read_keyboard(path, 0.0, seconds, hands, get_instrument("piano"), geometry).performance.tracks[0]
    return sorted((note.pitch, round(note.start, 1), round(note.end, 1)) for note in read if note.pitch < 60)


def test_a_chord_held_for_seconds_at_the_start_of_a_clip_is_read_when_it_was_pressed(tmp_path: Path) -> None:
    """A key's usual look is its median over the seconds around the frame: up, where a key is down for less than
    half of them. At a clip's ends that window was cut short (6 s at the first frame), so a chord held from the
    first second to the fifth was down for most of it: its keys' usual look was down, and the chord was read
    from the clip's start until it was pressed (with a neighbour's pitch), then nothing while it sounded."""
    chord = [(48, 1.0, 5.0), (52, 1.0, 5.0), (55, 1.0, 5.0)]
    tune = [note for note in melody(14.0, 64, 84, seed=3) if note[1] >= 6.0]
    assert _chord_read(tmp_path, chord, tune, 14.0, seed=3) == chord


def test_a_chord_held_for_8_s_under_a_melody_is_read_while_it_sounds(tmp_path: Path) -> None:
    """A chord held for 8 s in the middle of a clip (a slow piece's sustained harmony under a melody) was down
    for most of the 12 s a key's usual look was taken over: that look was the pressed one, so the chord was
    missed while it sounded and read, with a neighbour's pitch, where it was up (presses.REFERENCE_SECONDS)."""
    chord = [(48, 8.0, 16.0), (52, 8.0, 16.0), (55, 8.0, 16.0)]
    assert _chord_read(tmp_path, chord, melody(24.0, 64, 84, seed=5), 24.0, seed=5) == chord
