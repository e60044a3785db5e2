"""A pianist or organist: two hands over a keyboard, fingers striking keys exactly at note onsets.

Pitch shows as where along the keyboard the striking fingertip is (the left hand takes the lower notes);
onset as the fingertip's fast downward stroke that stops on the key bottom at the onset; velocity as how high
the finger lifts first and so how fast it comes down; duration as how long the finger stays down.

Around those cues real hands are never still, and from above that is most of what a camera sees: idle fingers
and wrists wander, a striking finger drags its neighbours along, and the hand leans towards the keys it
plays. The performer does all of that too, so a model cannot learn to rely on a perfectly still hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

from ...instruments import Instrument
from ...notes import Note, onset_groups
from ...skeleton import FINGERTIPS, LEFT, LEFT_HAND_OFFSET, RIGHT, RIGHT_HAND_OFFSET
from .body import Physique, Posture, Rig, new_arm_plan
from .camera import CameraView
from .hands import CURVED, HandGeometry
from .motion import LINEAR, SMOOTH, Cue, Keyframes, Motion, drift, glide, strike

WHITE_KEY = 0.0235  # metres between white key centres
_WHITE_STEP = (0, 0.5, 1, 1.5, 2, 3, 3.5, 4, 4.5, 5, 5.5, 6)  # white-key index of each pitch class
_PRESS = np.array([[0.12, 0.10, 0.05]] + [[0.13, 0.06, 0.0]] * 4)  # flexion per unit of key press
_REACH = 0.06  # a hand plays notes this far either side of its centre without moving
_HAND_OFFSETS = (LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET)


def key_position(pitch: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """x (metres, middle C at 0, higher pitches towards the performer's right = -x) and whether black."""
    octave, pitch_class = np.divmod(np.asarray(pitch), 12)
    step = np.asarray(_WHITE_STEP)[pitch_class] + 7 * (octave - 5)
    return -step * WHITE_KEY, step % 1 != 0


@dataclass
class Stroke:
    """One note as a hand plays it: which finger, and where that fingertip must be sideways."""

    note: Note
    hand: int
    finger: int
    lateral: float  # thumbward tip offset from the finger's base, metres


class KeyboardHands:
    """Decides which hand and finger play each note and where each hand is, as a pianist would.

    Chords split between the hands where the split keeps each hand near where it was and within an octave;
    a hand moves only when a note is out of its reach, so positions are stable like a real player's.
    """

    def __init__(self, geometry: HandGeometry) -> None:
        self.geometry = geometry
        natural = np.sin(np.array([0.75, 0.08, 0.0, -0.07, -0.16])) * geometry.reach(CURVED)
        self.natural_lateral = natural  # thumbward tip offset from the base at rest, per finger
        self.tip_offset = np.array([geometry.base_offset(f) for f in range(5)]) + natural

    @staticmethod
    def thumbward(hand: int) -> float:
        """World x of the thumbward direction: palms down, a left thumb points to -x, a right one to +x."""
        return -1.0 if hand == LEFT else 1.0

    def plan(self, notes: list[Note]) -> tuple[list[Stroke], list[list[tuple[float, float, bool]]]]:
        """Strokes for every note, and per hand the (time, centre x, reaches black keys) it must be at."""
        centres = [0.2, -0.2]
        strokes: list[Stroke] = []
        positions: list[list[tuple[float, float, bool]]] = [[], []]
        for group in onset_groups(notes):
            group = sorted(group, key=lambda n: n.pitch)
            split = self._split(group, centres)
            for hand, part in ((LEFT, group[:split]), (RIGHT, group[split:])):
                if not part:
                    continue
                xs, black = key_position([n.pitch for n in part])
                if np.abs(xs - centres[hand]).max() > _REACH:
                    # Overshoot a little in the direction of travel, leaving room for the notes that follow.
                    centres[hand] = float(xs.mean() + np.sign(xs.mean() - centres[hand]) * 0.4 * _REACH)
                positions[hand].append((part[0].start, centres[hand], bool(black.any())))
                strokes += self._fingers(part, xs, hand, centres[hand])
        return strokes, positions

    @staticmethod
    def _split(group: list[Note], centres: list[float]) -> int:
        """How many of the chord's lowest notes go to the left hand."""
        xs, _ = key_position([n.pitch for n in group])
        best, best_cost = len(group) // 2, np.inf
        for split in range(len(group) + 1):
            left, right = xs[:split], xs[split:]
            if len(left) > 5 or len(right) > 5:
                continue
            cost = np.abs(left - centres[LEFT]).sum() + np.abs(right - centres[RIGHT]).sum()
            for part in (left, right):
                if len(part) and np.ptp(part) > 7 * WHITE_KEY:
                    cost += 10.0 * np.ptp(part)
            if cost < best_cost:
                best, best_cost = split, cost
        return best

    def _fingers(self, part: list[Note], xs: np.ndarray, hand: int, centre: float) -> list[Stroke]:
        """Fingers in keyboard order (thumb on the inside), chosen to need the least stretching."""
        side = self.thumbward(hand)
        tips = centre + side * self.tip_offset  # natural x of each fingertip
        order = np.argsort(xs)
        finger_order = np.argsort(tips)
        count = min(len(part), 5)
        best, best_cost = tuple(range(count)), np.inf
        for chosen in combinations(range(5), count):
            cost = np.abs(tips[finger_order[list(chosen)]] - xs[order[:count]]).sum()
            if cost < best_cost:
                best, best_cost = chosen, cost
        strokes = []
        for rank, index in enumerate(order):
            finger = int(finger_order[best[min(rank, count - 1)]])
            lateral = (xs[index] - centre) * side - self.geometry.base_offset(finger)
            strokes.append(Stroke(part[index], hand, finger, float(lateral)))
        return strokes


def _lateral_curve(strokes: list[Stroke], natural: float) -> Keyframes:
    """Thumbward tip offset of one finger: reaching for each of its notes' keys, relaxing in between."""
    lateral = Keyframes(natural)
    for stroke in strokes:
        note = stroke.note
        lateral.add(note.start - 0.16, lateral.last_value, LINEAR)
        lateral.add(note.start - 0.08, stroke.lateral, SMOOTH)
        lateral.add(note.end, stroke.lateral, LINEAR)
        lateral.add(note.end + 0.08, natural, SMOOTH)
    return lateral


def _follow_curve(strokes: list[Stroke], wrist_x: np.ndarray, times: np.ndarray, gain: float) -> Keyframes:
    """Sideways wrist shift towards the keys being played: real hands lean into each chord or note (arriving
    just before it, leaving at its release) instead of holding still over a fixed position, and from above
    that lean is the clearest sign of a note (a key press itself barely moves a fingertip in the image)."""
    shift = Keyframes(0.0)
    for group in onset_groups([s.note for s in strokes]):
        onset = group[0].start
        here = float(np.interp(onset, times, wrist_x))
        xs, _ = key_position([n.pitch for n in group])
        release = max(n.end for n in group)
        shift.add(onset - 0.12, shift.last_value, LINEAR)
        shift.add(onset - 0.03, gain * float(xs.mean() - here), SMOOTH)
        shift.add(release, shift.last_value, LINEAR)
        shift.add(release + 0.1, 0.0, SMOOTH)
    return shift


def animate(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
            view: CameraView) -> Motion:
    """A seated keyboard player; middle C sits in front of the performer."""
    physique = Physique.random(rng, seated=True)
    posture = Posture.idle(rng, times, view.sway, view.breathing)
    geometry = HandGeometry(physique.hand_scale)
    keys_y, keys_z = 0.22 * physique.scale, 0.45 * physique.scale
    hands = KeyboardHands(geometry)
    strokes, positions = hands.plan(track)
    steps = len(times)
    arms = new_arm_plan(steps, CURVED)
    arms.elbow_hint[:] = ((0.3, -1.0, -0.3), (-0.3, -1.0, -0.3))  # elbows hang by the sides
    arms.lateral = np.broadcast_to(hands.natural_lateral, (steps, 2, 5)).copy()
    reach = 0.092 * geometry.scale + float(geometry.reach(CURVED)[2])
    follow = rng.uniform(0.0, 0.4)  # how much this player's hands lean towards the keys they play
    curl = rng.uniform(0.7, 2.0)  # how far this player's fingers curl into a key (flat to hammer-like)
    coupling = rng.uniform(0.1, 0.5)  # how much a neighbouring finger moves along with a striking one
    restless = rng.uniform(0.3, 1.0)  # how much idle fingers and wrists wander between notes
    for hand in (LEFT, RIGHT):
        home = np.array([0.25 if hand == LEFT else -0.25, keys_y + 0.05, keys_z - reach])
        targets = [(onset, np.array([x, home[1], home[2] + (0.035 if black else 0.0)]))
                   for onset, x, black in positions[hand]]
        arms.wrist[:, hand] = glide(targets[0][1] if targets else home, targets)(times)
        lean = _follow_curve([s for s in strokes if s.hand == hand], arms.wrist[:, hand, 0], times, follow)(times)
        arms.wrist[:, hand, 0] += lean
        arms.wrist[:, hand, ::2] += drift(rng, times, 0.006 * restless, 0.05, 0.6, dims=2)
        arms.forward[:, hand] = (0.0, -0.25, 1.0)  # no sideways component: thumbward is exactly +-x
        for finger in range(5):
            mine = [s for s in strokes if s.hand == hand and s.finger == finger]
            if mine:
                press = curl * strike([s.note for s in mine])(times)
                arms.flex[:, hand, finger] += press[:, None] * _PRESS[finger]
                for neighbour in (finger - 1, finger + 1):  # fingers share tendons: neighbours follow a little
                    if 0 <= neighbour < 5:
                        arms.flex[:, hand, neighbour] += coupling * press[:, None] * _PRESS[neighbour]
                arms.lateral[:, hand, finger] = _lateral_curve(mine, float(hands.natural_lateral[finger]))(times)
        arms.flex[:, hand] += drift(rng, times, 0.3 * restless, 0.2, 1.5, dims=5)[:, :, None] * _PRESS
        arms.lateral[:, hand] += drift(rng, times, 0.003 * restless, 0.2, 1.5, dims=5)
        arms.lateral[:, hand] -= lean[:, None] * hands.thumbward(hand)  # the palm leans, the fingertips stay on keys
    posture.lean[:, 1] += 0.35 * arms.wrist[:, :, 0].mean(axis=1)  # lean towards where the hands are
    posture.lean[:, 0] += 0.08
    joints = Rig(physique, posture).assemble(arms)
    cues = [Cue(s.note.start, _HAND_OFFSETS[s.hand] + FINGERTIPS[s.finger], s.note.pitch) for s in strokes]
    return Motion(joints=joints, cues=sorted(cues, key=lambda c: c.onset))
