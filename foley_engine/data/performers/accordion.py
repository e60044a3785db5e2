"""An accordionist: right-hand fingers strike a vertical keyboard, the left arm works the bellows.

Pitch shows as the height of the striking fingertip on the keyboard (high notes are lower, as on the
instrument), onsets as fingers pressing in exactly at the onset, and phrases as the bellows turning round:
the left hand reverses direction exactly at the first note of each phrase and moves faster when louder.
"""

from __future__ import annotations

import numpy as np

from ...instruments import Instrument
from ...notes import Note, onset_groups
from ...skeleton import BODY_INDEX, FINGERTIPS, RIGHT_HAND_OFFSET
from .body import Physique, Posture, Rig, new_arm_plan
from .camera import CameraView
from .hands import CURVED, HandGeometry, aim
from .keys import key_position
from .motion import (
    LINEAR,
    SMOOTH,
    Cue,
    Keyframes,
    Motion,
    glide,
    reversing_stroke,
    strike,
    velocity_scale,
)

_KEY = 0.019 / 0.0235  # accordion white keys are narrower than a piano's
_PRESS = np.array([[0.12, 0.1, 0.05]] + [[0.14, 0.06, 0.0]] * 4)
_SHUT, _OPEN = 0.05, 0.32  # bellows opening range, metres


def phrases(track: list[Note], rest: float = 0.3, longest: float = 4.0) -> list[list[Note]]:
    """Notes split into bellows strokes: at rests, and at the next onset once a stroke has lasted 3 s."""
    strokes: list[list[Note]] = []
    for group in onset_groups(track):
        start = group[0].start
        if (not strokes or start - max(n.end for n in strokes[-1]) >= rest
                or start - strokes[-1][0].start >= longest - 1.0):
            strokes.append([])
        strokes[-1].extend(group)
    return strokes


def _bellows(strokes: list[list[Note]], rng: np.random.Generator) -> Keyframes:
    """Bellows opening over time, reversing at the first onset of every stroke."""
    opening = float(rng.uniform(_SHUT, 0.15))
    direction = 1.0
    bellows = Keyframes(opening)
    for i, stroke in enumerate(strokes):
        onset = stroke[0].start
        end = strokes[i + 1][0].start if i + 1 < len(strokes) else max(n.end for n in stroke)
        span = max(end - onset, 0.05)
        speed = velocity_scale(np.mean([n.velocity for n in stroke]), 0.03, 0.12)
        opening = reversing_stroke(bellows, onset, span, opening, direction, speed, _SHUT, _OPEN,
                                   min_distance=0.01, max_accel=0.1)
        direction = -direction
    return bellows


def animate(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
            view: CameraView) -> Motion:
    """Accordion strapped to the chest: keyboard on the performer's right, bass side on the left."""
    physique = Physique.random(rng, seated=bool(rng.random() < 0.4))
    posture = Posture.idle(rng, times, view.sway, view.breathing)
    rig = Rig(physique, posture)
    scale = physique.scale
    arms = new_arm_plan(len(times), CURVED)
    arms.elbow_hint[:] = ((0.8, -1.0, -0.2), (-0.35, -1.0, -0.2))
    arms.lateral = np.full((len(times), 2, 5), np.nan)
    geometry: HandGeometry = rig.hands
    top = 0.55 * scale

    def key(pitch: int) -> np.ndarray:
        """Key surface point: low notes at the top, black keys set back towards the body."""
        x, black = key_position(pitch)
        height = top + (x - float(key_position(instrument.lowest)[0][()])) * _KEY
        return np.array([-0.12 * scale, height, (0.28 - 0.03 * black) * scale])

    # The hand lies along the outside of the keyboard, fingers reaching forward and in, pressing towards +x.
    forward, palm = np.array([0.5, 0.0, 0.85]), np.array([0.85, 0.0, -0.5])
    reach = 0.092 * geometry.scale + float(geometry.reach(CURVED)[2])
    groups = onset_groups(track)
    centres = [(g[0].start, np.mean([key(n.pitch) for n in g], axis=0)) for g in groups]
    back = reach * np.array([0.45, 0.0, 0.8])  # from the fingertips' line back to the wrist
    targets = [(t, c - back) for t, c in centres]
    home = key((instrument.lowest + instrument.highest) // 2) - back
    wrist = glide(targets[0][1] if targets else home, targets)
    arms.wrist[:, 1] = rig.to_world(wrist(times))
    arms.forward[:, 1] = rig.turn(forward)
    arms.palm[:, 1] = rig.turn(palm)
    cues = []
    fingers: dict[int, list[tuple[Note, float]]] = {}
    for _, group, target in zip(centres, groups, targets, strict=True):
        ranked = sorted(group, key=lambda n: n.pitch)
        for rank, note in enumerate(ranked[:5]):
            finger = min(rank + max(0, 2 - len(ranked) // 2), 4)  # thumb on top (lowest note), pinky below
            offset = float(aim(geometry, 1, target[1], forward, palm, finger, key(note.pitch))[0])
            fingers.setdefault(finger, []).append((note, offset))
            cues.append(Cue(note.start, RIGHT_HAND_OFFSET + FINGERTIPS[finger], note.pitch))
    for finger, played in fingers.items():
        arms.flex[:, 1, finger] += strike([n for n, _ in played])(times)[:, None] * _PRESS[finger]
        lateral = Keyframes(played[0][1])
        for note, offset in played:
            lateral.add(note.start - 0.15, lateral.last_value, LINEAR)
            lateral.add(note.start - 0.07, offset, SMOOTH)
        arms.lateral[:, 1, finger] = lateral(times)
    strokes = phrases(track)
    opening = _bellows(strokes, rng)(times)
    bass = np.stack([0.2 * scale + opening, np.full_like(opening, 0.42 * scale), 0.14 * scale - 0.2 * opening], 1)
    arms.wrist[:, 0] = rig.to_world(bass)
    arms.forward[:, 0] = rig.turn(np.array([0.0, -0.3, 1.0]))
    arms.palm[:, 0] = rig.turn(np.array([-1.0, 0.0, 0.0]))
    cues += [Cue(s[0].start, BODY_INDEX["left_wrist"], s[0].pitch) for s in strokes[1:]]
    return Motion(joints=rig.assemble(arms), cues=sorted(cues, key=lambda c: c.onset))
