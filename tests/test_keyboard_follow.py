"""A camera that moves (keyboard/follow.py): the keys are followed from frame to frame.

A press shows as a change of a grey level or two at an edge a pixel wide, so a camera that sways by a pixel
turned every edge into noise: a hand-held copy of a rendered performance read 0.57 / 0.46 (onset / note F1)
before, every note after. A steady camera, with its noise and exposure jitter, must not be followed; one bumped
once in a long take must.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from keyboards import SKIN, Camera, Style, render
from played_keys import Performed, fingertip_keypoints, melody, perform

from foley_engine import video
from foley_engine.evaluation.scoring import score
from foley_engine.instruments import get_instrument
from foley_engine.keyboard.detect import find_keyboard
from foley_engine.keyboard.follow import (
    CameraMotion,
    MotionFit,
    anchor_points,
    camera_motion,
    camera_moved,
    displaced,
    steadied,
)
from foley_engine.keyboard.presses import KeyBand, key_band
from foley_engine.notes import Note
from foley_engine.pose.bands import BandRows
from foley_engine.pose.extract import content_hash_of
from foley_engine.skeleton import FINGERTIPS
from foley_engine.sources.keys import locate_keyboard, read_keyboard

SIZE = (640, 360)
SECONDS = 8.0


def _sway(frame: int, pixels: float) -> np.ndarray:
    """A hand-held camera's motion at `frame` (30 fps) as a 2x3 affine map: a sway of `pixels` across and 0.7 of
    it up and down, and a turn of 0.3 degrees per pixel of sway, about the picture's middle."""
    seconds = frame / 30
    matrix = cv2.getRotationMatrix2D((SIZE[0] / 2, SIZE[1] / 2), 0.3 * pixels * np.sin(2 * np.pi * seconds / 3.7), 1.0)
    matrix[:, 2] += (pixels * np.sin(2 * np.pi * seconds / 2.9), 0.7 * pixels * np.sin(2 * np.pi * seconds / 2.3 + 1))
    return matrix


def _played(tmp_path: Path, sway: float) -> tuple[Performed, Path, np.ndarray]:
    """A melody on 61 keys seen from above, through a camera swaying by `sway` pixels, as H.264; and the
    fingertips where that camera saw them, (T, 2, 5, 2) pixels."""
    shown = render(61, SIZE, Camera(), Style(), 0.3, frames=1, seed=5)
    inside = [pitch for pitch in shown.centres if shown.inside(pitch, 1.5)]
    lowest = max(min(inside), 48)
    performed = perform(melody(SECONDS, lowest, lowest + 26, seed=5), SECONDS, 61, SIZE, Camera(), Style(), 0.3,
                        seed=5)
    tips = performed.fingertips.copy()
    path = tmp_path / "swaying.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = SIZE
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "20"}
        for index, frame in enumerate(performed.frames):
            matrix = _sway(index, sway)
            moved = cv2.warpAffine(frame, matrix, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            tips[index] = tips[index] @ matrix[:, :2].T + matrix[:, 2]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(moved, format="rgb24")))
        container.mux(stream.encode())
    return performed, path, tips


@pytest.mark.parametrize("sway", [1.0, 0.3, 4.0])
def test_a_swaying_camera_is_followed_and_its_keys_read(tmp_path: Path, sway: float) -> None:
    """Swaying by a pixel, a third of one, or four (a hand-held camera, turning by 1.2 degrees): the keyboard found
    on frames spread over the clip is where the keys were on average, so it is found again on those frames
    steadied by the camera's motion (at 4 px the keys read 0.82 / 0.64 onset / note F1 before)."""
    performed, path, tips = _played(tmp_path, sway)
    geometry = locate_keyboard(path, 0.0, SECONDS)
    assert geometry is not None
    hands = fingertip_keypoints(tips, performed.rate, SIZE)
    read = read_keyboard(path, 0.0, SECONDS, hands, get_instrument("piano"), geometry)
    result = score([Note(onset, release, pitch, 80) for pitch, onset, release in performed.notes],
                   read.performance.tracks[0])
    assert result["onset_f1"] >= 0.9 and result["note_f1"] >= 0.85, result
    assert read.geometry.keys[0].pitch == performed.rendered.lowest
    assert read.camera_motion is not None
    shift = read.camera_motion.largest_shift(geometry)
    assert 1.2 * sway <= shift <= 3 * sway, shift


def test_a_steady_camera_is_not_followed(tmp_path: Path) -> None:
    performed, path, tips = _played(tmp_path, 0.0)
    geometry = locate_keyboard(path, 0.0, SECONDS)
    assert geometry is not None
    hands = fingertip_keypoints(tips, performed.rate, SIZE)
    read = read_keyboard(path, 0.0, SECONDS, hands, get_instrument("piano"), geometry)
    assert read.camera_motion is None
    result = score([Note(onset, release, pitch, 80) for pitch, onset, release in performed.notes],
                   read.performance.tracks[0])
    assert result["onset_f1"] >= 0.9 and result["note_f1"] >= 0.85, result


def test_the_motion_is_measured_to_a_twentieth_of_a_pixel_past_a_hand() -> None:
    """Jumps of up to 5 px and turns of a third of a degree, from no motion, with a hand in the moved frame
    only. The keyboard is rendered at four times the size and moved there, then shrunk as a camera's sensor
    would (averaging): moving it at 640 x 360 by bilinear interpolation would blur it by the shift's fraction."""
    big = (SIZE[0] * 4, SIZE[1] * 4)
    shown = render(61, big, Camera(tilt=20, roll=10), Style(), 0.3, hands=2, frames=6, seed=3)
    frames = [cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA) for frame in shown.frames]
    geometry = find_keyboard(frames)
    assert geometry is not None
    fit = MotionFit(anchor_points(geometry), frames[0])
    for shift_x, shift_y, degrees in [(0.4, -0.25, 0.0), (-1.6, 0.9, 0.2), (2.5, 1.5, -0.35), (-5.0, 0.0, 0.0)]:
        matrix = cv2.getRotationMatrix2D(tuple(fit.centre), degrees, 1.0)
        matrix[:, 2] += (shift_x, shift_y)
        # The same motion in the big frame: a small pixel p covers the big pixels around 4 p + 1.5.
        at_big = cv2.getRotationMatrix2D(tuple(fit.centre * 4 + 1.5), degrees, 1.0)
        at_big[:, 2] += (shift_x * 4, shift_y * 4)
        moved = cv2.resize(cv2.warpAffine(shown.frames[0], at_big, big, flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE), SIZE, interpolation=cv2.INTER_AREA)
        cv2.fillPoly(moved, [np.array([[250, 120], [330, 110], [345, 260], [240, 270]], np.int32)], SKIN)
        motion = fit.motion(moved, np.zeros(4))
        truth = fit.points @ matrix[:, :2].T + matrix[:, 2]
        error = np.abs(displaced(fit.points, motion, fit.centre) - truth)
        assert error.max() < 0.05, (shift_x, shift_y, degrees, error.max())


def test_steadied_fingertips_are_where_the_steady_camera_would_have_seen_them() -> None:
    rng = np.random.default_rng(0)
    tips = rng.uniform(100, 500, (30, 2, 5, 2))
    motions = np.column_stack([rng.uniform(-2, 2, (30, 2)), rng.uniform(-0.004, 0.004, (30, 2))])
    centre = np.array([320.0, 170.0])
    moved = np.stack([displaced(frame.reshape(-1, 2), motion, centre).reshape(2, 5, 2)
                      for frame, motion in zip(tips, motions, strict=True)])
    back = steadied(fingertip_keypoints(moved, 30.0, SIZE), CameraMotion(np.arange(30) / 30, motions, centre), SIZE)
    found = back.hands[0][:, :, list(FINGERTIPS), :2] * np.array(SIZE)
    assert np.abs(found - tips).max() < 0.02


def _band_of_a_take(seconds: float, bump_at: float | None) -> tuple[BandRows, KeyBand]:
    """The band of a still keyboard over `seconds` at 30 fps with fresh sensor noise on every frame, the camera
    bumped by 1 px across and 0.5 down at `bump_at` (None: never) and staying there."""
    shown = render(61, SIZE, Camera(), Style(), 0.3, frames=1, seed=5)
    geometry = find_keyboard(shown.frames * 2)
    assert geometry is not None
    band = key_band(geometry)
    steady = band.sampler.sample(shown.frames[0]).astype(np.float32)
    bumped = band.sampler.sample(cv2.warpAffine(shown.frames[0], np.float32([[1, 0, 1.0], [0, 1, 0.5]]), SIZE,
                                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    times = np.arange(int(seconds * 30)) / 30
    looks = np.where((times >= (bump_at if bump_at is not None else np.inf))[:, None], bumped, steady)
    noisy = looks + np.random.default_rng(0).normal(0, 1.5, looks.shape)
    return BandRows(times, np.clip(np.rint(noisy), 0, 255).astype(np.uint8)), band


def test_a_camera_bumped_once_in_a_long_take_is_seen_to_have_moved() -> None:
    """The band shows a bump only while the keys' usual look catches up (a few seconds): in a 90 s take that is
    too little a share of the frames to go by, so a stretch of frames decides."""
    assert camera_moved(*_band_of_a_take(90.0, 80.0))
    assert not camera_moved(*_band_of_a_take(90.0, None))


def test_a_keyboard_whose_fallboard_side_is_out_of_the_frame_is_not_followed() -> None:
    """Too little of the anchor zone in the frame to fit a motion on: no motion, and no frame decoded for it."""
    shown = render(61, SIZE, Camera(), Style(), 0.3, frames=1, seed=5)
    geometry = find_keyboard(shown.frames * 2)
    assert geometry is not None and len(anchor_points(geometry)) > 1000
    # The camera moved towards the player until the anchor zone (the black keys' far ends, the fallboard) left
    # the top of the frame; the keys' front is still in it.
    up = float(anchor_points(geometry)[:, 1].max()) + 1
    cut = dataclasses.replace(geometry, homography=np.array([[1, 0, 0], [0, 1, -up], [0, 0, 1]]) @ geometry.homography)
    assert (cut.to_frame(np.array([[10.0, 0.9]]))[0, 1] > 0) and camera_motion(iter(()), cut) is None


def test_the_key_map_moves_with_the_camera() -> None:
    """What the preview and the panel draw at a time: every key and the plane's mapping where the motion then
    took them (to a hundredth of a pixel; the lens is applied before the motion, which a few pixels hardly change)."""
    shown = render(61, SIZE, Camera(tilt=20, roll=10), Style(), 0.3, frames=1, seed=3)
    geometry = find_keyboard(shown.frames * 2)
    assert geometry is not None
    motion = CameraMotion(np.array([0.0, 1 / 30]), np.array([[0.0, 0.0, 0.0, 0.0], [1.5, -0.8, 0.002, 0.004]]),
                          np.array([320.0, 180.0]))
    assert motion.moved(geometry, 0.0).keys[10].polygon == pytest.approx(geometry.keys[10].polygon)
    moved = motion.moved(geometry, 0.03)
    for key, before in zip(moved.keys, geometry.keys, strict=True):
        assert key.polygon == pytest.approx(displaced(before.polygon, motion.motions[1], motion.centre), abs=1e-3)
    plane = np.array([[5.0, 0.5], [20.0, 0.1], [30.0, 0.9]])
    assert moved.to_frame(plane) == pytest.approx(displaced(geometry.to_frame(plane), motion.motions[1],
                                                            motion.centre), abs=0.01)
    assert motion.largest_shift(geometry) > 1.5


def test_a_followed_range_read_again_is_not_followed_again(tmp_path: Path, isolated_cache: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The followed band is remembered beside the keypoints: another reading of the range (another instrument,
    another take) decodes no frame; a cache file that cannot be read is followed and written again."""
    performed, path, tips = _played(tmp_path, 1.0)
    geometry = locate_keyboard(path, 0.0, SECONDS)
    assert geometry is not None
    hands, piano = fingertip_keypoints(tips, performed.rate, SIZE), get_instrument("piano")
    first = read_keyboard(path, 0.0, SECONDS, hands, piano, geometry)
    assert first.camera_motion is not None
    [remembered] = (isolated_cache / "keypoints" / "followed").glob(f"{content_hash_of(path)}-*.npz")

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a frame was decoded")

    with monkeypatch.context() as patch:
        patch.setattr(video, "iter_frames", no_decoding)
        again = read_keyboard(path, 0.0, SECONDS, hands, piano, geometry)
    assert again.performance.tracks == first.performance.tracks
    assert again.camera_motion is not None
    assert np.array_equal(again.camera_motion.motions, first.camera_motion.motions)
    assert np.array_equal(again.geometry.homography, first.geometry.homography)  # the keyboard found again, kept
    remembered.write_bytes(b"not a cache file")
    anew = read_keyboard(path, 0.0, SECONDS, hands, piano, geometry)
    assert anew.performance.tracks == first.performance.tracks and remembered.stat().st_size > 1000
