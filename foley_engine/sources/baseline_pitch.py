"""The baseline's pitch rules: where on an imaginary instrument a strike lands, measured once per performer.

See baseline.py's step 4: keys and mallets read position across the body, the accordion height, plucked and
bowed instruments the fretting hand's distance from the playing hand, winds the number of raised fingers.
Positions come in hand lengths, pixel-square, as baseline.py prepares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..skeleton import BODY_INDEX, FINGERTIPS, HAND_INDEX, LEFT, RIGHT

if TYPE_CHECKING:
    from .baseline import BaselineSettings, Family

_WRIST = HAND_INDEX["wrist"]
_FINGERS_NO_THUMB = FINGERTIPS[1:]
#: Scale steps each plucking effector adds, like fingerpicking: thumb on a bass string, fingers on higher ones.
_STRING_STEPS = {_WRIST: 0, FINGERTIPS[0]: -7, FINGERTIPS[1]: 0, FINGERTIPS[2]: 2, FINGERTIPS[3]: 4,
                 FINGERTIPS[4]: 6}


def wrist_track(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
           hand: int) -> tuple[np.ndarray, np.ndarray]:
    """One wrist's track from whichever source saw it more often: the hand landmarks or the body joint.

    Whole-clip choice, never mixed per frame, because the two sources disagree by a little and switching
    between them would look like motion.
    """
    joint = BODY_INDEX["left_wrist" if hand == LEFT else "right_wrist"]
    if body_ok[:, joint].sum() > hands_ok[:, hand, _WRIST].sum():
        return body_xy[:, joint], body_ok[:, joint]
    return hands_xy[:, hand, _WRIST], hands_ok[:, hand, _WRIST]


@dataclass
class Pitch:
    """A performer's pitch reference, measured once over the clip, per the family's pitch rule."""

    family: Family
    centre: np.ndarray  # (2,) reference point: "across" uses its x, "down" its y
    orientation: float  # +1 when image x grows towards the performer's right (a view from behind/above)
    shared: np.ndarray  # (T,) steps set by the other hand ("neck") or the fingers ("raised")

    @classmethod
    def measure(cls, family: Family, body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray,
                hands_ok: np.ndarray, settings: BaselineSettings) -> Pitch:
        num_frames = hands_xy.shape[0]
        tips_ok = hands_ok[:, :, list(FINGERTIPS)].all(axis=2)
        tips = hands_xy[:, :, list(FINGERTIPS)].mean(axis=2)
        seen = [hand for hand in (LEFT, RIGHT) if tips_ok[:, hand].any()]
        centre = (np.mean([np.median(tips[tips_ok[:, hand], hand], axis=0) for hand in seen], axis=0)
                  if seen else np.zeros(2))
        neck = BODY_INDEX["neck"]
        if body_ok[:, neck].sum() >= settings.min_scale_samples:  # the body is the better centre when seen
            centre[0] = np.median(body_xy[body_ok[:, neck], neck, 0])
        shared = np.zeros(num_frames)
        if family.pitch == "neck":
            shared = _neck_steps(body_xy, body_ok, hands_xy, hands_ok, family.step_width)
        elif family.pitch == "raised":
            shared = _raised_steps(hands_xy, hands_ok, settings)
        return cls(family, centre, _orientation(body_xy, body_ok, hands_xy, hands_ok), shared)

    def steps(self, position: np.ndarray, joint: int) -> np.ndarray:
        """(T,) scale steps from the centre pitch for an effector at ``position`` (T, 2)."""
        steps: np.ndarray
        if self.family.pitch == "across":
            steps = (position[:, 0] - self.centre[0]) * self.orientation / self.family.step_width
            return steps
        if self.family.pitch == "down":  # accordion treble keyboard: pitch rises towards the floor
            steps = (position[:, 1] - self.centre[1]) / self.family.step_width
            return steps
        if self.family.effectors == "plucking":
            return self.shared + _STRING_STEPS[joint]
        return self.shared


def _orientation(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray) -> float:
    """+1 if the performer's right side is at larger image x, from the wrists, else the shoulders; +1 if unknown."""
    pairs = [(hands_xy[:, RIGHT, _WRIST], hands_ok[:, RIGHT, _WRIST], hands_xy[:, LEFT, _WRIST],
              hands_ok[:, LEFT, _WRIST])]
    for right, left in (("right_wrist", "left_wrist"), ("right_shoulder", "left_shoulder")):
        r, left_joint = BODY_INDEX[right], BODY_INDEX[left]
        pairs.append((body_xy[:, r], body_ok[:, r], body_xy[:, left_joint], body_ok[:, left_joint]))
    for right_xy, right_ok, left_xy, left_ok in pairs:
        if right_ok.any() and left_ok.any():
            difference = np.median(right_xy[right_ok, 0]) - np.median(left_xy[left_ok, 0])
            if difference != 0:
                return float(np.sign(difference))
    return 1.0


def _hold(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Fill frames where a pitch source is unseen from the nearest seen frames (zero if never seen).

    This only chooses a pitch for a strike that was seen; it invents no motion and no note.
    """
    if not ok.any():
        return np.zeros(len(values))
    frames = np.arange(len(values))
    return np.interp(frames, frames[ok], values[ok])


def _neck_steps(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
                step_width: float) -> np.ndarray:
    """Fretting (left) hand closer than usual to where the right hand plucks or bows = higher, per step_width."""
    fret_xy, fret_ok = wrist_track(body_xy, body_ok, hands_xy, hands_ok, LEFT)
    play_xy, play_ok = wrist_track(body_xy, body_ok, hands_xy, hands_ok, RIGHT)
    if not fret_ok.any() or not play_ok.any():
        return np.zeros(len(fret_ok))
    distance = np.linalg.norm(fret_xy - np.median(play_xy[play_ok], axis=0), axis=1)
    return _hold((np.median(distance[fret_ok]) - distance) / step_width, fret_ok)


def _raised_steps(hands_xy: np.ndarray, hands_ok: np.ndarray, settings: BaselineSettings) -> np.ndarray:
    """One scale step per raised finger (thumbs excluded), centred: like the holes of a recorder.

    A finger counts as raised when its tip is further from its wrist than halfway between its own closest
    and furthest reach over the clip (10th/90th percentiles), which needs no assumption about the camera
    angle; a finger that never travels ``min_finger_travel`` never counts, so jitter cannot change notes.
    """
    raised = np.zeros(hands_xy.shape[0])
    seen_fingers = np.zeros(hands_xy.shape[0])
    for hand in (LEFT, RIGHT):
        for tip in _FINGERS_NO_THUMB:
            ok = hands_ok[:, hand, tip] & hands_ok[:, hand, _WRIST]
            if not ok.any():
                continue
            reach = np.linalg.norm(hands_xy[:, hand, tip] - hands_xy[:, hand, _WRIST], axis=1)
            closest, furthest = np.percentile(reach[ok], [10, 90])
            if furthest - closest >= settings.min_finger_travel:
                raised += ok & (reach > (closest + furthest) / 2)
            seen_fingers += ok
    return _hold(raised - seen_fingers / 2, seen_fingers > 0)
