"""Where a recording's MIDI sits on the video clock: offset estimation from the performer's own motion.

A MIDI file recorded from an instrument has its own clock, usually started before the camera, so
`MIDI time = video time + offset` with an unknown offset. Three cues estimate it, each a cross-correlation
of a per-frame motion envelope with an envelope built from the notes, over a search range (default +-60 s):

* strikes    - decelerations of fingertips relative to their wrist, and of wrists relative to their elbow
               (mallets, strumming), vs note onsets, velocity-weighted: a key, string or bar stops the
               moving finger or hand when the note starts. A hand travelling along a keyboard is not a
               strike, so it is left out. Strong in front and side views; weak from straight above, where a
               key press barely moves a fingertip in the image.
* departures - each hand's acceleration away from rest vs note releases: a hand cannot move to another
               position while it still holds a key, so it leaves right after releasing. It is the cue that
               works from above, where hand shifts are large and presses are invisible.
* keyboard   - keyboards only: the mean fingertip position along the image x axis vs the mean pitch of the
               notes sounding at each frame, by correlation (either keyboard direction). It is global and
               immune to the music's rhythmic repetition, but coarse and biased late by up to a few tenths of
               a second, because hands move over their next keys before they play them.

The chosen offset is the event cue (strikes or departures) with the clearest peak; the keyboard cue is
reported beside it as an independent check (agreement within its bias is what to expect). Confidence is the
peak's correlation over the best other peak at least EXCLUSION away: near 1 means a repetitive rhythm or weak
motion left two candidate offsets, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import fftconvolve

from ..errors import InputError
from ..keypoints import Keypoints, hand_lengths, pixel_square
from ..notes import Note
from ..skeleton import BODY_INDEX, FINGERTIPS, HAND_INDEX, LEFT

SEARCH_SECONDS = 60.0
#: Gaussian smoothing of every envelope, seconds: about the 50 ms onset tolerance of the evaluation.
SMOOTH_SECONDS = 0.05
#: Seconds around a peak that belong to it when looking for the second-best peak.
EXCLUSION = 0.5
#: A candidate offset must keep at least this fraction of the best achievable number of notes in the video.
MIN_OVERLAP = 0.5
#: Every joint's signal stays in physical units (hand lengths per second squared), clipped at this
#: percentile: a still finger adds its jitter, not a peak as loud as a moving finger's.
_CLIP_PERCENTILE = 99.0
_WRIST = HAND_INDEX["wrist"]
_TIPS = list(FINGERTIPS)
_ELBOWS = (BODY_INDEX["left_elbow"], BODY_INDEX["right_elbow"])


@dataclass(frozen=True)
class OffsetEstimate:
    """One cue's answer: MIDI time = video time + offset."""

    method: str
    offset: float  # seconds
    correlation: float  # Pearson r of the two envelopes at the offset
    confidence: float  # correlation / best other peak >= EXCLUSION away; inf when there is none
    runner_up: float | None  # offset of that other peak

    def to_dict(self) -> dict:
        data = asdict(self)
        data["confidence"] = None if not np.isfinite(self.confidence) else round(self.confidence, 3)
        data["offset"], data["correlation"] = round(self.offset, 4), round(self.correlation, 4)
        data["runner_up"] = None if self.runner_up is None else round(self.runner_up, 3)
        return data


@dataclass(frozen=True)
class Alignment:
    """The offset used, which cue gave it, and every cue's estimate, for the report."""

    offset: float
    method: str
    estimates: dict[str, OffsetEstimate]

    @property
    def agreement(self) -> dict[str, float]:
        """Absolute differences in seconds between every pair of cues."""
        names = sorted(self.estimates)
        return {f"{a}-{b}": round(abs(self.estimates[a].offset - self.estimates[b].offset), 3)
                for i, a in enumerate(names) for b in names[i + 1:]}

    def to_dict(self) -> dict:
        return {"offset": round(self.offset, 4), "method": self.method,
                "convention": "MIDI time = video time + offset",
                "estimates": {name: e.to_dict() for name, e in self.estimates.items()},
                "agreement_seconds": self.agreement}


def align(keypoints: Keypoints, notes: Sequence[Note], *, keyboard: bool = False,
          search: float = SEARCH_SECONDS) -> Alignment:
    """Estimate the offset with every applicable cue and choose one (see the module docstring)."""
    if not notes:
        raise InputError("cannot align a MIDI file without notes to a video")
    if keypoints.num_performers == 0:
        raise InputError("cannot align: the pose stage found no performer in the video")
    curves = {"strikes": _correlate(strike_envelope(keypoints), [n.start for n in notes],
                                    [n.velocity / 127 for n in notes], keypoints, search),
              "departures": _correlate(departure_envelope(keypoints), [n.end for n in notes],
                                       [1.0] * len(notes), keypoints, search)}
    estimates = {name: _peak(name, *curve) for name, curve in curves.items()}
    best = max(estimates.values(), key=lambda e: (e.confidence, e.correlation))
    if keyboard:
        estimates["keyboard"] = keyboard_estimate(keypoints, notes, search)
    return Alignment(best.offset, best.method, estimates)


def strike_envelope(keypoints: Keypoints) -> np.ndarray:
    """Per frame: how much fingertips (relative to their wrist) and wrists are stopping, summed."""
    total = np.zeros(keypoints.num_frames)
    for hand in _hands(keypoints):
        xy, ok, scale = hand.xy, hand.ok, hand.scale
        for tip in _TIPS:
            total += _normalised(_deceleration(xy[:, tip] - xy[:, _WRIST], ok[:, tip] & ok[:, _WRIST],
                                               keypoints.rate) / scale)
        if hand.elbow_ok.sum() >= 5:
            total += _normalised(_deceleration(xy[:, _WRIST] - hand.elbow, ok[:, _WRIST] & hand.elbow_ok,
                                               keypoints.rate) / scale)
    return total


def departure_envelope(keypoints: Keypoints) -> np.ndarray:
    """Per frame: how much each hand (the centre of its fingertips) is speeding up, summed over hands."""
    total = np.zeros(keypoints.num_frames)
    for hand in _hands(keypoints):
        seen = hand.ok[:, _TIPS].all(axis=1)
        centre = np.where(seen[:, None], hand.xy[:, _TIPS].mean(axis=1), np.nan) / hand.scale
        speed = np.linalg.norm(np.gradient(centre, axis=0), axis=-1) * keypoints.rate
        speed = gaussian_filter1d(speed, SMOOTH_SECONDS * keypoints.rate)
        total += _normalised(np.nan_to_num(np.clip(np.gradient(speed) * keypoints.rate, 0.0, None)))
    return total


def keyboard_estimate(keypoints: Keypoints, notes: Sequence[Note], search: float = SEARCH_SECONDS) -> OffsetEstimate:
    """Offset maximising |r| between the mean fingertip x and the mean sounding pitch over frames."""
    rate = keypoints.rate
    tips = keypoints.hands[:, :, :, _TIPS]  # (P, T, 2, 5, 3)
    seen = tips[..., 2] > 0
    count = seen.sum(axis=(0, 2, 3))
    x = np.where(count > 0, (tips[..., 0] * seen).sum(axis=(0, 2, 3)) / np.maximum(count, 1), 0.0)
    x *= pixel_square(keypoints.frame_size)[0]
    visible = (count > 0).astype(float)

    base, length = _grid(keypoints, search)
    sounding, pitch_sum = np.zeros(length), np.zeros(length)
    for note in notes:
        a = max(0, int(round((note.start - base) * rate)))
        b = min(length, int(round((note.end - base) * rate)))
        sounding[a:b] += 1
        pitch_sum[a:b] += note.pitch
    has = (sounding > 0).astype(float)
    pitch = np.where(sounding > 0, pitch_sum / np.maximum(sounding, 1), 0.0)

    def cross(video: np.ndarray, midi: np.ndarray) -> np.ndarray:
        summed: np.ndarray = fftconvolve(midi, video[::-1], mode="valid")  # [lag] = sum_t video[t] * midi[t + lag]
        return summed

    n = cross(visible, has)
    sx, sp = cross(visible * x, has), cross(visible, has * pitch)
    sxx, spp, sxp = cross(visible * x * x, has), cross(visible, has * pitch * pitch), cross(visible * x, has * pitch)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxp - sx * sp / n
        r = np.abs(cov / np.sqrt((sxx - sx * sx / n) * (spp - sp * sp / n)))
    r[~(n >= MIN_OVERLAP * n.max())] = np.nan
    offsets = base - keypoints.start + np.arange(len(r)) / rate
    return _peak("keyboard", offsets, np.nan_to_num(r, nan=-np.inf))


@dataclass(frozen=True)
class _Hand:
    xy: np.ndarray  # (T, 21, 2) pixel-square
    ok: np.ndarray  # (T, 21) seen
    scale: float  # median wrist-to-middle-knuckle length
    elbow: np.ndarray  # (T, 2) the same side's body elbow, pixel-square
    elbow_ok: np.ndarray  # (T,)


def _hands(keypoints: Keypoints) -> list[_Hand]:
    """Every hand seen (wrist and middle knuckle) in at least 5 frames, with its arm's elbow."""
    aspect = pixel_square(keypoints.frame_size)
    hands = []
    for performer in range(keypoints.num_performers):
        for side in range(2):
            joints = keypoints.hands[performer, :, side]
            ok = joints[..., 2] > 0
            xy = joints[..., :2] * aspect
            lengths = hand_lengths(xy, ok)
            if len(lengths) < 5:
                continue
            scale = float(np.median(lengths))
            elbow = keypoints.body[performer, :, _ELBOWS[0] if side == LEFT else _ELBOWS[1]]
            if scale > 0:
                hands.append(_Hand(xy, ok, scale, elbow[:, :2] * aspect, elbow[:, 2] > 0))
    return hands


def _deceleration(position: np.ndarray, ok: np.ndarray, rate: float) -> np.ndarray:
    """Positive part of minus the speed's rate of change; 0 wherever a neighbouring sample is missing."""
    position = np.where(ok[:, None], position, np.nan)
    speed = np.linalg.norm(np.gradient(position, axis=0), axis=-1) * rate
    slowing: np.ndarray = np.nan_to_num(np.clip(-np.gradient(speed) * rate, 0.0, None))
    return slowing


def _normalised(signal: np.ndarray) -> np.ndarray:
    """Clip at the 99th percentile of the moving frames, so one tracker glitch cannot dominate a sum."""
    moving = signal[signal > 0]
    return np.minimum(signal, np.percentile(moving, _CLIP_PERCENTILE)) if moving.size else signal


def _grid(keypoints: Keypoints, search: float) -> tuple[float, int]:
    """MIDI-clock start time and length (samples) of a grid covering every candidate offset."""
    return keypoints.start - search, keypoints.num_frames + int(round(2 * search * keypoints.rate)) + 1


def _correlate(envelope: np.ndarray, times: Sequence[float], weights: Sequence[float], keypoints: Keypoints,
               search: float) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r between the motion envelope and the note envelope shifted by every offset (FFT, cumsums)."""
    rate, frames = keypoints.rate, keypoints.num_frames
    sigma = SMOOTH_SECONDS * rate
    motion = gaussian_filter1d(envelope.astype(float), sigma)
    if motion.std() == 0:
        raise InputError("cannot align: the performer's hands never move in the video")
    motion = (motion - motion.mean()) / motion.std()
    base, length = _grid(keypoints, search)
    events = np.zeros(length)
    index = np.round((np.asarray(times) - base) * rate).astype(int)
    inside = (index >= 0) & (index < length)
    np.add.at(events, index[inside], np.asarray(weights, float)[inside])
    midi = gaussian_filter1d(events, sigma)
    dot = fftconvolve(midi, motion[::-1], mode="valid")
    sums = np.concatenate([[0.0], np.cumsum(midi)])
    squares = np.concatenate([[0.0], np.cumsum(midi * midi)])
    mean = (sums[frames:] - sums[:-frames]) / frames
    spread = np.sqrt(np.maximum((squares[frames:] - squares[:-frames]) / frames - mean * mean, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = dot / (frames * spread)
    # Offsets that leave most notes outside the video are not candidates: few notes correlate by chance.
    sorted_times = np.sort(np.asarray(times))
    starts = base + np.arange(len(r)) / rate
    kept = np.searchsorted(sorted_times, starts + frames / rate) - np.searchsorted(sorted_times, starts)
    r[~((kept >= MIN_OVERLAP * kept.max()) & (spread > 0))] = -np.inf
    return base - keypoints.start + np.arange(len(r)) / rate, r


def _peak(method: str, offsets: np.ndarray, curve: np.ndarray) -> OffsetEstimate:
    """Best offset (refined between samples by a parabola), its r, and the ratio to the next distinct peak."""
    best = int(np.argmax(curve))
    if not np.isfinite(curve[best]):
        raise InputError("cannot align: no offset in the search range keeps enough notes inside the video")
    offset = float(offsets[best])
    if 0 < best < len(curve) - 1 and np.all(np.isfinite(curve[best - 1:best + 2])):
        left, centre, right = curve[best - 1:best + 2]
        bend = left - 2 * centre + right
        if bend < 0:
            offset += 0.5 * (left - right) / bend * (offsets[1] - offsets[0])
    others = np.where(np.abs(offsets - offsets[best]) >= EXCLUSION, curve, -np.inf)
    second = int(np.argmax(others))
    if np.isfinite(others[second]) and others[second] > 0:
        return OffsetEstimate(method, offset, float(curve[best]), float(curve[best] / others[second]),
                              float(offsets[second]))
    return OffsetEstimate(method, offset, float(curve[best]), float("inf"), None)
