"""find_keyboard on rendered keyboards whose every key is known (tests/keyboards.py).

For each picture: every key whose true centre lies at least half a white key inside the frame must be found
with its exact pitch, its centre within a quarter of the local white-key width of the truth, and no key the
instrument does not have may appear in the frame. The grid covers what recordings vary - in-plane rotation
up to 45 degrees, cameras 30-45 degrees off vertical, the player at the bottom or the top of the frame, 49 to
88 keys, one end of the keyboard out of the frame, small and large frames, other colours and light, hands
over the keys, a lens that bends the row - one or two at a time rather than as a full cross product, so the
file stays fast. Pictures without a keyboard must give None.

Set FOLEY_KEYBOARD_PNG to a folder to get every case's frame with the detected key map (and the true centres
as dots) drawn on, for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED_MEDIA, require_shared
from keyboards import LAYOUTS, Camera, RenderedKeyboard, Style, empty_frames, render

from foley_engine.keyboard import KeyboardGeometry, draw_keyboard, find_keyboard
from foley_engine.keyboard.keys import is_black, note_name

#: A key is judged when its true centre is this many white-key widths inside the frame...
MARGIN = 0.5
#: ...and its centre must be found within this fraction of the local white-key width.
TOLERANCE = 0.25

IVORY = Style(white=(250, 240, 205), black=(60, 40, 35), background="wood")
#: A white digital piano in a dim, unevenly lit room: its cheek blocks are as light as the keys.
WHITE_PIANO = Style(white=(225, 225, 230), black=(25, 25, 25), body=(235, 235, 235), felt=(40, 40, 40),
                    background="room")
DARK_KEYS = Style(white=(170, 170, 175), black=(15, 15, 15), body=(60, 40, 30), background="room",
                  black_offsets="even")

CASES = {
    "88 keys from above": dict(keys=88),
    "61 keys rotated 45 degrees": dict(keys=61, camera=Camera(roll=45)),
    "76 keys rotated -45 degrees": dict(keys=76, camera=Camera(roll=-45)),
    "88 keys, camera 30 degrees off vertical": dict(keys=88, camera=Camera(tilt=30)),
    "61 keys, camera 45 degrees off vertical, from the side": dict(keys=61, camera=Camera(tilt=45, azimuth=-60)),
    "88 keys, player at the top": dict(keys=88, camera=Camera(roll=180)),
    "76 keys, player at the top, 35 degrees off vertical, rolled": dict(
        keys=76, camera=Camera(tilt=35, roll=160)),
    "49 keys": dict(keys=49, camera=Camera(roll=-10)),
    "88 keys, high part out of the frame (octave from A0)": dict(keys=88, camera=Camera(shown=(-1, 28), tilt=20)),
    "76 keys, low part out of the frame (octave from G7)": dict(keys=76, camera=Camera(shown=(18, 46), roll=15)),
    "88 keys in 640x360": dict(keys=88, size=(640, 360)),
    "61 keys in 640x360, 35 degrees off vertical": dict(keys=61, size=(640, 360), camera=Camera(tilt=35, roll=10)),
    "61 keys in 1920x1080 from the player's left, 25 degrees off vertical, two hands": dict(
        keys=61, size=(1920, 1080), camera=Camera(tilt=25, azimuth=-70, roll=18, distance=1.67, fill=0.87),
        hands=2, frames=5, lighting=0.25, seed=39),
    "76 ivory keys on wood": dict(keys=76, style=IVORY, camera=Camera(tilt=25)),
    "61-key white digital piano, uneven light": dict(keys=61, style=WHITE_PIANO, lighting=0.5),
    "88 grey keys, even black-key spacing, dim room": dict(keys=88, style=DARK_KEYS, lighting=0.4,
                                                           camera=Camera(roll=-25)),
    "88 keys with two hands playing": dict(keys=88, hands=2, frames=5),
    "61 keys with two hands, player at the top, 35 degrees off vertical": dict(
        keys=61, hands=2, frames=5, camera=Camera(tilt=35, roll=180)),
    "88 keys through a barrel lens, two hands": dict(keys=88, size=(960, 540), camera=Camera(distortion=-0.1),
                                                     hands=2, frames=3),
    # Drawn at random in a wider sweep, where earlier versions failed them:
    "76 keys cut by the frame under a hand, player at the top": dict(
        keys=76, camera=Camera(tilt=27, azimuth=-100, roll=138, distance=1.75, fill=0.88, shown=(16, 46)),
        hands=1, frames=5, lighting=0.23, seed=32),
    "61 grey keys before a grey wall as light as they are": dict(
        keys=61, style=DARK_KEYS, camera=Camera(tilt=13, azimuth=-110, roll=27, distance=1.4, fill=0.8),
        hands=2, frames=5, lighting=0.25, seed=6),
    "61 grey keys cut at a slant by the frame's corner": dict(
        keys=61, style=DARK_KEYS, camera=Camera(tilt=4, azimuth=-119, roll=-24, distance=1.43, fill=0.71,
                                                shown=(11, 37)), hands=2, frames=5, lighting=0.35, seed=125),
}


def _save_png(name: str, rendered: RenderedKeyboard, geometry: KeyboardGeometry | None) -> None:
    folder = os.environ.get("FOLEY_KEYBOARD_PNG")
    if not folder:
        return
    picture = rendered.frames[0] if geometry is None else draw_keyboard(rendered.frames[0], geometry)
    for centre in rendered.centres.values():
        cv2.circle(picture, tuple(int(round(v)) for v in centre), 2, (255, 0, 255), -1)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())
    Path(folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(Path(folder) / f"{slug}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


def _misplaced(rendered: RenderedKeyboard, geometry: KeyboardGeometry, shift: int = 0) -> list[str]:
    """What is wrong with the keys found (pitches shifted by `shift` semitones), one line per key."""
    found = {key.pitch - shift: key for key in geometry.keys}
    problems = []
    for pitch, centre in sorted(rendered.centres.items()):
        if not rendered.inside(pitch, MARGIN):
            continue
        key = found.get(pitch)
        if key is None:
            problems.append(f"{note_name(pitch)} not found")
            continue
        off = float(np.linalg.norm(key.centre - centre)) / rendered.white_widths[pitch]
        if off > TOLERANCE or key.black != is_black(pitch):
            problems.append(f"{note_name(pitch)} {off:.2f} white keys off")
    lowest, highest = LAYOUTS[rendered.keys]
    height, width = rendered.frames[0].shape[:2]
    pad = MARGIN * float(np.median(list(rendered.white_widths.values())))
    for pitch, key in found.items():
        x, y = key.centre
        if not lowest <= pitch <= highest and pad <= x <= width - pad and pad <= y <= height - pad:
            problems.append(f"{note_name(pitch)} found but the keyboard has no such key")
    return problems


@pytest.mark.parametrize("name", list(CASES))
def test_every_visible_key_is_found_with_its_pitch(name: str) -> None:
    case = CASES[name]
    rendered = render(**case)
    geometry = find_keyboard(rendered.frames)
    _save_png(name, rendered, geometry)
    assert geometry is not None, "no keyboard found"
    assert len([p for p in rendered.centres if rendered.inside(p, MARGIN)]) >= 20  # the case shows keys at all
    problems = _misplaced(rendered, geometry)
    assert not problems, f"{len(problems)} keys wrong ({geometry.pitch_evidence}): " + "; ".join(problems[:8])
    roll = case.get("camera", Camera()).roll
    assert geometry.near_edge_down == (abs((roll + 180) % 360 - 180) < 90)
    if case.get("camera", Camera()).shown is not None:
        assert geometry.pitch_confidence >= 0.7, geometry.pitch_evidence  # the visible end names the octave


def test_an_end_that_several_sizes_share_is_reported_as_an_assumption() -> None:
    """Only the top C of a 61-key keyboard in view: C7, but a C8 of 88 keys or a C6 of 49 looks the same, so
    the keys must be right up to whole octaves and the octave flagged as assumed, not claimed."""
    rendered = render(keys=61, camera=Camera(shown=(14, 37), tilt=20))
    geometry = find_keyboard(rendered.frames)
    _save_png("61 keys, only the top C in view", rendered, geometry)
    assert geometry is not None
    shifts = [shift for shift in (-24, -12, 0, 12, 24) if not _misplaced(rendered, geometry, shift)]
    assert shifts, "the keys are wrong beyond the octave: " + "; ".join(_misplaced(rendered, geometry)[:8])
    assert geometry.pitch_confidence < 0.5 and "assumed" in geometry.pitch_evidence, geometry.pitch_evidence


@pytest.mark.parametrize("background", ["noise", "room", "wood"])
def test_a_room_without_a_keyboard_gives_none(background: str) -> None:
    assert find_keyboard(empty_frames((1280, 720), background, frames=3, seed=7)) is None


def test_evenly_spaced_dark_bars_are_no_keyboard() -> None:
    """A fence, blinds or a barcode: dark bars like black keys, but without their groups of two and three."""
    picture = np.full((720, 1280, 3), 205, np.uint8)
    for x in range(80, 1200, 28):
        cv2.rectangle(picture, (x, 250), (x + 12, 420), (25, 25, 25), -1)
    assert find_keyboard([picture]) is None


@pytest.mark.real_media
def test_a_real_violin_recording_gives_none() -> None:
    av = pytest.importorskip("av")
    path = require_shared(SHARED_MEDIA / "violin-urmp" / "video.mp4")
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for index, frame in enumerate(container.decode(video=0))
                  if index % 15 == 0 and index < 150]
    assert find_keyboard(frames) is None
