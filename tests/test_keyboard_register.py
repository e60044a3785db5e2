"""A keyboard with neither end in view takes its octave from where the hands play (keyboard/register.py).

The geometry is made by hand: 21 white keys whose octave was guessed from the middle of the picture, an octave
low (as on a close-up of the shared clip's middle); the fingertips play where a pianist's hands do.
"""

from __future__ import annotations

import numpy as np

from foley_engine.keyboard.geometry import Key, KeyboardGeometry
from foley_engine.keyboard.keys import OCTAVE_GUESSED_CONFIDENCE, is_black
from foley_engine.keyboard.register import octave_from_hands
from foley_engine.keypoints import Keypoints
from foley_engine.skeleton import FINGERTIPS, LEFT, RIGHT

RATE = 30.0
FRAMES = 60
WHITES = [pitch for pitch in range(36, 72) if not is_black(pitch)]  # C2-B4 as guessed; C3-B5 in truth
FRAME = (10 * len(WHITES), 50)  # pixels: 10 per white key across, 50 along the keys


def _guessed(confidence: float = OCTAVE_GUESSED_CONFIDENCE, whites: list[int] = WHITES) -> KeyboardGeometry:
    homography = np.diag([10.0, 50.0, 1.0])
    keys = []
    for index, pitch in enumerate(whites):
        quad = np.array([[index, 0], [index + 1, 0], [index + 1, 1], [index, 1]], np.float32) * (10, 50)
        keys.append(Key(pitch, False, quad, quad.copy(), quad.mean(axis=0)))
    return KeyboardGeometry((10 * len(whites), 50), homography, 0.0, tuple(keys), True, confidence,
                            "no keyboard end identifies the octave: assumed middle C nearest the middle of the picture",
                            0.9)


def _hands(places: dict[int, int], whites: list[int] = WHITES) -> Keypoints:
    """One performer whose fingertips of each side in `places` lie around the white key of that (guessed) pitch."""
    hands = np.zeros((1, FRAMES, 2, 21, 3), np.float32)
    width = 10 * len(whites)
    for side, pitch in places.items():
        centre = whites.index(pitch) + 0.5
        for finger, tip in enumerate(FINGERTIPS):
            x = centre + (finger - 2) * 0.8 + 0.2 * np.sin(np.arange(FRAMES) / 5.0)
            hands[0, :, side, tip] = np.stack([x * 10 / width, np.full(FRAMES, 0.7), np.ones(FRAMES)], axis=1)
    return Keypoints(RATE, 0.0, np.zeros((1, FRAMES, 25, 3), np.float32), hands, (width, 50))


def test_a_guessed_octave_moves_to_where_the_hands_play() -> None:
    """The left hand plays on what the picture called C2 and the right on C4: they are C3 and C5, the usual
    places of a pianist's hands either side of middle C, so every key is an octave higher."""
    placed = octave_from_hands(_guessed(), _hands({LEFT: 36, RIGHT: 60}))
    assert [key.pitch for key in placed.keys] == [pitch + 12 for pitch in WHITES]
    assert "where the hands play" in placed.pitch_evidence and placed.pitch_confidence > OCTAVE_GUESSED_CONFIDENCE
    # One hand is enough (a camera over the right hand only); a guess the hands agree with stays.
    assert [key.pitch for key in octave_from_hands(_guessed(), _hands({RIGHT: 60})).keys][0] == 48
    assert [key.pitch for key in octave_from_hands(_guessed(), _hands({LEFT: 48, RIGHT: 64})).keys][0] == 36


def test_an_octave_decided_by_an_end_or_seen_without_hands_stays() -> None:
    confident = _guessed(confidence=0.75)
    assert octave_from_hands(confident, _hands({LEFT: 36, RIGHT: 60})) is confident
    guessed = _guessed()
    nobody = Keypoints(RATE, 0.0, np.zeros((0, FRAMES, 25, 3), np.float32), np.zeros((0, FRAMES, 2, 21, 3),
                                                                                      np.float32), FRAME)
    assert octave_from_hands(guessed, nobody) is guessed
    off_the_keys = _hands({LEFT: 36, RIGHT: 60})
    off_the_keys.hands[..., 1] = 3.0  # fingertips far below the keys, on the player's lap
    assert octave_from_hands(guessed, off_the_keys) is guessed


def test_the_octave_stays_within_a_piano() -> None:
    """Keys guessed as A0 and up cannot go an octave lower, though a left hand on G3 says so: the nearest octave a
    piano has is kept."""
    low = [pitch for pitch in range(21, 57) if not is_black(pitch)]
    placed = octave_from_hands(_guessed(whites=low), _hands({LEFT: 55}, whites=low))
    assert placed.keys[0].pitch == 21 and "where the hands play" in placed.pitch_evidence
