"""Timing primitives: keyframed signals with per-segment easing, and smooth random drift.

Every musical cue is a keyframe placed exactly at a note's onset and evaluated analytically at the sample
times, so the cue lands where the note is, to the sample, however coarse the frame rate; nothing is integrated
or filtered in a way that could smear or delay it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike

# Easing of a segment, applied to the fraction s in [0, 1] of the way from one keyframe to the next.
HOLD = 0  # stay at the previous value, jump at the end (used to pin a value until a time)
LINEAR = 1
SMOOTH = 2  # smoothstep: starts and ends at rest, for glides and preparations
EASE_IN = 3  # accelerates: fastest when arriving, for strikes that land on the onset
EASE_OUT = 4  # decelerates: fastest when leaving, for rebounds and follow-throughs


def ease(s: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Eased fraction for each sample, `kind` giving each sample's easing code."""
    return np.select(
        [kind == HOLD, kind == LINEAR, kind == SMOOTH, kind == EASE_IN],
        [np.zeros_like(s), s, s * s * (3.0 - 2.0 * s), s * s],
        default=1.0 - (1.0 - s) ** 2,
    )


class Keyframes:
    """A signal (scalar or vector) that passes through values at times, easing between them.

    Keyframes are appended in time order; a keyframe earlier than the last one is moved to the last one's
    time, so conflicting preparations compress instead of reversing time. Before the first keyframe the signal
    holds its initial value, after the last one its last value.
    """

    def __init__(self, initial: float | np.ndarray) -> None:
        self._times: list[float] = [-np.inf]
        self._values: list[np.ndarray] = [np.asarray(initial, dtype=np.float64)]
        self._kinds: list[int] = [HOLD]

    @property
    def last_time(self) -> float:
        return self._times[-1]

    @property
    def last_value(self) -> np.ndarray:
        return self._values[-1]

    def add(self, time: float, value: ArrayLike, kind: int = SMOOTH) -> None:
        """Arrive at `value` at `time`, the segment from the previous keyframe eased by `kind`."""
        self._times.append(max(float(time), self._times[-1]))
        self._values.append(np.asarray(value, dtype=np.float64))
        self._kinds.append(kind)

    def hold_until(self, time: float) -> None:
        """Keep the current value until `time` (the next segment then starts from there)."""
        self.add(time, self._values[-1], LINEAR)

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """Evaluate at sample times: shape (T,) + value shape."""
        t = np.asarray(self._times)
        values = np.stack(self._values)
        kinds = np.asarray(self._kinds)
        nxt = np.searchsorted(t, times, side="right")  # first keyframe after each sample
        prev = nxt - 1
        nxt = np.minimum(nxt, len(t) - 1)
        t0, t1 = t[prev], t[nxt]
        with np.errstate(invalid="ignore", divide="ignore"):
            span = t1 - t0
            s = np.where(np.isfinite(span) & (span > 0), (times - t0) / span, np.where(np.isinf(t0), 0.0, 1.0))
        s = ease(np.clip(s, 0.0, 1.0), np.where(nxt == prev, LINEAR, kinds[nxt]))
        shape = (-1,) + (1,) * (values.ndim - 1)
        value: np.ndarray = values[prev] + (values[nxt] - values[prev]) * s.reshape(shape)
        return value


def drift(rng: np.random.Generator, times: np.ndarray, amplitude: float, low_hz: float = 0.05,
          high_hz: float = 0.5, dims: int = 1, components: int = 4) -> np.ndarray:
    """Slow random wandering (sum of sinusoids) of roughly `amplitude` RMS: sway, breathing drift, confidence.

    Returns (T, dims). Cheap and smooth, so it never adds a spurious fast motion a model could mistake for a cue.
    """
    freqs = rng.uniform(low_hz, high_hz, size=(components, dims))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(components, dims))
    weights = rng.uniform(0.5, 1.0, size=(components, dims))
    weights *= amplitude * np.sqrt(2.0) / np.sqrt((weights ** 2).sum(axis=0, keepdims=True))
    waves = np.sin(2.0 * np.pi * freqs[None] * times[:, None, None] + phases[None])
    drift: np.ndarray = (waves * weights[None]).sum(axis=1)
    return drift


@overload
def velocity_scale(velocity: float | np.floating, low: float, high: float) -> float: ...


@overload
def velocity_scale(velocity: np.ndarray, low: float, high: float) -> np.ndarray: ...


def velocity_scale(velocity: float | np.floating | np.ndarray, low: float, high: float) -> float | np.ndarray:
    """Map MIDI velocity 1..127 linearly onto low..high: louder notes move farther and faster (a NumPy float, so
    a float, for one velocity)."""
    scaled: float | np.ndarray = low + (high - low) * (np.asarray(velocity, dtype=np.float64) - 1.0) / 126.0
    return scaled


@dataclass(frozen=True)
class Cue:
    """Where a note shows: the joint (index into the 67-joint performer graph) whose motion marks its onset."""

    onset: float
    joint: int
    pitch: int


@dataclass
class Motion:
    """One performer's movement in world space, before any camera: (T, 67, 3) metres plus the note cues."""

    joints: np.ndarray
    cues: list[Cue]


def strike(notes: list, rest: float = 0.0, down: float = 1.0, lift: tuple[float, float] = (0.8, 2.6),
           descent: tuple[float, float] = (0.075, 0.035), hold: bool = True) -> Keyframes:
    """A finger (or mallet) that lifts, comes down accelerating and lands exactly at each note's onset.

    Values: `rest` between notes, `down` on contact, `rest - lift` at the top of the preparation (louder =
    higher lift and a shorter, faster descent). With `hold` it stays down until the note ends (a key, a
    string), otherwise it rebounds straight away (a mallet), fastest right after the contact.
    """
    curve = Keyframes(rest)
    for i, note in enumerate(notes):
        fall = min(velocity_scale(note.velocity, *descent), 0.5 * max(note.start - curve.last_time, 0.02))
        ready = np.inf
        if i + 1 < len(notes):
            following = notes[i + 1]
            ready = following.start - velocity_scale(following.velocity, *descent) - 0.03
        top = rest - (down - rest) * velocity_scale(note.velocity, *lift)
        curve.add(note.start - fall - 0.09, curve.last_value, LINEAR)
        curve.add(note.start - fall, top, SMOOTH)
        curve.add(note.start, down, EASE_IN)  # contact at the onset, fastest just before it
        if hold:
            release = max(min(note.end, ready - 0.02), note.start + 0.02)
            curve.add(release, down, LINEAR)
            curve.add(min(release + 0.08, max(ready, release + 0.02)), rest, SMOOTH)
        else:
            curve.add(min(note.start + fall * 2.0, max(ready, note.start + 0.02)), rest, EASE_OUT)
    return curve


def pluck(notes: list, amplitude: tuple[float, float] = (0.5, 1.0), span: float = 0.05) -> Keyframes:
    """A finger or pick sweeping through a string: from -a (prepared) through 0 AT the onset, fastest there,
    to +a (follow-through), then back to rest; a grows with velocity. Strums use it for the whole hand."""
    curve = Keyframes(0.0)
    for i, note in enumerate(notes):
        size = velocity_scale(note.velocity, *amplitude)
        room = notes[i + 1].start - note.start if i + 1 < len(notes) else np.inf
        half = min(span, 0.3 * max(note.start - curve.last_time, 0.02), 0.3 * room)
        curve.add(note.start - half - 0.08, curve.last_value, LINEAR)
        curve.add(note.start - half, -size, SMOOTH)
        curve.add(note.start, 0.0, EASE_IN)
        curve.add(note.start + half, size, EASE_OUT)
        curve.add(note.start + half + min(0.15, max(room - 2.5 * half - 0.1, 0.0)), 0.0, SMOOTH)
    return curve


def reversing_stroke(curve: Keyframes, onset: float, span: float, position: float, direction: float,
                     speed: float, low: float, high: float, min_distance: float, max_accel: float) -> float:
    """One stroke of something that travels and turns round at onsets (a bow, bellows): it accelerates from
    rest at `onset`, cruises, and settles at the stroke's end; returns where it stopped. The stroke never
    leaves [low, high], however fast the note asks it to go."""
    room = high - position if direction > 0 else position - low
    distance = max(min(speed * span, room), min(min_distance, room))
    accel = min(max_accel, span / 3.0)
    cruise = distance / (span - accel)
    curve.add(onset, position, LINEAR)
    curve.add(onset + accel, position + direction * cruise * accel / 2.0, EASE_IN)
    curve.add(onset + span - accel, position + direction * (distance - cruise * accel / 2.0), LINEAR)
    position += direction * distance
    curve.add(onset + span, position, EASE_OUT)
    return position


def glide(start: np.ndarray, targets: list[tuple[float, np.ndarray]], lead: float = 0.1,
          longest: float = 0.2) -> Keyframes:
    """A hand moving between positions: it leaves at most `longest` s before a note and is settled `lead` s
    before it, so the position is in place when the finger starts to move."""
    path = Keyframes(np.asarray(start, dtype=np.float64))
    previous = -np.inf
    for onset, target in targets:
        target = np.asarray(target, dtype=np.float64)
        if not np.allclose(target, path.last_value):
            distance = float(np.linalg.norm(target - path.last_value))
            move = float(np.clip(0.08 + 0.4 * distance, 0.08, longest))
            path.add(max(onset - lead - move, previous + 0.02), path.last_value, LINEAR)
            path.add(onset - lead, target, SMOOTH)
        previous = onset
    return path
