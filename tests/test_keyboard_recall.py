"""Keyboards found before are remembered beside the keypoints and reused for other ranges of the same video,
but only where a keyframe of the range still shows them: a moved camera means a new search."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from keyboards import Camera, empty_frames, render

from foley_engine.keyboard import find_keyboard
from foley_engine.keyboard.geometry import Key, KeyboardGeometry
from foley_engine.keyboard.recall import RememberedKeyboards, still_fits
from foley_engine.sources import keys

SIZE = (640, 360)
CAMERA = Camera(tilt=20, roll=8)


def _moved(geometry: KeyboardGeometry, dx: float, dy: float = 0.0) -> KeyboardGeometry:
    """The geometry of the same keyboard seen by a camera shifted by (dx, dy) pixels."""
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])
    offset = np.array([dx, dy], np.float32)
    moved = tuple(Key(key.pitch, key.black, key.polygon + offset, key.far_end + offset, key.centre + offset)
                  for key in geometry.keys)
    return dataclasses.replace(geometry, keys=moved, homography=shift @ geometry.homography)


def _white_width(geometry: KeyboardGeometry) -> float:
    first, second = geometry.white_keys[:2]
    return float(np.linalg.norm(second.centre - first.centre))


@pytest.fixture(scope="module")
def found() -> tuple[KeyboardGeometry, list[np.ndarray]]:
    rendered = render(size=SIZE, camera=CAMERA, hands=2, frames=6, seed=3)
    geometry = find_keyboard(rendered.frames)
    assert geometry is not None
    return geometry, rendered.frames


def test_a_keyboard_still_fits_its_own_frames_with_hands_moving_over_it(found: tuple) -> None:
    geometry, frames = found
    assert all(still_fits(geometry, frame) for frame in frames)


def test_a_moved_camera_or_another_picture_does_not_fit(found: tuple) -> None:
    geometry, frames = found
    width = _white_width(geometry)
    assert not still_fits(_moved(geometry, 0.25 * width), frames[0])  # a quarter of a key along the keyboard
    assert not still_fits(_moved(geometry, 0.0, 2.0 * width), frames[0])  # a third of a key's length along it
    for change in ({"fill": 0.86}, {"roll": CAMERA.roll + 4}):  # zoomed out a little; turned by 4 degrees
        moved = render(size=SIZE, camera=dataclasses.replace(CAMERA, **change), hands=1, seed=3).frames[0]
        assert not still_fits(geometry, moved)
    assert not any(still_fits(geometry, frame) for frame in empty_frames(SIZE, "wood", frames=2))
    assert not still_fits(geometry, render(size=(320, 180), camera=CAMERA, seed=3).frames[0])  # another size


def test_remembered_keyboards_round_trip_and_survive_a_bad_cache(found: tuple, tmp_path: Path) -> None:
    geometry = found[0]
    memory = RememberedKeyboards(tmp_path / "keyboards", "abc")
    assert memory.found(1.0, 2.0) == (False, None) and memory.elsewhere(1.0, 2.0) == []
    memory.remember(1.0, 2.0, geometry)
    memory.remember(5.0, 6.0, None)  # looked at, no keyboard there
    memory.remember(9.0, 10.0, geometry)
    known, again = memory.found(1.0, 2.0)
    assert known and again is not None and np.allclose(again.homography, geometry.homography)
    assert memory.found(5.0, 6.0) == (True, None)
    assert len(memory.elsewhere(3.0, 4.0)) == 1  # the same keyboard twice is one candidate
    memory.path.write_text("{not json")
    assert memory.found(1.0, 2.0) == (False, None)
    memory.path.write_text(json.dumps({"version": 1, "ranges": [{"start": "x", "geometry": {"version": 0}}]}))
    assert memory.found(1.0, 2.0) == (False, None) and memory.elsewhere(1.0, 2.0) == []
    unwritable = RememberedKeyboards(tmp_path / "a-file" / "keyboards", "abc")
    (tmp_path / "a-file").write_text("")
    unwritable.remember(1.0, 2.0, geometry)  # a cache that cannot be written only costs time


@pytest.mark.real_media
def test_a_timeline_of_one_recording_looks_for_its_keyboard_once(piano_video: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """The shared clip's camera stays put: its keyboard, found once, is reused for another stretch and for
    the same stretch again; the same keyboard remembered where the camera would have moved is not."""
    monkeypatch.setenv("FOLEY_CACHE_DIR", str(tmp_path))
    searched: list[tuple[float, float]] = []
    locate = keys.locate_keyboard

    def counting(path: Path, start: float, end: float) -> KeyboardGeometry | None:
        searched.append((start, end))
        return locate(path, start, end)

    monkeypatch.setattr(keys, "locate_keyboard", counting)
    first = keys.recall_keyboard(piano_video, 8.0, 20.0)
    assert first is not None and searched == [(8.0, 20.0)]
    later = keys.recall_keyboard(piano_video, 30.5, 32.0)
    again = keys.recall_keyboard(piano_video, 8.0, 20.0)
    assert searched == [(8.0, 20.0)]
    assert later is not None and again is not None
    assert np.allclose(later.homography, first.homography) and np.allclose(again.homography, first.homography)

    memory = RememberedKeyboards(tmp_path / "keypoints" / "keyboards", keys.content_hash_of(piano_video))
    memory.remember(40.0, 41.5, None)  # searched in vain once (hands over the keys, say): a keyboard that fits wins
    recalled = keys.recall_keyboard(piano_video, 40.0, 41.5)
    assert recalled is not None and searched == [(8.0, 20.0)]
    assert memory.found(40.0, 41.5)[1] is not None

    memory.path.unlink()
    memory.remember(8.0, 20.0, _moved(first, 0.5 * _white_width(first)))
    assert keys.recall_keyboard(piano_video, 22.0, 23.5) is not None
    assert searched == [(8.0, 20.0), (22.0, 23.5)]
