"""Previews: a contact sheet and an overlay video, with the skeleton where the keypoints say."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from media import make_video

from foley_engine.errors import Cancelled, OutputError
from foley_engine.keypoints import Keypoints
from foley_engine.pose.extract import extract_keypoints
from foley_engine.preview import _GAP, _HAND_COLOUR, SHEET_COLUMNS, SHEET_ROWS, draw_overlay, render_preview
from foley_engine.skeleton import LEFT, RIGHT


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4", seconds=2.0, rate=30, size=(320, 240))


def _fan_hand(x: float, y: float) -> np.ndarray:
    """21 landmarks: a wrist at (x, y) and five straight fingers fanning upwards, 4 joints each."""
    joints = [(x, y)]
    for angle in np.radians([150, 120, 90, 60, 30]):
        joints += [(x + 0.04 * k * np.cos(angle), y - 0.05 * k * np.sin(angle)) for k in range(1, 5)]
    return np.array(joints, np.float32)


def _keypoints(seconds: float = 2.0) -> Keypoints:
    """One performer whose left hand sits at x = 0.25 and right hand at x = 0.75, lower half of the frame."""
    frames = round(seconds * 30)
    hands = np.zeros((1, frames, 2, 21, 3), np.float32)
    for side, x in ((LEFT, 0.25), (RIGHT, 0.75)):
        hands[0, :, side, :, :2] = _fan_hand(x, 0.9)
        hands[0, :, side, :, 2] = 1.0
    return Keypoints(30.0, 0.0, np.zeros((1, frames, 25, 3), np.float32), hands, (320, 240))


def _colour_pixels(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    return np.all(np.abs(image.astype(int) - colour) <= tolerance, axis=-1)


def test_overlay_draws_each_hand_in_its_colour_where_it_is() -> None:
    background = np.full((240, 320, 3), 90, np.uint8)
    drawn = draw_overlay(background, _keypoints(), 0.5)
    left, right = _colour_pixels(drawn, _HAND_COLOUR[LEFT]), _colour_pixels(drawn, _HAND_COLOUR[RIGHT])
    assert left.sum() > 50 and right.sum() > 50
    assert np.nonzero(left)[1].mean() < 160 < np.nonzero(right)[1].mean()
    assert np.array_equal(background, np.full((240, 320, 3), 90, np.uint8)), "input left untouched"


def _duet() -> Keypoints:
    """Two performers: hands at x = 0.2 (left player) and x = 0.7 (right player), lower half of the frame."""
    frames = 30
    hands = np.zeros((2, frames, 2, 21, 3), np.float32)
    for performer, x in enumerate((0.2, 0.7)):
        hands[performer, :, LEFT, :, :2] = _fan_hand(x, 0.9)
        hands[performer, :, LEFT, :, 2] = 1.0
    return Keypoints(30.0, 0.0, np.zeros((2, frames, 25, 3), np.float32), hands, (320, 240))


def test_every_performer_is_labelled_above_their_joints_with_their_name() -> None:
    background = np.full((240, 320, 3), 90, np.uint8)
    labelled = draw_overlay(background, _duet(), 0.5, ["violin", "guitar"])
    numbered = draw_overlay(background, _duet(), 0.5)
    label = _colour_pixels(labelled, (255, 235, 80), tolerance=60)  # the performer labels' colour
    assert label.sum() > 100
    columns = np.nonzero(label)[1]
    assert (columns < 160).sum() > 30 and (columns >= 160).sum() > 30, "one label over each player"
    assert np.nonzero(label)[0].max() < 0.9 * 240 - 10, "above their highest joint"
    assert label.sum() > 3 * _colour_pixels(numbered, (255, 235, 80), tolerance=60).sum(), "names, not numbers only"
    assert _colour_pixels(draw_overlay(background, _keypoints(), 0.5), (255, 235, 80), 60).sum() == 0, (
        "a lone performer without a name needs no label")


def test_png_contact_sheet(tmp_path: Path, clip: Path) -> None:
    out = render_preview(clip, _keypoints(), tmp_path / "sheet.png", max_size=200)
    sheet = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert sheet.shape == (SHEET_ROWS * (150 + _GAP) + _GAP, SHEET_COLUMNS * (200 + _GAP) + _GAP, 3)
    assert sheet.std() > 20, "frames are drawn, not a blank canvas"
    assert _colour_pixels(sheet, _HAND_COLOUR[LEFT]).sum() > 6 * 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "sheet.png"], "no temporary file left"


def test_mp4_overlay_video(tmp_path: Path, clip: Path) -> None:
    calls: list[float] = []
    out = render_preview(clip, _keypoints(), tmp_path / "overlay.mp4", start=0.5, end=1.5,
                         progress=lambda f, m: calls.append(f))
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.name in ("h264", "mpeg4")
    assert len(frames) == 30
    assert frames[0].shape == (240, 320, 3)
    assert _colour_pixels(frames[10], _HAND_COLOUR[RIGHT]).sum() > 50
    assert calls[-1] == 1.0 and calls == sorted(calls)


def test_bad_name_and_cancel_leave_nothing_behind(tmp_path: Path, clip: Path) -> None:
    with pytest.raises(OutputError, match=r"\.png or \.mp4"):
        render_preview(clip, _keypoints(), tmp_path / "preview.gif")

    def cancel(fraction: float, message: str) -> None:
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        render_preview(clip, _keypoints(), tmp_path / "preview.mp4", progress=cancel)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


@pytest.mark.real_media
def test_piano_preview_shows_both_hands(tmp_path: Path, piano_video: Path) -> None:
    keypoints = extract_keypoints(piano_video, 10.0, 13.0)  # a cache hit after test_pose in the same session
    out = render_preview(piano_video, keypoints, tmp_path / "piano.png")
    sheet = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert sheet.shape == (SHEET_ROWS * (360 + _GAP) + _GAP, SHEET_COLUMNS * (640 + _GAP) + _GAP, 3)
    tile = sheet[_GAP:_GAP + 360, _GAP:_GAP + 640]
    left, right = _colour_pixels(tile, _HAND_COLOUR[LEFT], 30), _colour_pixels(tile, _HAND_COLOUR[RIGHT], 30)
    assert left.sum() > 100 and right.sum() > 100
    assert np.nonzero(left)[1].mean() < np.nonzero(right)[1].mean()
