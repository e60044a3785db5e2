"""Notes read off the keys: where a key's press evidence rises, which key it is, how hard it was struck.

The evidence (presses.py) of a pressed key spills onto its neighbours, which share its edges, so in every
frame only the keys whose evidence is the largest within one white-key width of them count. A note starts
where a key's evidence rises past ON_LEVEL (in units of the key's own noise) and ends where it falls below
OFF_LEVEL. Which of two neighbours was pressed is the weakest part of the pixels' answer, so where a
neighbour's evidence is close, the key a fingertip is on (or nearest to, in both directions of the keyboard
plane: a finger on a black key is not on the white key beside it) is taken; a press far from every fingertip is
not a note (a shadow, a reflection), unless no hand was seen at all. A press too faint for ON_LEVEL still counts
where it rises sharply under a fingertip on that very key: some keys' edges barely move (seen nearly edge-on, or
compressed away), and the finger on the key is the independent witness. A key sounds again only after it was
released: two neighbours that trade the lead of one held press, read as the same key by the fingertip, are one
note. Velocity comes from how fast the pressing fingertip moved just before the press.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..instruments import Instrument
from ..keypoints import Keypoints
from ..notes import Note
from ..skeleton import FINGERTIPS
from .geometry import KeyboardGeometry
from .presses import KeyEvidence

#: Evidence (key noise units) where a press starts, and below which it has ended.
ON_LEVEL = 4.0
OFF_LEVEL = 2.0
#: A fainter press (up past FAINT_LEVEL, never reaching ON_LEVEL) is a note only with a fingertip on the key and
#: if it is a key going down rather than a drift: up by FAINT_RISE from the lowest of the FAINT_FRAMES frames
#: before its start to FAINT_FRAMES - 1 frames after it.
FAINT_LEVEL = 3.0
FAINT_RISE = 2.0
FAINT_FRAMES = 3
#: A key whose evidence falls below this share of its press's peak was released, though not back to OFF_LEVEL: on
#: a copy of the shared clip at half its contrast, the repeated E5s of its trills never fell below OFF_LEVEL
#: between strikes (they fall to a quarter of the peak).
RELEASE_SHARE = 0.5
#: Keys whose centres lie within this many white-key widths of each other share an edge.
NEIGHBOUR_REACH = 1.01
#: A neighbour's press counts as an alternative reading when its evidence is at least this share of the key's:
#: each key's evidence is in units of its own noise, so a pressed key whose edges are often crossed by a resting
#: hand can show half the level of the neighbour that shares one of its edges (E beside D# on rendered keyboards,
#: tests/test_keyboard_presses.py); the fingertip, over the played key for 92-100 % of the shared clip's notes,
#: then decides.
ALTERNATIVE_SHARE = 0.35
#: A press needs a fingertip within this many white-key widths of the key, and on the keys (plane y) ...
FINGER_REACH = 1.5
KEYS_DEPTH = (-0.3, 1.5)
#: ... within this many seconds of its start.
FINGER_SECONDS = 0.07
#: A fingertip on a black key is this much (white-key widths) farther from the white key under it: the finger
#: that rests there presses the black key.
BLACK_KEY_COVER = 0.3
#: The fingertip speed window before a press, and the velocities the slowest and fastest presses get.
VELOCITY_SECONDS = 0.1
VELOCITY_RANGE = (40, 110)
DEFAULT_VELOCITY = 80
#: Shortest note kept (seconds): a one-frame flicker is noise.
MIN_SECONDS = 0.05
#: A note's onset is where its key's evidence rose through RISE_SHARE of the press's peak, the peak sought within
#: PEAK_FRAMES after the press passed ON_LEVEL and the rise at most RISE_FRAMES before that (see _onset_time):
#: what the key showed earlier belongs to what came before, a neighbour's press moving the edge they share or the
#: key's own last strike (the shared clip's E5-D#5 trills were read 0.1 s early with 3 frames).
RISE_SHARE = 0.5
PEAK_FRAMES = 4
RISE_FRAMES = 1


@dataclass(frozen=True)
class _Press:
    key: int
    start: int  # frame index
    end: int  # frame index (exclusive)
    faint: bool = False  # never past ON_LEVEL: a note only under a fingertip on the key


def fingertips(keypoints: Keypoints, geometry: KeyboardGeometry) -> np.ndarray:
    """(T, F, 2) every performer's fingertips in keyboard-plane coordinates, NaN where not seen; F runs over
    performers, then hands (LEFT, RIGHT), then FINGERTIPS."""
    width, height = geometry.frame_size
    tips = keypoints.hands[:, :, :, list(FINGERTIPS)]  # (P, T, 2, 5, 3)
    frames = keypoints.num_frames
    points = tips.transpose(1, 0, 2, 3, 4).reshape(frames, -1, 3)
    plane = geometry.to_plane((points[..., :2] * (width, height)).reshape(-1, 2)).reshape(frames, -1, 2)
    plane[points[..., 2] <= 0] = np.nan
    return plane


def _suppress_neighbours(evidence: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Evidence where a key is the largest among its neighbours in that frame, else at most 0."""
    kept = evidence.copy()
    for key in range(evidence.shape[1]):
        others = neighbours[key]
        if others.any():
            beaten = (evidence[:, others] > evidence[:, [key]]).any(axis=1)
            kept[beaten, key] = np.minimum(kept[beaten, key], 0.0)
    return kept


def _presses(evidence: np.ndarray, times: np.ndarray) -> list[_Press]:
    """Every key's presses (_key_presses), those lasting MIN_SECONDS."""
    presses = [press for key in range(evidence.shape[1]) for press in _key_presses(evidence[:, key], key)]
    return [p for p in presses if _seconds(times, p) >= MIN_SECONDS]


def _key_presses(level: np.ndarray, key: int) -> list[_Press]:
    """Hysteresis on one key's evidence, in one pass for both kinds of press: a stretch up past FAINT_LEVEL and
    down below OFF_LEVEL is a press from where it passes ON_LEVEL, or, never passing it, a faint press if it rises
    by FAINT_RISE around its start (else nothing). A stretch also ends where the evidence falls below
    RELEASE_SHARE of its peak, and a new one starts where it then rises ON_LEVEL above the lowest it fell to: a
    key struck again and again (a trill) whose evidence never falls back to OFF_LEVEL in between."""
    presses: list[_Press | None] = []
    start: int | None = None
    peak, dip = 0.0, None  # the stretch's highest value; since a release within a stretch, its lowest
    for frame, value in enumerate(level.tolist()):
        if value < OFF_LEVEL:
            if start is not None:
                presses.append(_stretch(level, key, start, frame))
            start, dip = None, None
        elif start is not None:
            peak = max(peak, value)
            if value < RELEASE_SHARE * peak:
                presses.append(_stretch(level, key, start, frame))
                start, dip = None, value
        elif dip is not None:
            dip = min(dip, value)
            if value >= dip + ON_LEVEL:
                start, peak, dip = frame, value, None
        elif value > FAINT_LEVEL:
            start, peak = frame, value
    if start is not None:
        presses.append(_stretch(level, key, start, len(level)))
    return [press for press in presses if press is not None]


def _stretch(level: np.ndarray, key: int, start: int, end: int) -> _Press | None:
    """The press of one stretch of `key`'s evidence above FAINT_LEVEL, frames [start, end) (see _presses)."""
    above = np.flatnonzero(level[start:end] > ON_LEVEL)
    if len(above):
        return _Press(key, start + int(above[0]), end)
    before = level[max(0, start - FAINT_FRAMES):start + 1].min()
    after = level[min(start + FAINT_FRAMES - 1, len(level) - 1)]
    return _Press(key, start, end, faint=True) if after - before >= FAINT_RISE else None


def _release_time(times: np.ndarray, press: _Press) -> float:
    """The time of the first frame after the press (one frame past the last when it lasts to the end)."""
    return float(times[press.end] if press.end < len(times) else times[-1] + np.median(np.diff(times)))


def _seconds(times: np.ndarray, press: _Press) -> float:
    return _release_time(times, press) - float(times[press.start])


def _onset_time(level: np.ndarray, times: np.ndarray, start: int) -> float:
    """When a press that passed ON_LEVEL at frame `start` began, between frames: where its key's (unsmoothed)
    evidence rose through RISE_SHARE of the press's peak, interpolated between the frames either side.

    A key takes tens of milliseconds to go down and a shutter is open for part of the frame, so the frame in which
    a key went down sees it part way: how far tells when. Timing at a share of each press's own peak rather than at
    a fixed level (ON_LEVEL) keeps a hard press from being read earlier than a soft one. On the shared clip the
    onsets' scatter around the clock's drift fell from 17 to 10 ms (median absolute deviation)."""
    last = min(len(level), start + PEAK_FRAMES + 1)
    peak = start + int(np.argmax(level[start:last]))
    threshold = RISE_SHARE * float(level[peak])
    rise = peak
    while rise > max(1, start - RISE_FRAMES) and level[rise - 1] >= threshold:
        rise -= 1
    below, above = float(level[rise - 1]) if rise else threshold, float(level[rise])
    if rise == 0 or below >= threshold or above <= below:
        return float(times[rise])
    share = (threshold - below) / (above - below)
    return float(times[rise - 1] + share * (times[rise] - times[rise - 1]))


def read_notes(evidence: KeyEvidence, geometry: KeyboardGeometry, keypoints: Keypoints, instrument: Instrument,
               start: float, duration: float) -> list[Note]:
    """The notes the keys show, in seconds from `start` (the range start), transposed by octaves into the
    instrument's range (the keys say what was played; the instrument only chooses the sound)."""
    if len(evidence.times) == 0:
        return []
    centres = geometry.to_plane(np.array([key.centre for key in geometry.keys]))[:, 0]
    neighbours = np.abs(centres[:, None] - centres[None, :]) < NEIGHBOUR_REACH
    np.fill_diagonal(neighbours, False)
    smoothed = _median3(evidence.evidence)
    both_edges = smoothed if evidence.both_edges is None else _median3(evidence.both_edges)
    tips = fingertips(keypoints, geometry) if keypoints.num_performers else np.zeros((0, 0, 2))
    hands_seen = bool(np.isfinite(tips).any())
    notes = []
    for press in _presses(_suppress_neighbours(smoothed, neighbours), evidence.times):
        near = _tips_near(tips, keypoints, evidence.times[press.start])
        if press.faint:  # only under a fingertip on the key itself
            on_key = len(near) > 0 and _distances(near, geometry, [press.key])[press.key] == 0.0
            key: int | None = press.key if on_key else None
        elif hands_seen:
            key = _nearest_alternative(press, smoothed, neighbours, geometry, near)
        else:  # no fingertip to ask: the candidate that moved both of its edges most
            candidates = _candidates(press, smoothed, neighbours)
            key = candidates[int(np.argmax(both_edges[press.start, candidates]))]
        if key is None:
            continue
        onset = _onset_time(evidence.evidence[:, key], evidence.times, press.start) - start
        end = min(_release_time(evidence.times, press) - start, duration)
        if end <= onset or onset < 0:
            continue
        velocity = _velocity(tips, keypoints, evidence.times[press.start], centres[key])
        notes.append(Note(onset, end, instrument.clamp_pitch(int(evidence.pitches[key])), velocity))
    return _scale_velocities(_released_between(sorted(notes)))


def _released_between(notes: list[Note]) -> list[Note]:
    """Notes of one pitch that touch or overlap joined into one (sorted by start): a key sounds again only after
    it was released, so a press read as that key again without a gap is the same press."""
    joined: list[Note] = []
    last: dict[int, int] = {}  # pitch -> index in joined of its latest note
    for note in notes:
        before = last.get(note.pitch)
        if before is not None and note.start <= joined[before].end + 1e-6:
            held = joined[before]
            joined[before] = Note(held.start, max(held.end, note.end), held.pitch, held.velocity)
            continue
        last[note.pitch] = len(joined)
        joined.append(note)
    return joined


def _median3(values: np.ndarray) -> np.ndarray:
    """A 3-frame running median along time: one frame's flicker is not a press, a press lasts longer."""
    if len(values) < 3:
        return values.copy()
    padded = np.concatenate([values[:1], values, values[-1:]])
    median: np.ndarray = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    return median


def _tips_near(tips: np.ndarray, keypoints: Keypoints, time: float) -> np.ndarray:
    """(n, 2) fingertips on the keys within FINGER_SECONDS of `time`, in plane coordinates."""
    if tips.size == 0:
        return np.zeros((0, 2))
    first = max(0, int(np.floor((time - FINGER_SECONDS - keypoints.start) * keypoints.rate)))
    last = min(len(tips), int(np.ceil((time + FINGER_SECONDS - keypoints.start) * keypoints.rate)) + 1)
    near = tips[first:last].reshape(-1, 2)
    on_keys = np.isfinite(near[:, 0]) & (near[:, 1] > KEYS_DEPTH[0]) & (near[:, 1] < KEYS_DEPTH[1])
    found: np.ndarray = near[on_keys]
    return found


def _distances(tips: np.ndarray, geometry: KeyboardGeometry, keys: list[int]) -> dict[int, float]:
    """How far (plane units) the nearest of `tips` is from each key's top, 0 on it. A fingertip that lies on a
    black key is not on the white key under it: it counts BLACK_KEY_COVER farther from that white key."""
    boxes = geometry.plane_boxes  # (K, 4): x_min, x_max, y_min, y_max
    black = np.array([key.black for key in geometry.keys])
    on_black = geometry.covering(tips)[:, black].any(axis=1)
    distances = {}
    for key in keys:
        x_min, x_max, y_min, y_max = boxes[key]
        across = np.maximum(0.0, np.maximum(x_min - tips[:, 0], tips[:, 0] - x_max))
        along = np.maximum(0.0, np.maximum(y_min - tips[:, 1], tips[:, 1] - y_max))
        distance = np.hypot(across, along) + (0.0 if black[key] else BLACK_KEY_COVER * on_black)
        distances[key] = float(distance.min())
    return distances


def _candidates(press: _Press, evidence: np.ndarray, neighbours: np.ndarray) -> list[int]:
    """The press's key and its neighbours pressed almost as clearly (ALTERNATIVE_SHARE) when it starts."""
    level = evidence[press.start, press.key]
    return [press.key] + [int(k) for k in np.flatnonzero(neighbours[press.key])
                          if evidence[press.start, k] >= ALTERNATIVE_SHARE * level]


def _nearest_alternative(press: _Press, evidence: np.ndarray, neighbours: np.ndarray, geometry: KeyboardGeometry,
                         tips: np.ndarray) -> int | None:
    """The key of a press: among it and its neighbours pressed almost as clearly, the one a fingertip is on or
    nearest to; None when no fingertip is within FINGER_REACH of any of them."""
    if not len(tips):
        return None
    distance = _distances(tips, geometry, _candidates(press, evidence, neighbours))
    best = min(distance, key=lambda key: distance[key])
    return best if distance[best] <= FINGER_REACH else None


def _velocity(tips: np.ndarray, keypoints: Keypoints, time: float, centre: float) -> int:
    """Raw strike speed (plane units per second) of the fingertip nearest the key just before the press,
    stored for now as the velocity field and scaled into MIDI velocities by _scale_velocities."""
    if tips.size == 0:
        return DEFAULT_VELOCITY
    last = int(round((time - keypoints.start) * keypoints.rate))
    first = last - max(1, int(round(VELOCITY_SECONDS * keypoints.rate)))
    if first < 0 or last >= len(tips):
        return DEFAULT_VELOCITY
    before, at = tips[first], tips[last]
    distance = np.abs(at[:, 0] - centre)
    distance[~np.isfinite(distance)] = np.inf
    finger = int(np.argmin(distance))
    if not np.isfinite(distance[finger]) or not np.isfinite(before[finger]).all():
        return DEFAULT_VELOCITY
    speed = float(np.linalg.norm(at[finger] - before[finger])) / VELOCITY_SECONDS
    return int(np.clip(round(speed * 100), 1, 127))


def _scale_velocities(notes: list[Note]) -> list[Note]:
    """Map the raw strike speeds of the clip onto VELOCITY_RANGE by rank: the hardest strike of the clip plays
    loudest, whatever the camera's distance (speeds are in white-key widths, but a clip's range varies)."""
    if len(notes) < 2:
        return notes
    speeds = np.array([note.velocity for note in notes], float)
    ranks = np.argsort(np.argsort(speeds)) / (len(notes) - 1)
    low, high = VELOCITY_RANGE
    return [Note(n.start, n.end, n.pitch, int(round(low + (high - low) * rank)))
            for n, rank in zip(notes, ranks, strict=True)]
