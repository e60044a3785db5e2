"""A mallet player (marimba, xylophone): two hands strike bars laid out like a keyboard.

Pitch shows as where along the instrument the striking hand is (low notes on the performer's left, sharps
and flats on the far row); onsets as the hand coming down fastest and lowest exactly at the onset, then
rebounding; velocity as how high the hand lifts first. Hands alternate on fast single notes, as real
players stick them, and never cross; the body steps along with the hands.
"""

from __future__ import annotations

import numpy as np

from ...instruments import Instrument
from ...notes import Note, onset_groups
from ...skeleton import BODY_INDEX, LEFT, RIGHT
from .body import Physique, Posture, Rig, new_arm_plan
from .camera import CameraView
from .hands import GRIP
from .keys import WHITE_KEY, key_position
from .motion import Cue, Motion, glide, strike

_BAR = {"marimba": 0.05, "xylophone": 0.04}  # natural bar spacing, metres
_REST = 0.07  # wrist height above the striking height between notes
_WRISTS = (BODY_INDEX["left_wrist"], BODY_INDEX["right_wrist"])


def bar_position(pitch: int, instrument: Instrument) -> np.ndarray:
    """(x, y, z) of a bar's striking spot relative to the instrument's middle at the bar height."""
    centre = (instrument.lowest + instrument.highest) // 2
    x, black = key_position(pitch)
    x = (x - key_position(centre)[0]) * _BAR.get(instrument.name, 0.045) / WHITE_KEY
    return np.array([float(x), 0.03 * float(black), 0.13 * float(black)])


def sticking(track: list[Note], instrument: Instrument) -> list[tuple[Note, int]]:
    """Which hand strikes each note: the lower note of a pair with the left; single notes with the nearer
    hand, alternating when the same hand has just played, never crossing the hands."""
    where = [0.3, -0.3]  # current x of left and right hand (left hand on the +x, low side)
    last = [-np.inf, -np.inf]
    strokes = []
    for group in onset_groups(track):
        group = sorted(group, key=lambda n: n.pitch)[:2]
        if len(group) == 2:
            hands = [(group[0], LEFT), (group[1], RIGHT)]
        else:
            note = group[0]
            x = bar_position(note.pitch, instrument)[0]
            cost = [abs(x - where[h]) + (0.25 if note.start - last[h] < 0.2 else 0.0) for h in (LEFT, RIGHT)]
            cost[LEFT] += 1.0 if x < where[RIGHT] - 0.02 else 0.0
            cost[RIGHT] += 1.0 if x > where[LEFT] + 0.02 else 0.0
            hands = [(note, int(np.argmin(cost)))]
        for note, hand in hands:
            where[hand] = bar_position(note.pitch, instrument)[0]
            last[hand] = note.start
            strokes.append((note, hand))
    return strokes


def animate(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
            view: CameraView) -> Motion:
    """Standing behind the instrument, bars at hip height, one mallet in each fist."""
    physique = Physique.random(rng, seated=False)
    posture = Posture.idle(rng, times, view.sway, view.breathing)
    scale = physique.scale
    bars = np.array([0.0, 0.1 * scale, 0.62 * scale])
    grip_to_head = np.array([0.0, 0.1, -0.3]) * scale  # the wrist sits behind and above the mallet head
    strokes = sticking(track, instrument)
    arms = new_arm_plan(len(times), GRIP)
    arms.elbow_hint[:] = ((0.6, -1.0, -0.3), (-0.6, -1.0, -0.3))
    heights = []
    for hand in (LEFT, RIGHT):
        mine = [n for n, h in strokes if h == hand]
        home = bars + grip_to_head + np.array([0.25 if hand == LEFT else -0.25, _REST, 0.0])
        targets = [(n.start, bars + grip_to_head + bar_position(n.pitch, instrument)) for n in mine]
        path = glide(targets[0][1] if targets else home, targets, lead=0.06)(times)
        height = strike(mine, rest=_REST, down=0.0, lift=(0.4, 2.0), descent=(0.12, 0.06), hold=False)(times)
        path[:, 1] += height
        arms.wrist[:, hand] = path
        heights.append(height)
        cock = np.stack([np.zeros_like(height), 2.5 * (height - _REST) - 0.3, np.ones_like(height)], 1)
        arms.forward[:, hand] = cock  # the wrist cocks back on the way up
        arms.palm[:, hand] = (0.0, -1.0, 0.0)
    posture.shift[:, 0] += 0.6 * arms.wrist[:, :, 0].mean(axis=1)  # the player steps along the instrument
    posture.lean[:, 0] += 0.12
    joints = Rig(physique, posture).assemble(arms)
    cues = [Cue(n.start, _WRISTS[h], n.pitch) for n, h in strokes]
    return Motion(joints=joints, cues=sorted(cues, key=lambda c: c.onset))
