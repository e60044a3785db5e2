"""String players: guitar, bass and ukulele (fret and pluck), harp (two plucking hands), and the bowed family.

Fretted and bowed instruments share one picture: the left hand's place along the neck follows the pitch
(higher = nearer the bridge) and a finger presses when the pitch changes. The right hand carries the onset:
a finger or a strum sweeps through the strings fastest at the onset, or the bow turns round at the onset
and moves faster for louder notes. A harpist plucks with both hands, the string's place following the pitch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ...instruments import Instrument
from ...notes import Note, onset_groups
from ...skeleton import BODY_INDEX, FINGERTIPS, LEFT, LEFT_HAND_OFFSET, RIGHT, RIGHT_HAND_OFFSET
from .body import ArmPlan, Physique, Posture, Rig, new_arm_plan
from .camera import CameraView
from .hands import GRIP, RELAXED, aim
from .motion import (
    LINEAR,
    SMOOTH,
    Cue,
    Keyframes,
    Motion,
    glide,
    pluck,
    reversing_stroke,
    strike,
    velocity_scale,
)

_FRET_PRESS = np.array([0.25, 0.2, 0.1])  # flexion per unit press of a fretting finger
_PLUCK_FLEX = np.array([0.45, 0.35, 0.1])  # flexion per unit of a plucking finger's sweep


def _unit(v: ArrayLike) -> np.ndarray:
    array = np.asarray(v, dtype=np.float64)
    unit: np.ndarray = array / np.linalg.norm(array)
    return unit


@dataclass(frozen=True)
class Neck:
    """A fingerboard in the performer's torso frame (metres at body scale 1)."""

    open_strings: tuple[int, ...]  # lowest first
    length: float  # vibrating string length, nut to bridge
    bridge: tuple[float, float, float]
    to_nut: tuple[float, float, float]  # direction bridge -> nut
    face_hint: tuple[float, float, float]  # roughly where the fingerboard faces
    grip: float  # +1: left fingers come over from the lowest string's side (bowed), -1: the other (guitar)
    spacing: float = 0.009  # between strings

    @property
    def along(self) -> np.ndarray:
        """Unit vector from the nut towards the bridge."""
        return -_unit(self.to_nut)

    @property
    def face(self) -> np.ndarray:
        face = np.asarray(self.face_hint, dtype=np.float64)
        return _unit(face - (face @ self.along) * self.along)

    @property
    def across(self) -> np.ndarray:
        """Unit vector across the strings towards the lowest string: towards the performer's left (+x) for
        bowed instruments, up for a guitar on the lap."""
        across = np.cross(self.face, self.along)
        hint = np.array([0.0, 1.0, 0.0]) if self.grip < 0 else np.array([1.0, 0.0, 0.0])
        towards_left: np.ndarray = across * np.sign(across @ hint)
        return towards_left

    def point(self, semitones: np.ndarray, string: np.ndarray, scale: float) -> np.ndarray:
        """Where a string is stopped `semitones` above its open pitch (just behind the fret), (N, 3)."""
        semitones = np.asarray(semitones, dtype=np.float64)
        nut = np.asarray(self.bridge) * scale + self.length * scale * _unit(self.to_nut)
        from_nut = self.length * scale * (1.0 - 2.0 ** (-np.maximum(semitones - 0.3, 0.0) / 12.0))
        middle = (len(self.open_strings) - 1) / 2.0
        stopped: np.ndarray = nut + from_nut[:, None] * self.along \
            + ((middle - np.asarray(string)) * self.spacing)[:, None] * self.across
        return stopped

    def position(self, pitch: int) -> int:
        """Semitones from the nut to the first finger: first position up to a few notes above the top open
        string, then climbing with the pitch, so the hand's place along the neck never falls as pitch rises."""
        return max(1, pitch - self.open_strings[-1] - 1)

    def fingering(self, pitch: int, position: int) -> tuple[int, int]:
        """(string, semitones above it) for a pitch with the hand at `position`: the highest string that
        reaches it there, else the nearest fret on any string."""
        frets = [pitch - o for o in self.open_strings]
        for string in range(len(frets) - 1, -1, -1):
            if frets[string] == 0 and position == 1 or position - 1 <= frets[string] <= position + 4:
                return string, frets[string]
        string = int(np.argmin([f if f >= 0 else 99 for f in frets]))
        return string, max(frets[string], 0)


_PLUCKED = {  # neck, seated probability
    "guitar": Neck((40, 45, 50, 55, 59, 64), 0.65, (-0.13, 0.13, 0.17), (1.0, 0.35, 0.3), (0.0, 0.0, 1.0), -1.0),
    "electric-guitar": Neck((40, 45, 50, 55, 59, 64), 0.648, (-0.13, 0.1, 0.17), (1.0, 0.3, 0.3), (0, 0, 1.0), -1.0),
    "bass": Neck((28, 33, 38, 43), 0.86, (-0.2, 0.1, 0.17), (1.0, 0.3, 0.3), (0.0, 0.0, 1.0), -1.0, 0.012),
    "ukulele": Neck((60, 64, 67, 69), 0.35, (-0.05, 0.25, 0.2), (1.0, 0.3, 0.35), (0.0, 0.0, 1.0), -1.0),
}
_BOWED = {  # neck, standing?, bow length
    "violin": (Neck((55, 62, 69, 76), 0.33, (0.16, 0.59, 0.19), (0.6, 0.05, 0.85), (-0.35, 1.0, 0.0), 1.0, 0.008), 0.6),
    "viola": (Neck((48, 55, 62, 69), 0.37, (0.16, 0.58, 0.2), (0.6, 0.05, 0.85), (-0.35, 1.0, 0.0), 1.0, 0.009), 0.6),
    "cello": (Neck((36, 43, 50, 57), 0.69, (0.0, 0.0, 0.42), (0.15, 1.0, -0.45), (0.0, 0.0, 1.0), 1.0, 0.012), 0.6),
    "double-bass": (Neck((28, 33, 38, 43), 1.05, (0.0, 0.0, 0.3), (0.2, 1.0, -0.25), (0, 0, 1.0), 1.0, 0.015), 0.6),
}


@dataclass
class Stop:
    """How the left hand plays one note."""

    note: Note
    string: int
    fret: int
    position: int
    finger: int  # 1-4 (index..pinky), 0 for an open string


def _stops(track: list[Note], neck: Neck) -> list[Stop]:
    stops = []
    for group in onset_groups(track):
        position = neck.position(max(n.pitch for n in group))
        used: set[int] = set()
        for note in sorted(group, key=lambda n: -n.pitch):
            string, fret = neck.fingering(note.pitch, position)
            if string in used:
                continue  # no free string for this chord note: it sounds, but the left hand cannot show it
            used.add(string)
            finger = 0 if fret == 0 else int(np.clip(fret - position + 1, 1, 4))
            stops.append(Stop(note, string, fret, position, finger))
    return stops


def _left_hand(arms: ArmPlan, rig: Rig, neck: Neck, stops: list[Stop], times: np.ndarray, vibrato: bool,
               rng: np.random.Generator) -> list[Cue]:
    """Fretting hand: glides along the neck with the position, presses a finger where the pitch changes."""
    scale = rig.physique.scale
    forward = _unit(-neck.grip * neck.across + 0.5 * neck.face)
    palm = _unit(-0.5 * neck.grip * neck.across - neck.face)

    def wrist_at(position: float) -> np.ndarray:
        spot = neck.point(np.array([position + 1.5]), np.array([(len(neck.open_strings) - 1) / 2.0]), scale)[0]
        wrist: np.ndarray = spot + neck.grip * 0.065 * scale * neck.across - 0.035 * scale * neck.face
        return wrist

    targets = [(s.note.start, wrist_at(s.position)) for s in stops]
    wrist = glide(targets[0][1] if targets else wrist_at(1), targets)(times)
    if vibrato:
        wrist += _vibrato([s.note for s in stops], times, rng)[:, None] * 0.004 * scale * neck.along
    arms.wrist[:, LEFT] = rig.to_world(wrist)
    arms.forward[:, LEFT] = rig.turn(forward)
    arms.palm[:, LEFT] = rig.turn(palm)
    arms.lateral = np.full(arms.flex.shape[:3], np.nan) if arms.lateral is None else arms.lateral
    cues = []
    for finger in range(1, 5):
        mine = [s for s in stops if s.finger == finger]
        changed = [s for i, s in enumerate(mine) if i == 0 or (s.string, s.fret) != (mine[i - 1].string,
                                                                                     mine[i - 1].fret)]
        if not changed:
            continue
        arms.flex[:, LEFT, finger] += strike([s.note for s in changed])(times)[:, None] * _FRET_PRESS
        spots = neck.point(np.array([s.fret for s in changed]), np.array([s.string for s in changed]), scale)
        hand_at = np.stack([wrist_at(s.position) for s in changed])
        offsets = aim(rig.hands, LEFT, hand_at, forward, palm, finger, spots)
        lateral = Keyframes(offsets[0])
        for stop, offset in zip(changed, offsets, strict=True):
            lateral.add(stop.note.start - 0.12, lateral.last_value, LINEAR)
            lateral.add(stop.note.start - 0.05, offset, SMOOTH)
        arms.lateral[:, LEFT, finger] = lateral(times)
        cues += [Cue(s.note.start, LEFT_HAND_OFFSET + FINGERTIPS[finger], s.note.pitch) for s in changed]
    return cues


def _vibrato(notes: list[Note], times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 5-6.5 Hz rocking of the hand on notes held longer than 0.35 s, fading in after the onset."""
    depth = Keyframes(0.0)
    for note in notes:
        if note.end - note.start > 0.35:
            depth.add(note.start + 0.12, 0.0, LINEAR)
            depth.add(note.start + 0.3, 1.0, SMOOTH)
            depth.add(note.end - 0.05, 1.0, LINEAR)
            depth.add(note.end, 0.0, SMOOTH)
    vibrato: np.ndarray = depth(times) * np.sin(2 * np.pi * rng.uniform(5.0, 6.5) * times)
    return vibrato


def _setup(rng: np.random.Generator, times: np.ndarray, view: CameraView, seated: bool
           ) -> tuple[Physique, Posture, Rig]:
    physique = Physique.random(rng, seated=seated)
    posture = Posture.idle(rng, times, view.sway, view.breathing)
    posture.lean[:, 0] += 0.06
    return physique, posture, Rig(physique, posture)


def animate_plucked(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
                    view: CameraView) -> Motion:
    """A guitarist (bassist, ukulele player) on a chair, or a harpist."""
    if instrument.name not in _PLUCKED:
        return _harp(track, times, rng, view)
    neck = _PLUCKED[instrument.name]
    physique, posture, rig = _setup(rng, times, view, seated=bool(rng.random() < 0.75))
    scale = physique.scale
    arms = new_arm_plan(len(times), RELAXED)
    arms.elbow_hint[:] = ((0.3, -1.0, -0.3), (-0.5, -0.4, -0.6))
    cues = _left_hand(arms, rig, neck, _stops(track, neck), times, False, rng)
    # Plucking hand: hangs over the strings between soundhole and bridge, fingers pointing down across them.
    over = np.asarray(neck.bridge) * scale + 0.12 * scale * _unit(neck.to_nut)
    forward = _unit(-neck.across - 0.3 * neck.along)
    palm = -neck.face
    groups = onset_groups(track)
    strums = [g for g in groups if len(g) >= 3]
    sweep = pluck([max(g, key=lambda n: n.velocity) for g in strums], (0.02, 0.06), 0.06)(times)
    wrist = over + 0.1 * scale * neck.across + 0.05 * scale * neck.face
    arms.wrist[:, RIGHT] = rig.to_world(wrist[None] + sweep[:, None] * -neck.across)
    arms.forward[:, RIGHT] = rig.turn(forward)
    arms.palm[:, RIGHT] = rig.turn(palm)
    cues += [Cue(g[0].start, BODY_INDEX["right_wrist"], max(n.pitch for n in g)) for g in strums]
    picked = [n for g in groups if len(g) < 3 for n in g]
    strings = {id(s.note): s.string for s in _stops(picked, neck)}
    count = len(neck.open_strings)
    for finger in range(4):
        # thumb for the low strings, index/middle/ring for the top three
        mine = [n for n in picked if min(max(strings.get(id(n), 0) - (count - 4), 0), 3) == finger]
        if mine:
            arms.flex[:, RIGHT, finger] += pluck(mine)(times)[:, None] * _PLUCK_FLEX
            cues += [Cue(n.start, RIGHT_HAND_OFFSET + FINGERTIPS[finger], n.pitch) for n in mine]
    return Motion(joints=rig.assemble(arms), cues=sorted(cues, key=lambda c: c.onset))


def _harp(track: list[Note], times: np.ndarray, rng: np.random.Generator, view: CameraView) -> Motion:
    """Both hands pluck from either side of the strings; low strings are farther from the player and lower."""
    physique, posture, rig = _setup(rng, times, view, seated=True)
    scale = physique.scale
    arms = new_arm_plan(len(times), RELAXED)
    arms.elbow_hint[:] = ((0.8, -0.6, 0.0), (-0.8, -0.6, 0.0))
    split = float(np.median([n.pitch for n in track])) if track else 60.0
    cues = []
    for hand, sign in ((LEFT, 1.0), (RIGHT, -1.0)):
        mine = [n for n in track if (n.pitch < split) == (hand == LEFT)]

        def spot(pitch: float, sign: float = sign) -> np.ndarray:  # this hand's side, bound now
            r = np.clip((pitch - 24.0) / 79.0, 0.0, 1.0)
            return np.array([sign * 0.05, 0.2 + 0.2 * r, 0.62 - 0.3 * r]) * scale

        targets = [(g[0].start, spot(float(np.mean([n.pitch for n in g]))) - np.array([0, 0, 0.12 * scale]))
                   for g in onset_groups(mine)]
        home = spot(split) - np.array([0, 0, 0.12 * scale])
        arms.wrist[:, hand] = rig.to_world(glide(targets[0][1] if targets else home, targets)(times))
        arms.forward[:, hand] = rig.turn(_unit((-sign * 0.3, 0.2, 1.0)))
        arms.palm[:, hand] = rig.turn(np.array([-sign, 0.0, 0.0]))
        fingers: dict[int, list[Note]] = {}
        for group in onset_groups(mine):
            for rank, note in enumerate(sorted(group, key=lambda n: -n.pitch * sign)):
                fingers.setdefault(min(rank, 3), []).append(note)
        for finger, notes in fingers.items():
            arms.flex[:, hand, finger] += pluck(notes)(times)[:, None] * _PLUCK_FLEX
            cues += [Cue(n.start, (LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET)[hand] + FINGERTIPS[finger], n.pitch)
                     for n in notes]
    return Motion(joints=rig.assemble(arms), cues=sorted(cues, key=lambda c: c.onset))


def animate_bowed(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
                  view: CameraView) -> Motion:
    """A violinist/violist (chin-held, often standing), a cellist (seated) or a bassist (standing)."""
    neck, bow_length = _BOWED[instrument.name]
    standing = instrument.name == "double-bass" or (instrument.name in ("violin", "viola") and rng.random() < 0.6)
    physique, posture, rig = _setup(rng, times, view, seated=not standing)
    scale = physique.scale
    arms = new_arm_plan(len(times), RELAXED)
    chin = instrument.name in ("violin", "viola")
    arms.elbow_hint[:] = ((0.1, -1.0, 0.3), (-0.8, -0.5, -0.2)) if chin else ((0.7, -0.6, -0.3), (-0.8, -0.6, -0.2))
    stops = _stops(track, neck)
    cues = _left_hand(arms, rig, neck, stops, times, True, rng)
    # Bow: position 0 = frog at the string (hand near it), 1 = tip at the string (hand a bow's length away).
    strings = {id(s.note): s.string for s in stops}
    groups = onset_groups(track)
    bow, tilt = _bow_strokes(groups, rng), Keyframes(0.0)
    for group in groups:
        string = np.mean([strings.get(id(n), 1) for n in group])
        tilt.add(group[0].start - 0.08, tilt.last_value, LINEAR)
        tilt.add(group[0].start, 0.5 - 1.0 * string / (len(neck.open_strings) - 1), SMOOTH)
    contact = np.asarray(neck.bridge) * scale + 0.05 * neck.length * scale * _unit(neck.to_nut)
    direction = -neck.across[None] + tilt(times)[:, None] * neck.face[None]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    position = bow(times)
    wrist = contact + ((0.08 + position * bow_length) * scale)[:, None] * direction + 0.03 * scale * neck.face
    arms.wrist[:, RIGHT] = rig.to_world(wrist)
    arms.forward[:, RIGHT] = rig.turn(_unit_rows(-neck.face[None] - 0.4 * direction))
    arms.palm[:, RIGHT] = rig.turn(direction - 0.4 * neck.face[None])
    arms.flex[:, RIGHT] = 0.5 * RELAXED + 0.5 * GRIP
    cues += [Cue(g[0].start, BODY_INDEX["right_wrist"], max(n.pitch for n in g)) for g in groups]
    return Motion(joints=rig.assemble(arms), cues=sorted(cues, key=lambda c: c.onset))


def _unit_rows(v: np.ndarray) -> np.ndarray:
    rows: np.ndarray = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return rows


def _bow_strokes(groups: list[list[Note]], rng: np.random.Generator) -> Keyframes:
    """Bow position over time: each note (or double stop) is a new stroke in the opposite direction, starting
    exactly at its onset; louder notes draw the bow faster. The bow rests between detached notes and turns
    round at the onset when notes are connected."""
    position = float(rng.choice([0.1, 0.9]))
    direction = 1.0 if position < 0.5 else -1.0
    bow = Keyframes(position)
    for i, group in enumerate(groups):
        onset = group[0].start
        end = max(n.end for n in group)
        following = groups[i + 1][0].start if i + 1 < len(groups) else np.inf
        if following - end < 0.15:
            end = following
        span = max(min(end, onset + 4.0) - onset, 0.02)
        speed = velocity_scale(max(n.velocity for n in group), 0.25, 1.2)  # bow lengths per second
        position = reversing_stroke(bow, onset, span, position, direction, speed, 0.0, 1.0,
                                    min_distance=0.03, max_accel=0.06)
        direction = -direction
    return bow
