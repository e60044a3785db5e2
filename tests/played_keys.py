"""Rendered clips of keys being played, for testing the keys source end to end (tests/test_keyboard_presses.py).

The keyboard, the camera, the room and the light are those of keyboards.py; here keys go down and come up
at known times, drawn as a pressed key looks from above, under two hands whose fingers follow the notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from keyboards import (
    LAYOUTS,
    SKIN,
    WHITE_CLASSES,
    Camera,
    RenderedKeyboard,
    Stage,
    Style,
    keyboard_canvas,
    make_stage,
    project,
)

from foley_engine.keypoints import Keypoints
from foley_engine.skeleton import FINGERTIPS, NUM_BODY_JOINTS, NUM_HAND_JOINTS


@dataclass
class Performed:
    """A rendered clip of keys being played: its frames, the notes pressed ((pitch, onset, release) seconds) and,
    for each frame, the five fingertips of each of the two hands in frame pixels ((T, 2, 5, 2), NaN = no hand)."""

    frames: list[np.ndarray]
    rate: float
    notes: list[tuple[int, float, float]]
    fingertips: np.ndarray
    rendered: RenderedKeyboard


#: Where fingers lie on the keys (plane y, 0 = fallboard): a finger pressing a white key, a black key, resting.
_TIP_WHITE, _TIP_BLACK, _TIP_REST = 0.78, 0.45, 0.85
_FINGER_SPACING = 1.05  # white-key widths between neighbouring fingertips
_SPLIT = 60  # notes below middle C are played by the left hand


def _playing_hand(homography: np.ndarray, tips: np.ndarray) -> list[np.ndarray]:
    """Polygons (supersampled pixels) of a hand with its five fingertips at plane points `tips` (5, 2): a palm in
    front of the keys, a finger from it to every tip, and the forearm leaving towards the player."""
    palm_x = float(np.mean(tips[:, 0]))
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    polygons = [np.stack([palm_x + 2.3 * np.cos(angles), 1.32 + 0.3 * np.sin(angles)], axis=1),
                np.array([[palm_x - 1.5, 1.4], [palm_x + 1.5, 1.4], [palm_x + 1.2, 3.0], [palm_x - 1.2, 3.0]])]
    for finger, (x, y) in enumerate(tips):
        base = np.array([palm_x + (finger - 2) * 0.9, 1.15])
        along = np.array([x, y]) - base
        across = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1e-6) * 0.26
        polygons.append(np.array([base - across, base + across, (x, y) + across * 0.8, (x, y) - across * 0.8]))
    return [project(homography, polygon) for polygon in polygons]


def perform(notes: list[tuple[int, float, float]], seconds: float, keys: int = 88, size: tuple[int, int] = (640, 360),
            camera: Camera | None = None, style: Style | None = None, lighting: float = 0.3, noise: float = 3.0,
            flicker: float = 0.01, rate: float = 30.0, seed: int = 0, shadow: float = 0.0, travel: float = 0.0,
            shutter: float = 0.0) -> Performed:
    """Render a clip of `notes` ((pitch, onset, release) seconds) played on a keyboard: every pressed key drawn
    down (see keyboard_canvas) from the first frame at or after its onset to the last before its release, by
    one of two hands whose fingers follow the notes (the left plays below middle C), over the keys' front;
    `flicker` is the frame-to-frame exposure jitter (a fraction of the brightness); `shadow` how much the hands'
    soft shadows, cast half a key's length towards the fallboard (a lamp behind the player), darken the keys.

    With `travel` (seconds) a key goes down steadily over that time, reaching the bottom, where a piano's note
    sounds, at the note's onset; with `shutter` (a share of the frame time, centred on the frame's time) a frame
    shows each key as deep as it was on average while the shutter was open: a press between two frames is seen
    part way down, as a real camera sees it."""
    camera, style = camera or Camera(), style or Style()
    rng = np.random.default_rng(seed)
    stage = make_stage(keys, size, camera, style, lighting, rng)
    centres = {pitch: ((left + right) / 2, black) for pitch, black, left, right in stage.layout}
    pressed_looks = {}
    for pitch in {pitch for pitch, _, _ in notes}:
        canvas, _ = keyboard_canvas(keys, style, stage.ppw, frozenset({pitch}))
        down = cv2.warpPerspective(canvas, stage.to_big, stage.big, flags=cv2.INTER_AREA)
        changed = np.abs(down - stage.keyboard).max(axis=2) > 0.5
        rows, columns = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        window = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
        pressed_looks[pitch] = (window, changed[window], down[window] * stage.mask[window][..., None])
    hands = [np.array([stage.whites * 0.3 + (finger - 2) * _FINGER_SPACING for finger in range(5)]),
             np.array([stage.whites * 0.6 + (finger - 2) * _FINGER_SPACING for finger in range(5)])]
    count = int(round(seconds * rate))
    frames, fingertips = [], np.full((count, 2, 5, 2), np.nan)
    for index in range(count):
        time = index / rate
        depths = _depths(notes, time, travel, shutter / rate)
        down = sorted(depths)
        picture = stage.scene.copy()
        for pitch, depth in depths.items():
            window, changed, look = pressed_looks[pitch]
            picture[window][changed] += depth * (look[changed] - picture[window][changed])
        hand_tips = []
        for side in (0, 1):
            playing = sorted(pitch for pitch in down if (pitch < _SPLIT) == (side == 0))
            tips = np.stack([hands[side], np.full(5, _TIP_REST)], axis=1)
            for pitch in playing:
                x, black = centres[pitch]
                finger = int(np.argmin(np.abs(hands[side] - x)))
                if abs(hands[side][finger] - x) > 0.5:  # the hand moves so that a finger is over the key
                    hands[side] = hands[side] + (x - hands[side][finger])
                    tips[:, 0] = hands[side]
                tips[finger] = (x, _TIP_BLACK if black else _TIP_WHITE)
            hand_tips.append(tips)
            fingertips[index, side] = stage.lens.distort(project(stage.homography, tips))
        if shadow:
            picture *= 1 - shadow * _shadows(stage, hand_tips)[..., None]
        for tips in hand_tips:
            for polygon in _playing_hand(stage.up @ stage.homography, tips):
                cv2.fillPoly(picture, [np.round(polygon * 4).astype(np.int32)], SKIN, cv2.LINE_AA, shift=2)
        frames.append(stage.finish(picture, size, noise, rng, 1.0 + rng.normal(0, flicker)))
    rendered = RenderedKeyboard(frames[:1], stage.homography, keys, LAYOUTS[keys][0])
    stage.truth(rendered, style, size)
    return Performed(frames, rate, notes, fingertips, rendered)


def _depths(notes: list[tuple[int, float, float]], time: float, travel: float, exposure: float) -> dict[int, float]:
    """How far down (0-1) each key that is not up is seen in the frame at `time`: its depth averaged over the
    `exposure` (seconds) centred there, a key going down over `travel` seconds up to its note's onset and coming
    up at once at its release."""
    moments = time + exposure * (np.arange(16) + 0.5 - 8) / 16 if exposure else np.array([time])
    depths: dict[int, float] = {}
    for pitch, onset, release in notes:
        if travel:
            depth = np.clip((moments - onset + travel) / travel, 0.0, 1.0)
        else:
            depth = (moments >= onset).astype(float)
        seen = float(np.mean(depth * (moments < release)))
        if seen > 0:
            depths[pitch] = max(depths.get(pitch, 0.0), seen)
    return depths


def fingertip_keypoints(tips: np.ndarray, rate: float, size: tuple[int, int], seen: bool = True) -> Keypoints:
    """One performer whose two hands have the fingertips `tips` ((T, 2, 5, 2) frame pixels, as Performed has
    them) and none of their other joints; with `seen` False, no hands at all."""
    frames = len(tips)
    hands = np.zeros((1, frames, 2, NUM_HAND_JOINTS, 3), np.float32)
    for finger, joint in enumerate(FINGERTIPS if seen else ()):
        hands[0, :, :, joint, :2] = tips[:, :, finger] / np.array(size)
        hands[0, :, :, joint, 2] = 1.0
    return Keypoints(rate, 0.0, np.zeros((1, frames, NUM_BODY_JOINTS, 3), np.float32), hands, size)


def _shadows(stage: Stage, hand_tips: list[np.ndarray]) -> np.ndarray:
    """Where the hands' shadows fall (supersampled, 0-1): their outlines moved half a key's length towards the
    fallboard, blurred by a quarter of a white key."""
    mask = np.zeros((stage.big[1], stage.big[0]), np.float32)
    towards_fallboard = np.array([[1, 0, 0], [0, 1, -0.8], [0, 0, 1]], np.float64)
    for tips in hand_tips:
        for polygon in _playing_hand(stage.up @ stage.homography @ towards_fallboard, tips):
            cv2.fillPoly(mask, [np.round(polygon * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    white = float(np.linalg.norm(np.diff(project(stage.up @ stage.homography, np.array([[10.0, 0.5], [11.0, 0.5]])),
                                         axis=0)))
    blurred: np.ndarray = cv2.GaussianBlur(mask, (0, 0), white / 4)
    return blurred


def melody(seconds: float, lowest: int, highest: int, seed: int = 0) -> list[tuple[int, float, float]]:
    """A random melody between two pitches ((pitch, onset, release) seconds), mostly on white keys: steps and
    leaps, notes of 0.12-0.5 s, rests of 0.06-0.3 s, repeated notes and now and then a second note under it.
    (A key held down most of the time is another matter: the press evidence takes a key's usual look to be up.)"""
    rng = np.random.default_rng(seed)
    scale = [pitch for pitch in range(lowest, highest + 1) if pitch % 12 in WHITE_CLASSES or rng.random() < 0.3]
    notes, time, index = [], 0.4, len(scale) // 2
    while time < seconds - 0.6:
        index += int(rng.choice([-2, -1, 0, 1, 2, 4, -4]))
        index = abs(index) if index < len(scale) else 2 * (len(scale) - 1) - index  # turns back at the ends
        length = float(rng.uniform(0.12, 0.5))
        notes.append((scale[index], time, time + length))
        if rng.random() < 0.15:
            under = scale[max(0, index - int(rng.integers(3, 6)))]
            notes.append((under, time, time + length))
        time += length + float(rng.uniform(0.06, 0.3))
    return sorted(notes, key=lambda note: (note[1], note[0]))
