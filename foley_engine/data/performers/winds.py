"""Wind and brass players: both hands on the instrument, fingers (or the slide) encode the pitch.

A wind player's onsets barely show, as on real footage: the fingers that change between two notes' fingerings
land exactly at the onset, the slide arrives at its position at the onset, and the chest and shoulders rise
with the breath before each phrase. Notes with the same fingering as the one before show no finger motion at
all (only the tongue moves), so the model has to learn the breath, the phrase and the fingering patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...instruments import Instrument
from ...notes import Note
from ...skeleton import BODY_INDEX, FINGERTIPS, LEFT, LEFT_HAND_OFFSET, RIGHT, RIGHT_HAND_OFFSET
from .body import Physique, Posture, Rig, new_arm_plan
from .camera import CameraView
from .hands import CURVED, GRIP
from .motion import EASE_IN, LINEAR, SMOOTH, Cue, Keyframes, Motion, glide

# Fingers over the tone holes, by semitone above the instrument's lowest note within an octave:
# left index, middle, ring, right index, middle, ring, right pinky key (1 = down).
_HOLES = (
    (1, 1, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1, 0), (1, 1, 1, 1, 1, 0, 0), (1, 1, 1, 1, 0, 1, 0),
    (1, 1, 1, 1, 0, 0, 0), (1, 1, 1, 0, 1, 1, 0), (1, 1, 1, 0, 0, 0, 0), (1, 1, 0, 1, 0, 0, 0),
    (1, 1, 0, 0, 0, 0, 0), (1, 0, 1, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0, 0), (0, 1, 0, 0, 0, 0, 0),
)
_HOLE_FINGERS = ((LEFT, 1), (LEFT, 2), (LEFT, 3), (RIGHT, 1), (RIGHT, 2), (RIGHT, 3), (RIGHT, 4))
_VALVES = ((), (2,), (1,), (1, 2), (2, 3), (1, 3), (1, 2, 3))  # valves pressed to lower a partial 0-6 semitones
_FUNDAMENTAL = {"trumpet": 46, "trombone": 34, "french-horn": 29, "tuba": 22}  # pedal notes of the open horn
# Flexion added to a curved finger closing a hole or pressing a valve, and lifted off it: 2-3 cm at the tip.
_DOWN = np.array([0.15, 0.1, 0.0])
_UP = np.array([-0.12, -0.08, 0.0])


@dataclass(frozen=True)
class Hold:
    """Where an instrument puts the hands, in the torso frame relative to the mouth (metres, scale 1)."""

    left: tuple[float, float, float]
    right: tuple[float, float, float]
    forward: tuple[tuple[float, float, float], tuple[float, float, float]]  # per hand, wrist -> knuckles
    palm: tuple[tuple[float, float, float], tuple[float, float, float]]  # per hand, direction of pressing
    elbows: tuple[tuple[float, float, float], tuple[float, float, float]]


_CLARINET = Hold((0.06, -0.2, 0.12), (-0.06, -0.36, 0.22), ((-1, -0.2, 0.3), (1, -0.2, 0.3)),
                 ((0, 0, -1), (0, 0, -1)), ((0.7, -1, 0), (-0.7, -1, 0)))
_HOLDS = {
    "clarinet": _CLARINET, "oboe": _CLARINET,
    "saxophone": Hold((0.0, -0.3, 0.1), (-0.12, -0.45, 0.14), ((-1, -0.2, 0.3), (1, -0.2, 0.3)),
                      ((0, 0, -1), (0, 0, -1)), ((0.7, -1, 0), (-0.7, -1, -0.2))),
    "bassoon": Hold((0.1, -0.25, 0.12), (-0.08, -0.45, 0.12), ((-1, 0.3, 0.2), (1, 0.1, 0.2)),
                    ((0, 0, -1), (0, 0, -1)), ((0.7, -1, 0), (-0.7, -1, 0))),
    "flute": Hold((-0.1, -0.07, 0.05), (-0.3, -0.07, 0.12), ((0, 0.8, -0.4), (0, 0.8, 0.4)),
                  ((0, -0.4, -0.8), (0, -0.4, 0.8)), ((0.2, -1, 0.3), (-0.6, -0.8, 0))),
    "trumpet": Hold((0.04, -0.08, 0.22), (-0.01, -0.02, 0.2), ((-0.3, 0.2, 1), (0.2, 0, 1)),
                    ((-1, 0, 0), (0, -1, 0)), ((0.6, -1, 0), (-0.6, -1, 0))),
    "trombone": Hold((0.04, -0.1, 0.12), (-0.06, -0.12, 0.3), ((-0.3, 0.3, 1), (0.2, 0.4, 1)),
                     ((-1, 0, 0), (1, 0, 0)), ((0.6, -1, 0), (-0.4, -1, 0))),
    "french-horn": Hold((0.02, -0.2, 0.25), (-0.22, -0.4, 0.05), ((-1, 0, 0.3), (0.3, -1, 0)),
                        ((0, -1, 0), (1, 0, 0)), ((0.7, -1, 0), (-0.7, -1, 0))),
    "tuba": Hold((0.14, -0.35, 0.2), (-0.06, -0.28, 0.28), ((-0.3, 0.5, 1), (0.1, 0, 1)),
                 ((-1, 0, 0), (0, -1, 0)), ((0.7, -1, 0), (-0.7, -1, 0))),
}


def fingering(instrument: Instrument, pitch: int) -> tuple[frozenset[tuple[int, int]], int]:
    """The (hand, finger) pairs that are down for a pitch, and the trombone slide position (1-7, else 0).

    Woodwinds: a fingering chart by pitch class above the lowest note, the left thumb working the octave key
    above the first octave (plus the right pinky above the second). Brass: valves by how far the pitch lies
    below the nearest partial of the open instrument; a trombone's slide does what valves do."""
    if instrument.family == "woodwind":
        octave, step = divmod(pitch - instrument.lowest, 12)
        down = {_HOLE_FINGERS[i] for i, closed in enumerate(_HOLES[step]) if closed}
        if octave >= 1:
            down.add((LEFT, 0))
        if octave >= 2:
            down.symmetric_difference_update({(RIGHT, 4), (LEFT, 3)})
        return frozenset(down), 0
    base = _FUNDAMENTAL[instrument.name]
    partials = base + np.round(12 * np.log2(np.arange(2, 17))).astype(int)
    above = partials[partials >= pitch]
    drop = int(min(above[0] - pitch, 6)) if len(above) else 0
    if instrument.name == "trombone":
        return frozenset(), drop + 1
    hand = LEFT if instrument.name == "french-horn" else RIGHT
    return frozenset((hand, valve) for valve in _VALVES[drop]), 0


def _breath(track: list[Note], times: np.ndarray, depth: float) -> np.ndarray:
    """Inhale (chest and shoulders up) in the rest before each phrase, then let the air out while playing."""
    breath = Keyframes(0.3 * depth)
    for i, note in enumerate(track):
        gap = note.start - (track[i - 1].end if i else -np.inf)
        if gap >= 0.3:
            breath.add(note.start - min(gap, 0.6), breath.last_value, LINEAR)
            breath.add(note.start - 0.05, depth * 1.2, SMOOTH)
            phrase_end = next((n.end for j, n in enumerate(track[i:], i)
                               if j + 1 == len(track) or track[j + 1].start - n.end >= 0.3), note.end)
            breath.add(phrase_end, depth * 0.1, LINEAR)
    return breath(times)


def animate(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
            view: CameraView) -> Motion:
    """A wind or brass player, standing or seated, instrument at the mouth."""
    physique = Physique.random(rng, seated=bool(rng.random() < 0.5))
    posture = Posture.idle(rng, times, view.sway, view.breathing)
    melody = _monophonic(track)
    posture.breath = _breath(melody, times, view.breathing)
    posture.nod *= 0.3  # the mouthpiece keeps the head still
    rig = Rig(physique, posture)
    scale = physique.scale
    hold = _HOLDS[instrument.name]
    mouth = np.array([0.0, 0.655, 0.11]) * scale
    arms = new_arm_plan(len(times), CURVED)
    arms.elbow_hint[:] = hold.elbows
    cues: list[Cue] = []
    slide = [(n.start, fingering(instrument, n.pitch)[1]) for n in melody]
    for hand, anchor in ((LEFT, hold.left), (RIGHT, hold.right)):
        wrist = np.broadcast_to(mouth + np.asarray(anchor) * scale, (len(times), 3)).copy()
        if instrument.name == "trombone" and hand == RIGHT:
            # the slide handle arrives at each note's position exactly at its onset
            path = glide(np.array([1.0]), [(t, np.array([float(p)])) for t, p in slide], lead=0.0, longest=0.25)
            wrist[:, 2] += (path(times)[:, 0] - 1.0) * 0.05 * scale  # 5 cm per position (real: 8.5)
            cues += [Cue(n.start, BODY_INDEX["right_wrist"], n.pitch)
                     for i, n in enumerate(melody) if i and slide[i][1] != slide[i - 1][1]]
        arms.wrist[:, hand] = rig.to_world(wrist)
        arms.forward[:, hand] = rig.turn(np.asarray(hold.forward[hand], dtype=np.float64))
        arms.palm[:, hand] = rig.turn(np.asarray(hold.palm[hand], dtype=np.float64))
        if instrument.family == "brass" and (hand == LEFT) != (instrument.name == "french-horn"):
            arms.flex[:, hand] = GRIP  # the hand that only holds the instrument
    cues += _finger_motion(arms.flex, instrument, melody, times)
    return Motion(joints=rig.assemble(arms), cues=sorted(cues, key=lambda c: c.onset))


def _finger_motion(flex: np.ndarray, instrument: Instrument, melody: list[Note], times: np.ndarray
                   ) -> list[Cue]:
    """Each finger goes down or up when the fingering changes, arriving exactly at the note's onset."""
    patterns = [fingering(instrument, n.pitch)[0] for n in melody]
    fingers = sorted({f for p in patterns for f in p} | ({(h, f) for h, f in _HOLE_FINGERS}
                                                            if instrument.family == "woodwind" else set()))
    cues = []
    for hand, finger in fingers:
        state = Keyframes(0.0)
        for i, note in enumerate(melody):
            down = float((hand, finger) in patterns[i])
            if down != state.last_value:
                state.add(note.start - 0.045, state.last_value, LINEAR)
                state.add(note.start, down, EASE_IN if down else SMOOTH)
                if down:
                    cues.append(Cue(note.start, (LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET)[hand] + FINGERTIPS[finger],
                                    note.pitch))
        amount = state(times)[:, None]
        flex[:, hand, finger] += amount * _DOWN + (1.0 - amount) * _UP
    return cues


def _monophonic(track: list[Note]) -> list[Note]:
    """One note at a time (a wind instrument cannot do more): the later note wins."""
    melody: list[Note] = []
    for note in sorted(track):
        if melody and melody[-1].start == note.start:
            continue
        if melody and melody[-1].end > note.start:
            last = melody.pop()
            melody.append(Note(last.start, note.start, last.pitch, last.velocity))
        melody.append(note)
    return melody
