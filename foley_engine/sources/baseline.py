"""THE BASELINE note generator, "baseline:motion-onset": visible strikes become notes, by fixed rules.

It is the engine's generator until a learned model exists and, after that, the yardstick every model is
compared against, so it has to stay simple enough to explain in a few sentences:

1. Geometry. Keypoints are made pixel-square (x times width/height) and divided by the performer's size
   (0.3 x shoulder width when the shoulders are seen, else the median wrist-to-middle-knuckle length of the
   hands), so every threshold is in "hand lengths" and works at any resolution and camera distance. Each
   trajectory is smoothed (Savitzky-Golay, which also gives the velocity) only within runs of detected
   samples: nothing is bridged across a gap and nothing is invented, so no note comes from missing data.
2. Strikes. An effector (a fingertip; a wrist for mallets and strumming) strikes when a fast approach
   (a speed peak of at least ``min_approach_speed``) comes to a stop: within ``approach_window``, before it
   speeds up again, its speed falls below ``stop_ratio`` times the peak. The strike time is that fall; with
   a symmetric smoothing window it is the moment of a sudden stop on a key. A reversal is a stop too.
   Fingertips are followed relative to their own wrist, so a hand gliding along a keyboard strikes nothing.
   For keys and mallets the approach must move down the image (keys and bars lie below the hands in front,
   side and player's-side top views), so a finger lifting and pausing in the air plays nothing.
   Bowed instruments play bow strokes instead: a run of one sign of the bowing wrist's velocity along its
   main axis of motion, fast and long enough; notes begin at the reversals and last until the next one.
3. Loudness. MIDI velocity comes from the approach speed (bow speed for strokes), log-scaled and spread
   from the clip's 10th to 90th percentile onto ``velocity_range``: relative dynamics within a clip.
4. Pitch. Steps of the C major scale from the one nearest the middle of the instrument's range:
   keys/mallets - the striking point's position along the performer's left-to-right axis (read from which
   side the right hand is on) on an imaginary keyboard centred on the body, else on the hands (a white key
   is 0.24 hand lengths, a mallet bar 0.45); accordion - height on the treble keyboard (lower is higher);
   plucked/bowed - the fretting (left) hand's distance from where the other hand plucks or bows (closer is
   higher, 0.7 hand lengths a step; fingerpicking adds strings: thumb an octave down, fingers a third
   apart); winds/brass - one step per raised finger, like a recorder's holes. Pitches fold by octaves
   into the instrument's range.
5. Durations and voices. A struck note lasts until the same effector strikes again, at most the family's
   ``max_duration``; winds and brass play legato until the performer's next note; strikes of one hand
   within ``chord_window`` that are clearly slower than its fastest are sympathetic motion and dropped;
   over ``max_polyphony`` the weakest sounding note is dropped.

The baseline is fully deterministic: ``seed`` is accepted for interface compatibility and has no effect.
Known limit: a key press seen straight from above barely moves the fingertip in the image, so on top-down
piano footage the notes follow the visible hand and finger motion more than the actual key presses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from ..instruments import Instrument
from ..keypoints import Keypoints
from ..notes import Note, Performance
from ..skeleton import BODY_INDEX, FINGERTIPS, HAND_INDEX, LEFT, RIGHT

GENERATOR_NAME = "baseline:motion-onset"

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_WRIST, _MIDDLE_MCP = HAND_INDEX["wrist"], HAND_INDEX["middle_mcp"]
_FINGERS_NO_THUMB = FINGERTIPS[1:]


@dataclass(frozen=True)
class BaselineSettings:
    """Thresholds of the baseline. Lengths are in hand lengths (~10 cm), speeds in hand lengths per second."""

    smooth_window: float = 0.15  # s; Savitzky-Golay (order 2) window, >= 5 samples: removes landmark jitter
    min_approach_speed: float = 1.0  # a strike needs an approach at least this fast (~10 cm/s; jitter ~0.4)
    stop_ratio: float = 0.5  # ...and must then slow below this fraction of its approach speed
    approach_window: float = 0.2  # s; the stop must follow the approach peak within this time
    refractory: float = 0.1  # s; one effector cannot strike twice faster than this (~10 strikes/s)
    chord_window: float = 0.05  # s; strikes of one hand this close together are one gesture...
    chord_ratio: float = 0.8  # ...keeping those at least this fraction as fast as its fastest strike
    min_stroke: float = 0.3  # shortest bow stroke that plays a note
    min_finger_travel: float = 0.1  # winds: a finger must move this much over the clip to count as raised
    velocity_range: tuple[int, int] = (40, 115)  # MIDI velocities of the clip's 10th..90th percentile speed
    min_duration: float = 0.06  # s; shortest note
    hand_per_shoulder: float = 0.3  # hand length / shoulder width, to use the body's more stable scale
    min_scale_samples: int = 5  # frames needed to trust a shoulder or hand size measurement
    default_scale: float = 0.1  # frame heights per hand length when neither shoulders nor hands are seen


@dataclass(frozen=True)
class _Family:
    """How one instrument family turns motion into notes; see the module docstring."""

    effectors: str  # "fingertips" (both hands) | "plucking" (right hand) | "wrists" | "bow"
    pitch: str  # "across" | "down" | "neck" | "raised"
    step_width: float  # hand lengths per scale step for the positional pitch rules
    max_duration: float  # s
    legato: bool  # notes last until the performer's next note (winds, brass)
    downward: bool  # strikes must move down the image (keys and bars lie below the hands)


_FAMILIES = {
    "keys": _Family("fingertips", "across", 0.24, 1.0, legato=False, downward=True),
    "accordion": _Family("fingertips", "down", 0.24, 1.0, legato=False, downward=False),
    "mallets": _Family("wrists", "across", 0.45, 0.5, legato=False, downward=True),
    "plucked": _Family("plucking", "neck", 0.7, 1.0, legato=False, downward=False),
    "bowed": _Family("bow", "neck", 0.7, 4.0, legato=False, downward=False),
    "woodwind": _Family("fingertips", "raised", 1.0, 2.0, legato=True, downward=False),
    "brass": _Family("fingertips", "raised", 1.0, 2.0, legato=True, downward=False),
}
#: Scale steps each plucking effector adds, like fingerpicking: thumb on a bass string, fingers on higher ones.
_STRING_STEPS = {_WRIST: 0, FINGERTIPS[0]: -7, FINGERTIPS[1]: 0, FINGERTIPS[2]: 2, FINGERTIPS[3]: 4,
                 FINGERTIPS[4]: 6}


@dataclass
class _Strike:
    time: float  # s from the clip start
    speed: float  # approach (or bow) speed, hand lengths/s
    effector: tuple[int, int]  # (hand, joint): the next strike of the same effector ends the note
    step: float  # scale steps from the centre pitch
    end: float | None = None  # fixed end (bow strokes); None = decided by the next strike


def generate_baseline(keypoints: Keypoints, instrument: Instrument, duration: float | None = None,
                      seed: int | None = None, settings: BaselineSettings = BaselineSettings()) -> Performance:
    """Notes from motion onsets, one track per performer, times in seconds from the clip start.

    ``duration`` (default: the keypoints' length) bounds every note; ``seed`` has no effect because the
    baseline is deterministic, which is what makes it a fixed reference for the learned models.
    """
    del seed  # deterministic by design, see above
    if duration is None:
        duration = keypoints.num_frames / keypoints.rate
    family = _FAMILIES[instrument.family]
    width, height = keypoints.frame_size
    aspect = np.array([width / height, 1.0], dtype=np.float64)
    strikes = [_performer_strikes(keypoints.body[p], keypoints.hands[p], aspect, keypoints.rate, family, settings)
               for p in range(keypoints.num_performers)]
    span = _velocity_span([strike.speed for track in strikes for strike in track])
    tracks = [_notes(track, family, instrument, span, duration, settings) for track in strikes]
    return Performance(instrument=instrument, duration=duration, tracks=tracks, generator=GENERATOR_NAME)


def _performer_strikes(body: np.ndarray, hands: np.ndarray, aspect: np.ndarray, rate: float, family: _Family,
                       settings: BaselineSettings) -> list[_Strike]:
    """Every strike of one performer with its speed and pitch step, before voices are limited."""
    body_xy = body[..., :2].astype(np.float64) * aspect
    hands_xy = hands[..., :2].astype(np.float64) * aspect
    body_ok, hands_ok = body[..., 2] > 0, hands[..., 2] > 0
    scale = _scale(body_xy, body_ok, hands_xy, hands_ok, settings)
    body_xy, hands_xy = body_xy / scale, hands_xy / scale
    pitch = _Pitch.measure(family, body_xy, body_ok, hands_xy, hands_ok, settings)
    if family.effectors == "bow":
        bow_xy, bow_ok = _wrist(body_xy, body_ok, hands_xy, hands_ok, RIGHT)
        steps = pitch.steps(bow_xy, _WRIST)
        return [_Strike(start, speed, (RIGHT, _WRIST), steps[_frame(start, rate, steps)], end)
                for start, end, speed in _bow_strokes(bow_xy, bow_ok, rate, settings)]

    if family.effectors == "wrists":
        effectors = [(hand, _WRIST) for hand in (LEFT, RIGHT)]
    elif family.effectors == "plucking":
        effectors = [(RIGHT, joint) for joint in (_WRIST, *FINGERTIPS)]
    else:
        effectors = [(hand, joint) for hand in (LEFT, RIGHT) for joint in FINGERTIPS]
    found: list[_Strike] = []
    for hand, joint in effectors:
        position, ok = hands_xy[:, hand, joint], hands_ok[:, hand, joint] & hands_ok[:, hand, _WRIST]
        # Fingers are judged by their motion relative to the wrist, wrists by their own motion.
        motion = position - hands_xy[:, hand, _WRIST] if joint != _WRIST else position
        steps = pitch.steps(position, joint)
        for time, speed in _strikes(motion, ok, rate, family.downward, settings):
            found.append(_Strike(time, speed, (hand, joint), steps[_frame(time, rate, steps)]))
    return _drop_sympathetic(found, family.legato, settings)


def _frame(time: float, rate: float, samples: np.ndarray) -> int:
    return min(int(round(time * rate)), len(samples) - 1)


def _wrist(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
           hand: int) -> tuple[np.ndarray, np.ndarray]:
    """One wrist's track from whichever source saw it more often: the hand landmarks or the body joint.

    Whole-clip choice, never mixed per frame, because the two sources disagree by a little and switching
    between them would look like motion.
    """
    joint = BODY_INDEX["left_wrist" if hand == LEFT else "right_wrist"]
    if body_ok[:, joint].sum() > hands_ok[:, hand, _WRIST].sum():
        return body_xy[:, joint], body_ok[:, joint]
    return hands_xy[:, hand, _WRIST], hands_ok[:, hand, _WRIST]


@dataclass
class _Pitch:
    """A performer's pitch reference, measured once over the clip, per the family's pitch rule."""

    family: _Family
    centre: np.ndarray  # (2,) reference point: "across" uses its x, "down" its y
    orientation: float  # +1 when image x grows towards the performer's right (a view from behind/above)
    shared: np.ndarray  # (T,) steps set by the other hand ("neck") or the fingers ("raised")

    @classmethod
    def measure(cls, family: _Family, body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray,
                hands_ok: np.ndarray, settings: BaselineSettings) -> _Pitch:
        num_frames = hands_xy.shape[0]
        tips_ok = hands_ok[:, :, list(FINGERTIPS)].all(axis=2)
        tips = hands_xy[:, :, list(FINGERTIPS)].mean(axis=2)
        seen = [hand for hand in (LEFT, RIGHT) if tips_ok[:, hand].any()]
        centre = (np.mean([np.median(tips[tips_ok[:, hand], hand], axis=0) for hand in seen], axis=0)
                  if seen else np.zeros(2))
        neck = BODY_INDEX["neck"]
        if body_ok[:, neck].sum() >= settings.min_scale_samples:  # the body is the better centre when seen
            centre[0] = np.median(body_xy[body_ok[:, neck], neck, 0])
        shared = np.zeros(num_frames)
        if family.pitch == "neck":
            shared = _neck_steps(body_xy, body_ok, hands_xy, hands_ok, family.step_width)
        elif family.pitch == "raised":
            shared = _raised_steps(hands_xy, hands_ok, settings)
        return cls(family, centre, _orientation(body_xy, body_ok, hands_xy, hands_ok), shared)

    def steps(self, position: np.ndarray, joint: int) -> np.ndarray:
        """(T,) scale steps from the centre pitch for an effector at ``position`` (T, 2)."""
        if self.family.pitch == "across":
            return (position[:, 0] - self.centre[0]) * self.orientation / self.family.step_width
        if self.family.pitch == "down":  # accordion treble keyboard: pitch rises towards the floor
            return (position[:, 1] - self.centre[1]) / self.family.step_width
        if self.family.effectors == "plucking":
            return self.shared + _STRING_STEPS[joint]
        return self.shared


def _orientation(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray) -> float:
    """+1 if the performer's right side is at larger image x, from the wrists, else the shoulders; +1 if unknown."""
    pairs = [(hands_xy[:, RIGHT, _WRIST], hands_ok[:, RIGHT, _WRIST], hands_xy[:, LEFT, _WRIST],
              hands_ok[:, LEFT, _WRIST])]
    for right, left in (("right_wrist", "left_wrist"), ("right_shoulder", "left_shoulder")):
        r, l = BODY_INDEX[right], BODY_INDEX[left]
        pairs.append((body_xy[:, r], body_ok[:, r], body_xy[:, l], body_ok[:, l]))
    for right_xy, right_ok, left_xy, left_ok in pairs:
        if right_ok.any() and left_ok.any():
            difference = np.median(right_xy[right_ok, 0]) - np.median(left_xy[left_ok, 0])
            if difference != 0:
                return float(np.sign(difference))
    return 1.0


def _hold(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Fill frames where a pitch source is unseen from the nearest seen frames (zero if never seen).

    This only chooses a pitch for a strike that was seen; it invents no motion and no note.
    """
    if not ok.any():
        return np.zeros(len(values))
    frames = np.arange(len(values))
    return np.interp(frames, frames[ok], values[ok])


def _neck_steps(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
                step_width: float) -> np.ndarray:
    """Fretting (left) hand closer than usual to where the right hand plucks or bows = higher, per step_width."""
    fret_xy, fret_ok = _wrist(body_xy, body_ok, hands_xy, hands_ok, LEFT)
    play_xy, play_ok = _wrist(body_xy, body_ok, hands_xy, hands_ok, RIGHT)
    if not fret_ok.any() or not play_ok.any():
        return np.zeros(len(fret_ok))
    distance = np.linalg.norm(fret_xy - np.median(play_xy[play_ok], axis=0), axis=1)
    return _hold((np.median(distance[fret_ok]) - distance) / step_width, fret_ok)


def _raised_steps(hands_xy: np.ndarray, hands_ok: np.ndarray, settings: BaselineSettings) -> np.ndarray:
    """One scale step per raised finger (thumbs excluded), centred: like the holes of a recorder.

    A finger counts as raised when its tip is further from its wrist than halfway between its own closest
    and furthest reach over the clip (10th/90th percentiles), which needs no assumption about the camera
    angle; a finger that never travels ``min_finger_travel`` never counts, so jitter cannot change notes.
    """
    raised = np.zeros(hands_xy.shape[0])
    seen_fingers = np.zeros(hands_xy.shape[0])
    for hand in (LEFT, RIGHT):
        for tip in _FINGERS_NO_THUMB:
            ok = hands_ok[:, hand, tip] & hands_ok[:, hand, _WRIST]
            if not ok.any():
                continue
            reach = np.linalg.norm(hands_xy[:, hand, tip] - hands_xy[:, hand, _WRIST], axis=1)
            closest, furthest = np.percentile(reach[ok], [10, 90])
            if furthest - closest >= settings.min_finger_travel:
                raised += ok & (reach > (closest + furthest) / 2)
            seen_fingers += ok
    return _hold(raised - seen_fingers / 2, seen_fingers > 0)


def _scale(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
           settings: BaselineSettings) -> float:
    """One hand length in pixel-square frame heights: from the shoulders if seen, else from the hands."""
    right, left = BODY_INDEX["right_shoulder"], BODY_INDEX["left_shoulder"]
    both = body_ok[:, right] & body_ok[:, left]
    if both.sum() >= settings.min_scale_samples:
        width = np.linalg.norm(body_xy[both, right] - body_xy[both, left], axis=-1)
        if np.median(width) > 0:
            return float(np.median(width)) * settings.hand_per_shoulder
    seen = hands_ok[:, :, _WRIST] & hands_ok[:, :, _MIDDLE_MCP]
    if seen.sum() >= settings.min_scale_samples:
        palm = np.linalg.norm(hands_xy[:, :, _MIDDLE_MCP] - hands_xy[:, :, _WRIST], axis=-1)[seen]
        if np.median(palm) > 0:
            return float(np.median(palm))
    return settings.default_scale


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of consecutive True samples."""
    edges = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _velocity(position: np.ndarray, ok: np.ndarray, rate: float, settings: BaselineSettings) -> np.ndarray:
    """Smoothed velocity (T, 2), NaN wherever the sample is missing or its run is too short to smooth."""
    window = max(5, int(round(settings.smooth_window * rate)) // 2 * 2 + 1)
    velocity = np.full(position.shape, np.nan)
    for start, end in _runs(ok):
        if end - start >= window:
            velocity[start:end] = savgol_filter(position[start:end], window, 2, deriv=1, axis=0) * rate
    return velocity


def _strikes(motion: np.ndarray, ok: np.ndarray, rate: float, downward: bool,
             settings: BaselineSettings) -> list[tuple[float, float]]:
    """(time, approach speed) of each fast approach that comes to a stop before moving on again.

    With ``downward``, only approaches moving down the image count (keys and bars lie below the hands in
    front, side and player's-side top views), so a finger that lifts and pauses in the air plays nothing.
    """
    velocity = _velocity(motion, ok, rate, settings)
    speed = np.linalg.norm(velocity, axis=1)
    reach = max(1, int(round(settings.approach_window * rate)))
    refractory = max(1, int(round(settings.refractory * rate)))
    found: list[tuple[float, float]] = []
    for start, end in _runs(np.isfinite(speed)):
        run = speed[start:end]
        peaks, _ = find_peaks(run, height=settings.min_approach_speed, distance=refractory)
        limits = np.append(peaks[1:], len(run))  # the stop must come before the next approach
        for peak, limit in zip(peaks.tolist(), limits.tolist()):
            if downward and velocity[start + peak, 1] <= 0:
                continue
            level = settings.stop_ratio * run[peak]
            below = np.flatnonzero(run[peak + 1:min(peak + 1 + reach, limit)] <= level)
            if below.size == 0:
                continue  # the effector passed through without stopping: no contact
            after = peak + 1 + int(below[0])
            time = (start + after - 1 + _fraction(run[after - 1], run[after], level)) / rate
            if not found or time - found[-1][0] >= settings.refractory:
                found.append((time, float(run[peak])))
    return found


def _bow_strokes(position: np.ndarray, ok: np.ndarray, rate: float,
                 settings: BaselineSettings) -> list[tuple[float, float, float]]:
    """(start, end, peak speed) of each bow stroke: a run of one velocity sign along the main bowing axis.

    A stroke right after another starts at the reversal (zero crossing of the velocity); one that starts
    from rest starts when the bow gets moving, and one that ends at rest ends when the bow stops.
    """
    velocity = _velocity(position, ok, rate, settings)
    usable = np.isfinite(velocity[:, 0])
    if usable.sum() < 2:
        return []
    _, _, axes = np.linalg.svd(velocity[usable], full_matrices=False)  # first row: direction of most motion
    along = velocity @ axes[0]
    rest = settings.stop_ratio * settings.min_approach_speed
    strokes: list[tuple[float, float, float]] = []
    for run_start, run_end in _runs(usable):
        u = along[run_start:run_end]
        speed = np.abs(u)
        pieces = sorted(_runs(u > 0) + _runs(u < 0))  # runs of one direction; exact zeros separate them
        long_enough = [bool(speed[a:b].max() >= settings.min_approach_speed
                            and speed[a:b].sum() / rate >= settings.min_stroke) for a, b in pieces]
        for index, (a, b) in enumerate(pieces):
            if not long_enough[index]:
                continue
            after_stroke = index > 0 and long_enough[index - 1] and a - pieces[index - 1][1] <= 1
            before_stroke = index + 1 < len(pieces) and long_enough[index + 1] and pieces[index + 1][0] - b <= 1
            if after_stroke:  # a reversal: the zero crossing of the velocity
                begin = a - 1 + _fraction(u[a - 1], u[a], 0.0)
            else:  # from rest: when the bow gets moving
                first = a + int(np.argmax(speed[a:b] > rest))
                begin = first - 1 + _fraction(speed[first - 1], speed[first], rest) if first > 0 else 0.0
            if before_stroke:
                finish = b - 1 + _fraction(u[b - 1], u[b], 0.0)
            else:  # to rest: when the bow stops
                last = b - 1 - int(np.argmax(speed[a:b][::-1] > rest))
                finish = last + _fraction(speed[last], speed[last + 1], rest) if last + 1 < len(u) else last
            strokes.append(((run_start + begin) / rate, (run_start + finish) / rate, float(speed[a:b].max())))
    return strokes


def _fraction(x0: float, x1: float, level: float) -> float:
    """Where between two samples (0..1) a linearly interpolated signal passes ``level``."""
    return float(np.clip((x0 - level) / (x0 - x1), 0.0, 1.0)) if x0 != x1 else 0.0


def _drop_sympathetic(strikes: list[_Strike], legato: bool, settings: BaselineSettings) -> list[_Strike]:
    """Keep strikes at least ``chord_ratio`` as fast as the fastest of their gesture within ``chord_window``.

    Neighbouring fingers move along with the one that plays (shared tendons, tracker coupling); a chord's
    fingers move about equally fast, so they survive. For winds and brass a fingering change moves several
    fingers but plays one note, so there the whole performer is one gesture and only the fastest counts.
    """
    if not strikes:
        return []
    ratio = 1.0 if legato else settings.chord_ratio
    times = np.array([strike.time for strike in strikes])
    speeds = np.array([strike.speed for strike in strikes])
    gestures = np.array([0 if legato else strike.effector[0] for strike in strikes])
    keep = np.zeros(len(strikes), dtype=bool)
    for gesture in np.unique(gestures):
        members = np.flatnonzero(gestures == gesture)
        members = members[np.argsort(times[members], kind="stable")]
        t, fastest = times[members], speeds[members]
        low = np.searchsorted(t, t - settings.chord_window, side="left")
        high = np.searchsorted(t, t + settings.chord_window, side="right")
        rivals = np.array([fastest[a:b].max() for a, b in zip(low, high)])
        keep[members] = fastest >= ratio * rivals
    return [strike for strike, kept in zip(strikes, keep) if kept]


def _velocity_span(speeds: list[float]) -> tuple[float, float]:
    """The clip's 10th and 90th percentile of log speed: the span mapped onto ``velocity_range``."""
    if not speeds:
        return 0.0, 0.0
    low, high = np.percentile(np.log(speeds), [10, 90])
    return float(low), float(high)


def _midi_velocity(speed: float, span: tuple[float, float], settings: BaselineSettings) -> int:
    """Log speed placed within the clip's span; a clip with one speed plays mid-range."""
    softest, loudest = settings.velocity_range
    low, high = span
    position = (np.log(speed) - low) / (high - low) if high > low else 0.5
    return int(round(softest + (loudest - softest) * float(np.clip(position, 0.0, 1.0))))


def _scale_pitch(instrument: Instrument, step: float) -> int:
    """The C major scale degree ``step`` away from the one nearest the middle of the range, folded into it."""
    degrees = np.arange(75)  # degree 74 is MIDI 127
    pitches = 12 * (degrees // 7) + np.take(_MAJOR_SCALE, degrees % 7)
    centre = int(np.argmin(np.abs(pitches - (instrument.lowest + instrument.highest) / 2)))
    degree = int(np.clip(centre + round(step), 0, len(degrees) - 1))
    return instrument.clamp_pitch(int(pitches[degree]))


def _notes(strikes: list[_Strike], family: _Family, instrument: Instrument, span: tuple[float, float],
           duration: float, settings: BaselineSettings) -> list[Note]:
    """Strikes to notes: durations by the family's rule, inside [0, duration], voices limited."""
    strikes = sorted(strikes, key=lambda strike: strike.time)
    next_of_effector: dict[tuple[int, int], float] = {}
    next_any = np.inf
    notes = []
    for strike in reversed(strikes):  # backwards, so the next strike of each kind is known
        end = strike.end
        if end is None:
            end = next_any if family.legato else next_of_effector.get(strike.effector, np.inf)
        next_of_effector[strike.effector] = next_any = strike.time
        end = min(max(end, strike.time + settings.min_duration), strike.time + family.max_duration, duration)
        if end > strike.time >= 0:
            notes.append(Note(strike.time, float(end), _scale_pitch(instrument, strike.step),
                              _midi_velocity(strike.speed, span, settings)))
    return _limit_voices(notes, instrument.max_polyphony, settings.min_duration)


def _limit_voices(notes: list[Note], max_polyphony: int, min_duration: float) -> list[Note]:
    """At most ``max_polyphony`` sounding notes, dropping the weakest; a repeated pitch cuts the previous one.

    Same-pitch overlaps are cut because MIDI cannot tell whose note-off ends which note; two strikes of one
    pitch closer than ``min_duration`` are one note, the louder.
    """
    kept: list[Note | None] = []
    sounding: list[int] = []  # indices into kept of the notes that may still sound
    for note in sorted(notes):
        duplicate = False
        for i in sounding:
            previous = kept[i]
            if previous is None or previous.pitch != note.pitch or previous.end <= note.start:
                continue
            if note.start - previous.start >= min_duration:
                kept[i] = replace(previous, end=note.start)
            elif previous.velocity >= note.velocity:
                duplicate = True  # the same note, and the earlier strike was at least as loud
            else:
                kept[i] = None
        if duplicate:
            continue
        sounding = [i for i in sounding if kept[i] is not None and kept[i].end > note.start]
        if len(sounding) >= max_polyphony:
            weakest = min(sounding, key=lambda i: kept[i].velocity)
            if kept[weakest].velocity >= note.velocity:
                continue
            kept[weakest] = None
            sounding.remove(weakest)
        kept.append(note)
        sounding.append(len(kept) - 1)
    return sorted(note for note in kept if note is not None)
