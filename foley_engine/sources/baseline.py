"""THE BASELINE note generator, "baseline:motion-onset": visible strikes become notes, by fixed rules.

It is the engine's generator until a learned model exists and, after that, the yardstick every model is
compared against, so it has to stay simple enough to explain in a few sentences:

1. Geometry. Keypoints are made pixel-square (x times width/height) and divided by the performer's size
   (keypoints.HAND_PER_SHOULDER, about 0.3, times the shoulder width when the shoulders are seen, the torso's
   length standing in for it when a body is seen side-on, else the median wrist-to-middle-knuckle length of
   the hands), so every threshold is in "hand lengths" and works at any resolution and camera distance.
   Each trajectory is smoothed (Savitzky-Golay, which also gives the velocity) only within runs of detected
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
from typing import Literal

import numpy as np

from ..instruments import Instrument, MotionFamily
from ..keypoints import HAND_PER_SHOULDER, Keypoints, hand_lengths, pixel_square
from ..notes import Note, Performance
from ..skeleton import BODY_INDEX, FINGERTIPS, HAND_INDEX, LEFT, RIGHT
from .baseline_onsets import bow_strokes, drop_sympathetic, find_strikes
from .baseline_pitch import Pitch, wrist_track

GENERATOR_NAME = "baseline:motion-onset"

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_WRIST = HAND_INDEX["wrist"]


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
    hand_per_shoulder: float = HAND_PER_SHOULDER  # hand length / shoulder width: the body's steadier scale
    min_scale_samples: int = 5  # frames needed to trust a shoulder or hand size measurement
    default_scale: float = 0.1  # frame heights per hand length when neither shoulders nor hands are seen


#: Which joints strike: both hands' fingertips, the plucking hand, the wrists (mallets), the bow hand
Effectors = Literal["fingertips", "plucking", "wrists", "bow"]
#: How position gives pitch: along the keys, down a treble keyboard, along a neck, by raised fingers (winds)
PitchRule = Literal["across", "down", "neck", "raised"]


@dataclass(frozen=True)
class Family:
    """How one instrument family turns motion into notes; see the module docstring."""

    effectors: Effectors  # "fingertips" (both hands) | "plucking" (right hand) | "wrists" | "bow"
    pitch: PitchRule  # "across" | "down" | "neck" | "raised"
    step_width: float  # hand lengths per scale step for the positional pitch rules
    max_duration: float  # s
    legato: bool  # notes last until the performer's next note (winds, brass)
    downward: bool  # strikes must move down the image (keys and bars lie below the hands)


_FAMILIES: dict[MotionFamily, Family] = {
    "keys": Family("fingertips", "across", 0.24, 1.0, legato=False, downward=True),
    "accordion": Family("fingertips", "down", 0.24, 1.0, legato=False, downward=False),
    "mallets": Family("wrists", "across", 0.45, 0.5, legato=False, downward=True),
    "plucked": Family("plucking", "neck", 0.7, 1.0, legato=False, downward=False),
    "bowed": Family("bow", "neck", 0.7, 4.0, legato=False, downward=False),
    "woodwind": Family("fingertips", "raised", 1.0, 2.0, legato=True, downward=False),
    "brass": Family("fingertips", "raised", 1.0, 2.0, legato=True, downward=False),
}



@dataclass
class Strike:
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
    family = _FAMILIES[instrument.motion_family]
    aspect = pixel_square(keypoints.frame_size)
    strikes = [_performer_strikes(keypoints.body[p], keypoints.hands[p], aspect, keypoints.rate, family, settings)
               for p in range(keypoints.num_performers)]
    span = _velocity_span([strike.speed for track in strikes for strike in track])
    tracks = [_notes(track, family, instrument, span, duration, settings) for track in strikes]
    return Performance(instrument=instrument, duration=duration, tracks=tracks, generator=GENERATOR_NAME)


def _performer_strikes(body: np.ndarray, hands: np.ndarray, aspect: np.ndarray, rate: float, family: Family,
                       settings: BaselineSettings) -> list[Strike]:
    """Every strike of one performer with its speed and pitch step, before voices are limited."""
    body_xy = body[..., :2].astype(np.float64) * aspect
    hands_xy = hands[..., :2].astype(np.float64) * aspect
    body_ok, hands_ok = body[..., 2] > 0, hands[..., 2] > 0
    scale = _scale(body_xy, body_ok, hands_xy, hands_ok, settings)
    body_xy, hands_xy = body_xy / scale, hands_xy / scale
    pitch = Pitch.measure(family, body_xy, body_ok, hands_xy, hands_ok, settings)
    if family.effectors == "bow":
        bow_xy, bow_ok = wrist_track(body_xy, body_ok, hands_xy, hands_ok, RIGHT)
        steps = pitch.steps(bow_xy, _WRIST)
        return [Strike(start, speed, (RIGHT, _WRIST), steps[_frame(start, rate, steps)], end)
                for start, end, speed in bow_strokes(bow_xy, bow_ok, rate, settings)]

    if family.effectors == "wrists":
        effectors = [(hand, _WRIST) for hand in (LEFT, RIGHT)]
    elif family.effectors == "plucking":
        effectors = [(RIGHT, joint) for joint in (_WRIST, *FINGERTIPS)]
    else:
        effectors = [(hand, joint) for hand in (LEFT, RIGHT) for joint in FINGERTIPS]
    found: list[Strike] = []
    for hand, joint in effectors:
        position, ok = hands_xy[:, hand, joint], hands_ok[:, hand, joint] & hands_ok[:, hand, _WRIST]
        # Fingers are judged by their motion relative to the wrist, wrists by their own motion.
        motion = position - hands_xy[:, hand, _WRIST] if joint != _WRIST else position
        steps = pitch.steps(position, joint)
        for time, speed in find_strikes(motion, ok, rate, family.downward, settings):
            found.append(Strike(time, speed, (hand, joint), steps[_frame(time, rate, steps)]))
    return drop_sympathetic(found, family.legato, settings)


def _frame(time: float, rate: float, samples: np.ndarray) -> int:
    return min(int(round(time * rate)), len(samples) - 1)


#: A torso (neck to mid-hip) this many times the shoulders' width means a body seen side-on; facing the camera
#: an adult's is about TORSO_PER_SHOULDER times it.
SIDE_ON, TORSO_PER_SHOULDER = 2.5, 1.35


def _scale(body_xy: np.ndarray, body_ok: np.ndarray, hands_xy: np.ndarray, hands_ok: np.ndarray,
           settings: BaselineSettings) -> float:
    """One hand length in pixel-square frame heights: from the shoulders if seen, else from the hands.

    A body turned side-on foreshortens its shoulders, not its torso: where the torso (neck to mid-hip) is more
    than SIDE_ON times the shoulders' width (a person turned more than ~55 degrees from the camera, a walker
    seen from the side), the torso gives the shoulders' width instead. Facing the camera it is ~1.35 times
    it (1.3-1.9 on every body-view clip here), so those keep the shoulders."""
    right, left = BODY_INDEX["right_shoulder"], BODY_INDEX["left_shoulder"]
    both = body_ok[:, right] & body_ok[:, left]
    if both.sum() >= settings.min_scale_samples:
        width = float(np.median(np.linalg.norm(body_xy[both, right] - body_xy[both, left], axis=-1)))
        neck, hips = BODY_INDEX["neck"], BODY_INDEX["mid_hip"]
        upright = body_ok[:, neck] & body_ok[:, hips]
        if upright.sum() >= settings.min_scale_samples:
            torso = float(np.median(np.linalg.norm(body_xy[upright, neck] - body_xy[upright, hips], axis=-1)))
            if torso > SIDE_ON * width:
                width = torso / TORSO_PER_SHOULDER
        if width > 0:
            return width * settings.hand_per_shoulder
    palm = hand_lengths(hands_xy, hands_ok)
    if len(palm) >= settings.min_scale_samples and np.median(palm) > 0:
        return float(np.median(palm))
    return settings.default_scale


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


def _notes(strikes: list[Strike], family: Family, instrument: Instrument, span: tuple[float, float],
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
    pitch closer than ``min_duration`` are one note, the louder. Not phrases.limit_polyphony, on purpose: that
    one shapes composed music (the top voices stay, a held note is cut legato), this one weighs detections
    (a double detection is one strike, the weakest evidence gives way). Either rule in the other's place
    changes what ships: the baseline's notes, or the synthetic training data the shipped model was made from.
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
        sounding = [i for i in sounding if (held := kept[i]) is not None and held.end > note.start]
        if len(sounding) >= max_polyphony:
            velocity = {i: held.velocity for i in sounding if (held := kept[i]) is not None}
            weakest = min(sounding, key=velocity.__getitem__)
            if velocity[weakest] >= note.velocity:
                continue
            kept[weakest] = None
            sounding.remove(weakest)
        kept.append(note)
        sounding.append(len(kept) - 1)
    return sorted(note for note in kept if note is not None)
