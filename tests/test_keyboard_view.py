"""Where the camera is, and which keys it sees straight from above (their presses bare no visible wall)."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyboards import Camera, render

from foley_engine.keyboard import find_keyboard
from foley_engine.keyboard.view import camera_centre, keys_under_camera

SIZE = (640, 360)
MIDDLE = 26.0  # white-key widths: the middle of an 88-key keyboard with its cheek blocks, where renders aim


def _found(camera: Camera):
    geometry = find_keyboard(render(size=SIZE, camera=camera, hands=1, frames=4, seed=2).frames)
    assert geometry is not None
    return geometry


@pytest.mark.parametrize("camera", [Camera(), Camera(tilt=35), Camera(tilt=20, roll=180)],
                         ids=["above", "35-deg-from-the-player", "player-at-the-top"])
def test_a_camera_over_the_middle_of_the_keys_is_found_there_and_blind_to_the_keys_under_it(camera: Camera
                                                                                          ) -> None:
    geometry = _found(camera)
    assert camera_centre(geometry)[0] == pytest.approx(MIDDLE, abs=1.0)
    under = keys_under_camera(geometry)
    assert {64, 65} <= set(under)  # E4 and F4 meet at the middle
    assert min(under) >= 59 and max(under) <= 70  # within three white keys of it: B3 to A#4


def test_a_camera_off_the_keyboard_s_end_sees_every_key_s_walls() -> None:
    geometry = _found(Camera(tilt=35, azimuth=0))  # from beyond the high end
    assert camera_centre(geometry)[0] > 52
    assert keys_under_camera(geometry) == []


@pytest.mark.real_media
def test_the_shared_clip_s_keys_under_the_camera_are_those_it_misses(piano_video: Path) -> None:
    """From C#4 to F4 the shared clip's presses show no edge change (README, Keyboards); the keys played
    most around them (A3, C4, A4) are seen."""
    from foley_engine.sources.keys import locate_keyboard

    geometry = locate_keyboard(piano_video, 8.0, 20.0)
    assert geometry is not None
    under = keys_under_camera(geometry)
    assert {63, 64} <= set(under) and not {57, 60, 69} & set(under)
