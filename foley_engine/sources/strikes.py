"""The strike source: percussion and foley from the moments a limb hits something.

A drum stroke, a hand on a conga, a clap and a heel strike all look the same in keypoints: a limb moves fast
towards a surface and then stops dead or bounces back (thresholds set on synthetic strokes and tracker noise,
tests/test_strikes.py and test_strike_pixels.py; the real snare clip and where this fails: README,
Instruments). Each limb is followed on its own (two hands and two feet per performer), so a roll of
alternating hands or a flam stays separate hits; only one limb cannot strike twice within
`StrikeSettings.min_interval` (50 ms: a 12 Hz roll is two hands at 6 Hz each).

1. **Tracks.** Wrists (the stick hands) from whichever of the body and hand landmarks saw them more
   (baseline_pitch.wrist_track), heels (else ankles) from the body; pixel-square, in hand lengths
   (baseline's yardstick: from the shoulders when seen, else the hands), smoothed only by a 1-2-1 filter:
   a strike is a corner of the trajectory, and stronger smoothing would round it off by a frame or more.
   The feet first go through a running median of three frames (`_despiked`): the pose's feet jump for a
   frame now and then, and a heel's landing is a stop, which the median keeps.
2. **Impacts** (`impacts.impacts`), on one coordinate per limb that grows towards the surface: a hand's or heel's
   height downwards (drums and the floor lie below; only the heel's height, as the forward swing slows
   smoothly before the foot lands and would time the step early), the hands' closeness for claps. A hit is
   a farthest point reached by coming at least `min_travel` (about 1 cm: a wrist stroke; never less than
   three times the track's own jitter) closer within `approach_window` (0.12 s), then bouncing back as far as
   soon or, after a fast approach, resting there. Sway and drift turn round too smoothly to travel that far
   in so short a time on both sides of their turning point.
   The hit time is where the approach line meets the line after the impact (each from two frames that
   exclude the corner), so a dead stop and a rebound are both timed to a fraction of a frame.
   **Hands from the pixels too.** When the source plays a clip (`StrikeSource`), the hands' strokes are
   also read from the frames (hand_motion.py: the flow around each wrist, the stick included, turning from
   down to up), because a stick's tip is not a keypoint and a drummer's wrist may move a centimetre a
   stroke. A stroke that carries the wrist out of the box its pixels are read in is the keypoints' to time,
   one in which the hand stays in its box the pixels', and one both see is heard once (`_hand_strokes`).
   Feet and claps are the keypoints' alone.
3. **Which sound.** Per instrument (`_PLAYS`, given all of a performer's hits): a kit picks its piece from
   where the hand lands: how high above the performer's neck, and how far to their right of the kit's centre,
   which lies between where the two hands usually strike (high: cymbals, crash on the left and ride on the
   right; chest high and above the hand's usual height: rack toms; below: the floor tom far to the right, the
   hi-hat where a right hand has crossed over left of the left hand's usual place, else the snare: `_kit`)
   and feet play kick (right) and pedal hi-hat (left); hand drums give each hand its drum; timpani choose the
   kettle from left to right; claps are the two hands meeting; footsteps, stomps are heel strikes. Velocity
   comes from the approach speed, placed in the clip's own range as the baseline does.

Known limits: a buzz (the stick pressed into the head) shows no reversal; two hits of one hand less than two
frames apart cannot both show one (in the keypoints, about three frames for a corner). A kit's piece is a guess
from the wrist's place, not from seeing the drums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..instruments import Instrument, instruments_for
from ..keypoints import Keypoints, pixel_square
from ..notes import Note, Performance
from ..options import GeneratorOptions
from ..pose.extract import PoseSettings
from ..skeleton import BODY_INDEX, LEFT, RIGHT
from . import Progress, SourceClip, SourceNotes
from .baseline import BaselineSettings, _midi_velocity, _scale, _velocity_span
from .baseline_onsets import _runs
from .baseline_pitch import wrist_track
from .hand_motion import HandMotion, pixel_impacts, read_hand_motion
from .impacts import StrikeSettings, approach_frames, impacts, seen

GENERATOR_NAME = "strikes:limb-impacts"

#: Limbs, as (kind, side): the side is skeleton.LEFT or RIGHT, the performer's own.
HANDS, FEET, CLAP = "hand", "foot", "clap"


#: Pieces that ring on (cymbals, timpani): note lengths in seconds.
_RINGS = {"crash": 1.5, "ride": 1.0, "low kettle": 1.2, "second kettle": 1.2, "third kettle": 1.2,
          "high kettle": 1.2}


@dataclass(frozen=True)
class Hit:
    """One impact of one limb: time (s from the clip start), how hard (the approach speed; for a stroke read
    from the pixels around a hand, "pixels", the change of speed the impact made, on another scale), where
    (hand lengths from the performer's neck: up, and towards the performer's right), which limb, and what saw
    it ("keypoints" or "pixels")."""

    time: float
    speed: float
    height: float
    lateral: float
    limb: str
    side: int
    seen_by: str = "keypoints"


@dataclass(frozen=True)
class _Body:
    """A performer's frame of reference: the neck (median over the clip) and which way is their right."""

    neck: np.ndarray
    right: float  # +1 when image x grows towards the performer's right, -1 when facing the camera

    def place(self, point: np.ndarray) -> tuple[float, float]:
        """(height above the neck, distance towards the performer's right) of `point`, in hand lengths."""
        return float(self.neck[1] - point[1]), float((point[0] - self.neck[0]) * self.right)


#: The neck lies this many hand lengths above the hands' usual place (a torso: drums played at the waist).
_NECK_ABOVE_HANDS = 4.5


def _body(body: np.ndarray, seen: np.ndarray, wrists: list[tuple[np.ndarray, np.ndarray]]) -> _Body:
    """The performer's reference from their neck and shoulders; from the wrists when no body was seen."""
    neck, right, left = BODY_INDEX["neck"], BODY_INDEX["right_shoulder"], BODY_INDEX["left_shoulder"]
    if seen[:, neck].any():
        centre = np.median(body[seen[:, neck], neck], axis=0)
    else:
        points = [track[ok] for track, ok in wrists if ok.any()]
        centre = np.median(np.concatenate(points), axis=0) if points else np.zeros(2)
        centre = centre - np.array([0.0, _NECK_ABOVE_HANDS])
    both = seen[:, right] & seen[:, left]
    facing = np.median(body[both, right, 0] - body[both, left, 0]) if both.any() else -1.0
    return _Body(centre, 1.0 if facing > 0 else -1.0)


def _tracks(body: np.ndarray, hands: np.ndarray, aspect: np.ndarray, rate: float, settings: StrikeSettings
            ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]], float]:
    """One performer's body joints and two wrist tracks in hand lengths (with where each was seen), and the hand
    length in pixel-square frame heights."""
    body_ok, hands_ok = seen(body[..., 2], rate, settings), hands[..., 2] >= settings.confidence
    unit = _scale(body[..., :2] * aspect, body_ok, hands[..., :2] * aspect, hands_ok, BaselineSettings())
    body_xy, hands_xy = body[..., :2] * aspect / unit, hands[..., :2] * aspect / unit
    wrists = [wrist_track(body_xy, body_ok, hands_xy, hands_ok, side) for side in (LEFT, RIGHT)]
    return body_xy, body_ok, wrists, unit


def performer_hits(body: np.ndarray, hands: np.ndarray, aspect: np.ndarray, rate: float, limbs: str,
                   settings: StrikeSettings = StrikeSettings(),
                   motion: tuple[np.ndarray, np.ndarray] | None = None) -> list[Hit]:
    """Every hit of one performer's `limbs` ("hands", "feet", "both" or "claps"), in time order.

    `body` (T, 25, 3) and `hands` (T, 2, 21, 3) are one performer's keypoints, normalised (x, y, confidence).
    `motion`, when given, is this performer's (times, down) from hand_motion.HandMotion: the hands' strokes are
    then also read from the pixels around them (sticks included), where the wrists' keypoints show none.
    """
    body_xy, body_ok, wrists, _ = _tracks(body, hands, aspect, rate, settings)
    frame = _body(body_xy, body_ok, wrists)
    hits: list[Hit] = []

    def add(found: list[tuple[float, float, int]], track: np.ndarray, limb: str, side: int,
            seen_by: str = "keypoints") -> None:
        for time, speed, sample in found:
            height, lateral = frame.place(track[sample])
            hits.append(Hit(time / rate, speed, height, lateral, limb, side, seen_by))

    if limbs == "claps":
        (left, left_ok), (right, right_ok) = wrists
        closing = -np.linalg.norm(left - right, axis=1)  # rises as the hands close in
        add(impacts(closing, left_ok & right_ok, rate, settings), (left + right) / 2, CLAP, RIGHT)
    if limbs in ("hands", "both"):
        for side, (track, ok) in zip((LEFT, RIGHT), wrists, strict=True):
            found = impacts(track[:, 1], ok, rate, settings)
            if motion is not None:
                strokes = pixel_impacts(motion[0], motion[1][:, side], settings.swing, settings.min_swing)
                found, read = _hand_strokes(strokes, found, track, ok, rate, settings)
                add(read, track, HANDS, side, "pixels")
            add(found, track, HANDS, side)
    if limbs in ("feet", "both"):
        for side, (track, ok) in zip((LEFT, RIGHT), _feet(body_xy, body_ok), strict=True):
            add(impacts(track[:, 1], ok, rate, replace(settings, min_travel=settings.min_step)), track, FEET, side)
    return sorted(hits, key=lambda hit: hit.time)


def _hand_strokes(strokes: list[tuple[float, float]], found: list[tuple[float, float, int]], track: np.ndarray,
                  ok: np.ndarray, rate: float, settings: StrikeSettings
                  ) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
    """One hand's strokes, each once, from what the pixels around it (`strokes`, time in s and strength) and its
    wrist's keypoints (`found`, as `impacts` gives) saw: (the keypoints' hits kept, the pixels' strokes kept),
    in (time in samples, speed, sample).

    Where the wrist itself travels down (or up) half a box or more within the approach window before or after
    a pixel stroke, the hand leaves the box its pixels are read in (a conga's or a tom's arm stroke: the box's
    flow then turns round on its way down as well), and the keypoints time that stroke. Only the height
    counts: the pose moving a wrist sideways for a few frames is no stroke (a rendered tabla player's near
    wrist, 1.5 hand lengths for five frames, hid a stroke and was heard in its place). Where it stays in the box
    (a stick, a tabla's stroke from the wrist), the pixels see the hand or stick meet the drum, while the
    wrist follows the hand and the pose smooths it, so the pixels time it: the keypoints' hit nearest to it
    within the approach window is that stroke (on a rendered tabla player the wrist's hits came up to 69 ms
    after the pixels' and were heard as second strokes). A pixel stroke within `min_interval` of a keypoint
    hit that is kept is that hit."""
    window = approach_frames(settings, rate)
    kept = list(found)
    read: list[tuple[float, float, int]] = []
    for time, speed in strokes:
        sample = int(np.clip(round(time * rate), 0, len(track) - 1))
        around = slice(max(0, sample - window), sample + window + 1)
        seen = track[around][ok[around]]
        if len(seen) and float(np.ptp(seen[:, 1])) >= settings.box / 2:  # down, not sideways
            continue
        same = [hit for hit in kept if abs(time * rate - hit[0]) <= window]
        if same:
            kept.remove(min(same, key=lambda hit: abs(time * rate - hit[0])))
        read.append((time * rate, speed, sample))
    read = [stroke for stroke in read if not any(abs(stroke[0] - hit[0]) < settings.min_interval * rate
                                                 for hit in kept)]
    return kept, read


def hand_motion(clip: SourceClip, settings: StrikeSettings = StrikeSettings(),
                progress: Progress | None = None) -> HandMotion:
    """The motion of the pixels around every performer's hands over the clip (hand_motion.py)."""
    keypoints = clip.keypoints
    aspect = pixel_square(keypoints.frame_size)
    wrists = np.full((keypoints.num_performers, keypoints.num_frames, 2, 2), np.nan)
    units = np.ones(keypoints.num_performers)
    for performer in range(keypoints.num_performers):
        _, _, tracks, units[performer] = _tracks(keypoints.body[performer], keypoints.hands[performer], aspect,
                                                 keypoints.rate, settings)
        for side, (track, ok) in zip((LEFT, RIGHT), tracks, strict=True):
            wrists[performer, ok, side] = track[ok] * units[performer]
    return read_hand_motion(clip.video, clip.start, clip.end, keypoints, wrists, units, settings.box,
                            settings.moving, progress)


def _feet(body_xy: np.ndarray, body_ok: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Both feet's tracks (left, right): the heels, or the ankles where the heels were seen less (one
    whole-clip choice for both feet), without one-frame spikes (_despiked)."""
    joint = "heel" if sum(body_ok[:, BODY_INDEX[f"{side}_heel"]].sum() for side in ("left", "right")) >= sum(
        body_ok[:, BODY_INDEX[f"{side}_ankle"]].sum() for side in ("left", "right")) else "ankle"
    indices = [BODY_INDEX[f"{side}_{joint}"] for side in ("left", "right")]
    return [(_despiked(body_xy[:, index], body_ok[:, index]), body_ok[:, index]) for index in indices]


def _despiked(track: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """`track` (T, 2) with each seen run through a running median of three frames. A heel cannot leave the
    floor and be back within a frame, but the pose's feet jump so now and then, both at once, for one frame
    (a rendered drummer's resting foot: 2 hand lengths up and back, heard as a pedal hi-hat); a median of
    three takes such a spike out and keeps a landing's corner, where the heel stops and rests."""
    out = track.copy()
    for start, end in _runs(ok):
        if end - start >= 3:
            run = track[start:end]
            padded = np.concatenate((run[:1], run, run[-1:]))
            out[start:end] = np.median(np.stack((padded[:-2], padded[1:-1], padded[2:])), axis=0)
    return out


#: Heights (hand lengths above the neck) of a kit's bands: cymbals above the first, rack toms above the second,
#: and the drums at the waist below it.
_CYMBALS, _TOMS = -2.0, -3.5
#: Where both hands play below the cymbals, a rack tom is struck at least this many hand lengths above where
#: that hand usually strikes (its home, the snare or the hi-hat), as well as in the toms' band.
_TOM_RISE = 0.75
#: A floor tom lies at least this many hand lengths to the performer's right of the kit's centre, and (where
#: both hands play) at least the second many right of where the right hand usually strikes (its snare or
#: hi-hat): in a close-up of the hands on the shared snare, the wrists alone 4.8 hand lengths apart, the
#: right hand's snare strokes lay 2.5 right of the centre.
_FLOOR_TOM, _FLOOR_TOM_BEYOND = 2.5, 1.5


@dataclass(frozen=True)
class _KitPlace:
    """Where one performer's kit stands in the picture, from where their two hands strike below the cymbals.

    The drums stand in front of the body, so away from the front they are seen shifted sideways from the neck
    (by up to 3 hand lengths 40 degrees round): the kit's pieces are placed sideways from its centre, not from
    the neck. `snare_hand` is the left hand's usual place (it plays the snare), `right_hand` the right hand's
    leftmost quarter (its snare or hi-hat strokes, not its floor tom), the centre midway between them, and
    `homes` is each hand's usual height."""

    snare_hand: float
    right_hand: float
    homes: tuple[float, float]

    @property
    def centre(self) -> float:
        return (self.snare_hand + self.right_hand) / 2

    @classmethod
    def of(cls, hits: list[Hit]) -> _KitPlace | None:
        """The place of the kit a performer plays with both hands below the cymbals; None for one hand alone."""
        low = [[hit for hit in hits if hit.limb == HANDS and hit.side == side and hit.height < _CYMBALS]
               for side in (LEFT, RIGHT)]
        if not (low[LEFT] and low[RIGHT]):
            return None
        left = float(np.median([hit.lateral for hit in low[LEFT]]))
        right = float(np.percentile([hit.lateral for hit in low[RIGHT]], 25))
        left_home, right_home = (float(np.median([hit.height for hit in side])) for side in low)
        return cls(left, right, (left_home, right_home))


def _kit(hits: list[Hit]) -> Callable[[Hit], str]:
    """A kit's piece for each of one performer's hits, from where the limb struck (see the module docstring).

    Sideways, places count from the kit's centre (`_KitPlace`) where both hands play below the cymbals: seen
    from 20 degrees round, a right hand's snare strokes lay 2.7 hand lengths right of the neck (a floor tom's
    place from the front), and the mirror image of the shared snare drummer put one hand's strokes 3 hand
    lengths to the right. At the waist, which hand it is decides between snare and hi-hat, not an absolute
    place: a drummer's sticks meet on the snare from wrists a few hand lengths apart (3.6 on the shared snare
    clip), while a right hand playing the hi-hat crosses over to the left of the left hand's usual place. So a
    right hand's stroke left of that place is the hi-hat; a stroke far to the right, of the centre and of the
    right hand's usual place, is the floor tom; a stroke in the toms' band and well above that hand's usual
    height is a rack tom; everything else below the cymbals is the snare. Where one hand alone strikes, places
    count from the neck and a stroke at the waist well to the performer's left is the hi-hat."""
    kit = _KitPlace.of(hits)
    centre = 0.0 if kit is None else kit.centre

    def piece(hit: Hit) -> str:
        if hit.limb == FEET:
            return "kick" if hit.side == RIGHT else "pedal hi-hat"
        lateral = hit.lateral - centre
        if hit.height >= _CYMBALS:
            return "ride" if lateral > 1.0 else "crash"
        if hit.height >= _TOMS and (kit is None or hit.height >= kit.homes[hit.side] + _TOM_RISE):
            return "low tom" if lateral > 0 else "high tom"
        if lateral >= _FLOOR_TOM and (kit is None or hit.lateral - kit.right_hand >= _FLOOR_TOM_BEYOND):
            return "floor tom"
        if kit is None:  # one hand alone at the waist: well to the left is the hi-hat
            crossed = hit.lateral <= -2.0
        else:  # a right hand left of where the left hand plays the snare has crossed over to the hi-hat
            crossed = hit.side == RIGHT and hit.lateral < kit.snare_hand
        return "closed hi-hat" if crossed else "snare"
    return piece


def _always(piece: Callable[[Hit], str]) -> Callable[[list[Hit]], Callable[[Hit], str]]:
    """An instrument whose piece depends on each hit alone."""
    return lambda hits: piece


def _kettle(hit: Hit) -> str:
    """Timpani: the kettle under the hand, low to high from the player's left to right (American setup)."""
    kettles = ("low kettle", "second kettle", "third kettle", "high kettle")
    return kettles[int(np.digitize(hit.lateral, (-2.0, 0.0, 2.0)))]


def _by_hand(right: str, left: str) -> Callable[[list[Hit]], Callable[[Hit], str]]:
    """Each hand its own piece (hand drums: the player's hands stay on their drums)."""
    return _always(lambda hit: right if hit.side == RIGHT else left)


#: name -> (the limbs that play it, which piece each of a performer's hits strikes, given all their hits).
#: Another percussion instrument: hands, each its own piece (its first and last).
_PLAYS: dict[str, tuple[str, Callable[[list[Hit]], Callable[[Hit], str]]]] = {
    "drums": ("both", _kit),
    "snare": ("hands", _always(lambda hit: "snare")),
    "congas": ("hands", _by_hand("open high conga", "low conga")),
    "bongos": ("hands", _by_hand("high bongo", "low bongo")),
    "tabla": ("hands", _by_hand("dayan", "bayan")),
    "cajon": ("hands", _always(lambda hit: "slap" if hit.height >= -_NECK_ABOVE_HANDS else "bass")),
    "timpani": ("hands", _always(_kettle)),
    "claps": ("claps", _always(lambda hit: "clap")),
    "footsteps": ("feet", _always(lambda hit: "right heel" if hit.side == RIGHT else "left heel")),
    "stomps": ("feet", _always(lambda hit: "stomp")),
    "knocks": ("hands", _by_hand("high knock", "low knock")),
}


def _plays(instrument: Instrument) -> tuple[str, Callable[[list[Hit]], Callable[[Hit], str]]]:
    if instrument.name in _PLAYS:
        return _PLAYS[instrument.name]
    return "hands", _by_hand(instrument.pieces[0][0], instrument.pieces[-1][0])


def generate_strikes(keypoints: Keypoints, instruments: tuple[Instrument, ...], duration: float | None = None,
                     settings: StrikeSettings = StrikeSettings(), motion: HandMotion | None = None) -> Performance:
    """Every performer's hits as notes of their percussion instrument (one for all, or one each); the hands'
    from `motion` (the pixels around them) when given, else from the wrists' keypoints.

    Deterministic. A pitched instrument is an InputError: the strike source has no pitch to give it.
    """
    if duration is None:
        duration = keypoints.num_frames / keypoints.rate
    refuse_pitched(instruments)
    players = instruments_for(instruments, keypoints.num_performers)
    aspect = pixel_square(keypoints.frame_size)
    hits = [performer_hits(keypoints.body[p], keypoints.hands[p], aspect, keypoints.rate, _plays(instrument)[0],
                           settings, None if motion is None else (motion.times, motion.down[p]))
            for p, instrument in enumerate(players)]
    kinds = {(hit.limb, hit.seen_by) for track in hits for hit in track}
    spans = {kind: _velocity_span([hit.speed for track in hits for hit in track if (hit.limb, hit.seen_by) == kind])
             for kind in kinds}  # each limb's speeds in its own range, and pixel speeds are on another scale
    tracks = [_notes(track, instrument, spans, duration, settings)
              for track, instrument in zip(hits, players, strict=True)]
    return Performance(instrument=instruments[0], duration=duration, tracks=tracks, generator=GENERATOR_NAME,
                       track_instruments=players if len(instruments) > 1 else [])


def refuse_pitched(instruments: tuple[Instrument, ...]) -> None:
    """InputError unless every instrument is percussion: the strike source has no pitch to give the others."""
    pitched = sorted({i.name for i in instruments if not i.percussive})
    if pitched:
        raise InputError(f"the strike source plays percussion only, not {', '.join(pitched)} "
                         "(use --source model or auto for pitched instruments)")


def _notes(hits: list[Hit], instrument: Instrument, spans: dict[tuple[str, str], tuple[float, float]], duration: float,
           settings: StrikeSettings) -> list[Note]:
    """Hits to notes: each rings for its piece's time, cut where the same piece is struck again."""
    choose = _plays(instrument)[1](hits)
    struck = [(hit, choose(hit)) for hit in hits if 0 <= hit.time < duration]
    notes: list[Note] = []
    following: dict[int, float] = {}
    for hit, piece in reversed(struck):
        key = instrument.piece(piece)
        end = min(hit.time + _RINGS.get(piece, settings.ring), following.get(key, np.inf), duration)
        following[key] = hit.time
        if end > hit.time:
            velocity = _midi_velocity(hit.speed, spans[hit.limb, hit.seen_by], BaselineSettings())
            notes.append(Note(hit.time, end, key, velocity))
    return sorted(notes)


class StrikeSource:
    """Percussion and foley from the performers' impacts (`--source strikes`; auto's choice for percussion)."""

    name = "strikes"
    stage = "notes"

    def __init__(self, options: GeneratorOptions) -> None:
        self.options = options

    @staticmethod
    def pose_settings(settings: PoseSettings) -> PoseSettings:
        """What the pose stage has to find on a clip this source plays: bodies (the wrists, heels and the neck
        it places a kit's pieces from) and hands only where Pose does not see a followed person's wrists (a
        close-up of hands on a drum). Hands is most of the pose stage's time where a body is seen (about
        0.95 x real time down to 0.5 on the shared snare clip, bench/pipeline_bench.py)."""
        return replace(settings, hands="where wrists unseen")

    def play(self, clip: SourceClip, progress: Progress) -> SourceNotes:
        """Every performer's hits: the source is deterministic, so every take asked for (--variations) is the
        same one, as the keys source's are."""
        refuse_pitched(clip.instruments)
        progress(0.0, "strikes from the performers' motion")
        players = instruments_for(clip.instruments, clip.keypoints.num_performers)
        motion = None
        if clip.keypoints.num_performers and any(_plays(player)[0] in ("hands", "both") for player in players):
            motion = hand_motion(clip, progress=progress)
        performance = generate_strikes(clip.keypoints, clip.instruments, clip.duration, motion=motion)
        progress(1.0, "strikes from the performers' motion")
        return SourceNotes([performance] * self.options.variations, self.name)
