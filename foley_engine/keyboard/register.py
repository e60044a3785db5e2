"""The octave of a keyboard whose ends are both out of the frame, from where the hands play.

The black keys' 2-3 grouping gives every key's pitch class but not its octave; a keyboard's ends give that
(keys.py). A close-up of the middle of a keyboard shows neither end, and the middle of the picture says little
(the camera frames the hands, wherever they play). The hands say more: a pianist sits at the middle of the
keyboard with the left hand below middle C and the right hand above it, so the point between the two hands'
usual places lies near middle C. On the shared top-down clip, whose ends are in view, the left hand's median
fingertip is on C#3 and the right's on B4, and between them lies C4; a close-up of that clip's middle, guessed
from the picture, came out an octave low. The answer can still be an octave off for music played high or low
on the keyboard, which is why the summary says how the octave was decided.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..keypoints import Keypoints
from ..skeleton import LEFT, RIGHT
from .geometry import KeyboardGeometry
from .keys import MIDDLE_C, OCTAVE_GUESSED_CONFIDENCE, note_name
from .reading import KEYS_DEPTH, fingertips

#: Where each hand usually plays (MIDI pitch of its median fingertip): the left hand an octave below middle C,
#: the right hand an octave above it.
HAND_PLACES = {LEFT: MIDDLE_C - 12, RIGHT: MIDDLE_C + 12}
#: A hand counts once this many of its fingertips were seen on the keys (reading.KEYS_DEPTH) over the range.
MIN_TIPS = 30
#: How sure an octave from the hands is (between the picture's guess and one end in view).
HANDS_CONFIDENCE = 0.3
#: The pitches a keyboard's keys can have (an 88-key piano's range).
PIANO_RANGE = (21, 108)


def octave_from_hands(geometry: KeyboardGeometry, keypoints: Keypoints) -> KeyboardGeometry:
    """`geometry` with its octave moved to where the hands play when it was only guessed from the picture (no
    end of the keyboard in view), else unchanged; also unchanged when no hand was seen on the keys enough."""
    if geometry.pitch_confidence > OCTAVE_GUESSED_CONFIDENCE or keypoints.num_performers == 0:
        return geometry
    boxes = geometry.plane_boxes
    centres, pitches = (boxes[:, 0] + boxes[:, 1]) / 2, np.array([key.pitch for key in geometry.keys])
    tips = fingertips(keypoints, geometry).reshape(keypoints.num_frames, keypoints.num_performers, 2, -1, 2)
    heard: dict[int, float] = {}  # side -> the pitch under the hand's median fingertip, as guessed
    for side in (LEFT, RIGHT):
        plane = tips[:, :, side].reshape(-1, 2)
        on_keys = plane[np.isfinite(plane[:, 0]) & (plane[:, 1] > KEYS_DEPTH[0]) & (plane[:, 1] < KEYS_DEPTH[1]), 0]
        if len(on_keys) >= MIN_TIPS:
            heard[side] = float(pitches[int(np.argmin(np.abs(centres - np.median(on_keys))))])
    if not heard:
        return geometry
    offset = float(np.mean([HAND_PLACES[side] - pitch for side, pitch in heard.items()]))
    lowest, highest = int(pitches.min()), int(pitches.max())
    octaves = [k for k in range(-8, 9) if PIANO_RANGE[0] <= lowest + 12 * k and highest + 12 * k <= PIANO_RANGE[1]]
    if not octaves:
        return geometry
    shift = 12 * min(octaves, key=lambda k: abs(12 * k - offset))
    hands = " and ".join(f"the {'left' if side == LEFT else 'right'} hand mostly on {note_name(int(pitch) + shift)}"
                         for side, pitch in sorted(heard.items()))
    keys = tuple(dataclasses.replace(key, pitch=key.pitch + shift) for key in geometry.keys)
    return dataclasses.replace(geometry, keys=keys, pitch_confidence=HANDS_CONFIDENCE,
                               pitch_evidence=f"no keyboard end identifies the octave: taken from where the hands "
                                              f"play ({hands}; a pianist's hands lie either side of middle C)")
