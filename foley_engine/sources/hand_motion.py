"""How the pixels around each hand move: the strokes of sticks and hands, read from the frames.

A drummer's wrist may move a centimetre while the stick's tip travels a hand length: the stick is not a
keypoint, so the keypoints alone miss most strokes (the shared snare clip: no hit at all). The pixels show
them. For every pair of consecutive frames, dense optical flow (Farneback) is measured in a box around each
wrist (`StrikeSettings.box` hand lengths each way, the hand and the stick it holds), and each box gives one
number: its pixels' mean downward speed relative to their surroundings (the median flow of a ring around the
box, so a hand-held camera or a swaying body moves nothing), pixels slower than `StrikeSettings.moving`
counted as still. A stroke drives that mean down hard and the impact turns it round within a frame, so a hit
is where the mean crosses from downwards to upwards with a swing of at least `StrikeSettings.swing` of the
hand's own standard deviation over the clip (and never less than `min_swing`): the top of a stroke turns round
slowly and its swing across one frame is small. The hit time is the zero crossing, interpolated between the
two frame pairs' midpoints, so it is finer than a frame. A pixel belongs to the nearest wrist in view, so one
stick moving near both hands is not heard twice.

The frames are decoded a second time, downscaled so that a hand length is about `WORK_HAND_PIXELS` pixels (the
same stroke gives the same numbers at 640x360 and at 4K), and the flow is measured on the boxes and their
rings only (near a hand, a zoom too moves everything the same way: tests zoom to 2x). A frame that repeats the
one before (`without_repeats`: film delivered at a higher rate, animation on twos) is passed over, so a stroke
is not stopped by it. Known limits: a hard shake still makes a few false hits (tests: 1-2 extra for 12 strokes
at ~2 pixels of jitter a frame); strokes sideways (a hi-hat's chick seen from above) are not downward; two hits
of one hand less than two frames apart cannot both show a reversal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..keypoints import Keypoints
from ..video import iter_frames, probe
from . import Progress

#: The working scale: frames are decoded so that one hand length (the strike source's yardstick) is about
#: this many pixels, which Farneback's 15-pixel window resolves a stick in.
WORK_HAND_PIXELS = 20.0
#: The surroundings whose motion is taken out reach this many times as far as the box.
RING_REACH = 2.0
#: The margin around a box that lets Farneback's window see past its edge.
_MARGIN = 12
#: A frame repeats the one before when it changed from it less than this share of the larger change into or out
#: of its neighbours. A repeat (a 24 fps film delivered at 30 fps, a shot at 20 fps, animation on twos) differs
#: from its original by the encoder's noise only, while distinct frames differ by the sensor's fresh noise as
#: well as by what moved: on the shared snare clip converted to 30 fps, repeats changed 0.01-0.03 grey levels on
#: average and their neighbours 0.2-0.7 where he played. Over a repeat the stick stands still for a frame, which
#: the flow took for a stroke's stop: a downstroke spanning one was heard twice (36 hits in its first 8 s, where
#: the clip at its own rate gives 25).
REPEAT_SHARE = 0.25
#: A pair of frames after a fast approach that holds at most this share of its speed is the stop of an impact
#: (pixel_impacts), if the approach was at full speed until then: a sway or the bottom of a gesture slows over
#: several frames, down to a pair that may hold next to nothing.
STOP_SHARE = 0.25


@dataclass(frozen=True)
class HandMotion:
    """Per pair of consecutive frames, each hand's box's mean downward pixel speed.

    `times` (F,) are the pairs' midpoints in seconds from the clip start; `down` (P, F, 2) is in hand
    lengths per second (positive: downwards in the picture), NaN where that wrist was not seen; hands in
    skeleton.LEFT, RIGHT order.
    """

    times: np.ndarray
    down: np.ndarray


def read_hand_motion(video: Path, start: float, end: float, keypoints: Keypoints, wrists: np.ndarray,
                     units: np.ndarray, box: float, moving: float, progress: Progress | None = None) -> HandMotion:
    """The hands' motion over [start, end) of `video`.

    `wrists` (P, T, 2, 2) are each performer's two wrist tracks (pixel-square frame heights, keypoints.py)
    on the keypoints' clock, NaN where unseen; `units` (P,) is each performer's hand length in frame heights;
    `box` and `moving` are in hand lengths and hand lengths per second.
    """
    info = probe(video)
    scale = min(1.0, WORK_HAND_PIXELS / max(float(np.median(units)) * info.height, 1e-6))
    max_size = max(64, round(max(info.width, info.height) * scale))
    report = progress or (lambda fraction, message: None)
    previous: np.ndarray | None = None
    previous_time = 0.0
    times: list[float] = []
    rows: list[np.ndarray] = []
    grays = ((frame.time, cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY))
             for frame in iter_frames(video, start, end, max_size))
    for count, (time, gray) in enumerate(without_repeats(grays)):
        if previous is not None:
            middle = (previous_time + time) / 2
            sample = int(np.clip(round((middle - keypoints.start) * keypoints.rate), 0, keypoints.num_frames - 1))
            unit_pixels = units * gray.shape[0]  # pixel-square frame heights -> working pixels
            interval = max(time - previous_time, 1e-6)
            flow = _box_flow(previous, gray, wrists[:, sample] * gray.shape[0], box * unit_pixels,
                             moving * interval * unit_pixels)
            rows.append(flow / interval / unit_pixels[:, None])
            times.append(middle - start)
        previous, previous_time = gray, time
        if count % 30 == 0:
            report(min(1.0, (time - start) / max(end - start, 1e-6)), "strokes in the pixels around the hands")
    down = np.stack(rows, axis=1) if rows else np.full((wrists.shape[0], 0, 2), np.nan)
    return HandMotion(np.asarray(times, np.float64), down)


def without_repeats(frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray]]:
    """`frames` (time, grey image), in order, less every frame that repeats the one before it (REPEAT_SHARE):
    the next pair of frames then spans the repeat, and its speeds are over its real interval. A frame is judged
    by the change into it against the changes into the frame before and out of it, so each frame is given out
    one frame late; the first frame is never a repeat."""
    held: tuple[float, np.ndarray] | None = None  # the newest frame, not judged yet
    into_held: float | None = None  # its change from the frame before it
    into_before: float | None = None  # that frame's change from the one before it
    for time, image in frames:
        change = None
        if held is not None:
            change = float(np.mean(cv2.absdiff(held[1], image)))
            if not _repeats(into_held, into_before, change):
                yield held
        into_before, into_held, held = into_held, change, (time, image)
    if held is not None and not _repeats(into_held, into_before, None):
        yield held


def _repeats(change: float | None, before: float | None, after: float | None) -> bool:
    """Whether a frame that changed `change` from the one before repeats it, its neighbours' changes being
    `before` (into the frame before) and `after` (out of it); None where there is no such frame."""
    neighbours = [other for other in (before, after) if other is not None]
    return change is not None and bool(neighbours) and change < REPEAT_SHARE * max(neighbours)


def _box_flow(before: np.ndarray, after: np.ndarray, wrists: np.ndarray, reaches: np.ndarray,
              stills: np.ndarray) -> np.ndarray:
    """(P, 2) each wrist's downward speed in pixels per frame (_hand_speed; NaN for a wrist not seen or out of
    the frame), `reaches[p]` and `stills[p]` being that performer's box reach and still speed in pixels. The flow
    is measured once per performer, on the smallest crop that holds the rings of both their hands."""
    height, width = after.shape
    speeds = np.full(wrists.shape[:2], np.nan)
    seen = np.isfinite(wrists).all(axis=-1)
    boxes = [(wrists[p, h], reaches[p]) for p, h in zip(*np.nonzero(seen), strict=True)]
    rings = {(p, h): _clipped(wrists[p, h], RING_REACH * reaches[p], width, height)
             for p, h in zip(*np.nonzero(seen), strict=True)}
    for performer in np.unique(np.nonzero(seen)[0]):
        theirs = [ring for (owner, _), ring in rings.items() if owner == performer]
        x0, y0 = max(0, min(r[0] for r in theirs) - _MARGIN), max(0, min(r[1] for r in theirs) - _MARGIN)
        x1, y1 = min(width, max(r[2] for r in theirs) + _MARGIN), min(height, max(r[3] for r in theirs) + _MARGIN)
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue  # the hands are out of the frame
        flow = _flow(before[y0:y1, x0:x1], after[y0:y1, x0:x1])
        for hand in np.nonzero(seen[performer])[0]:
            speeds[performer, hand] = _hand_speed(flow, (x0, y0), rings[performer, hand], wrists[performer, hand],
                                                  reaches[performer], stills[performer], boxes)
    return speeds


def _hand_speed(flow: np.ndarray, origin: tuple[int, int], ring: tuple[int, int, int, int], wrist: np.ndarray,
                reach: float, still: float, boxes: list[tuple[np.ndarray, float]]) -> float:
    """One hand's downward speed (pixels per frame) from `flow`, a crop whose top left is `origin`: the mean
    over its box (`reach` pixels each way around `wrist`, only the pixels nearer to it than to any other wrist
    of `boxes`, every hand's (wrist, reach)) of the downward flow of the pixels moving at least `still` relative
    to their surroundings, NaN when the ring is empty.

    The surroundings are the `ring` (x0, y0, x1, y1) outside every hand's box: its median flow is what moves the
    whole neighbourhood (a hand-held camera, the body swaying), never a stroke."""
    rx0, ry0, rx1, ry1 = ring
    if rx1 - rx0 < 2 or ry1 - ry0 < 2:
        return float("nan")
    rows, columns = np.arange(ry0, ry1)[:, None], np.arange(rx0, rx1)[None, :]
    in_boxes = np.zeros((ry1 - ry0, rx1 - rx0), bool)
    for (x, y), other_reach in boxes:
        in_boxes |= (np.abs(rows - y) <= other_reach) & (np.abs(columns - x) <= other_reach)
    near = flow[ry0 - origin[1]:ry1 - origin[1], rx0 - origin[0]:rx1 - origin[0]]
    surroundings = near[~in_boxes]
    moved = np.median(surroundings, axis=0) if len(surroundings) >= 0.25 * in_boxes.size else np.zeros(2)
    own = (np.abs(rows - wrist[1]) <= reach) & (np.abs(columns - wrist[0]) <= reach)
    distance = (columns - wrist[0]) ** 2 + (rows - wrist[1]) ** 2
    for other, _ in boxes:
        if (other != wrist).any():
            own &= distance <= (columns - other[0]) ** 2 + (rows - other[1]) ** 2  # nearer to this wrist
    relative = near - moved
    counted = own & (np.hypot(relative[..., 0], relative[..., 1]) >= still)
    return float(np.where(counted, relative[..., 1], 0.0).sum() / max(int(own.sum()), 1))


def _clipped(point: np.ndarray, reach: float, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the square reaching `reach` pixels each way around `point`, within the frame."""
    x, y = point
    return (int(max(0, x - reach)), int(max(0, y - reach)), int(min(width, max(0, x + reach + 1))),
            int(min(height, max(0, y + reach + 1))))


def _flow(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Dense Farneback flow (H, W, 2) in pixels from `before` to `after`, with OpenCV's own example settings:
    a three-level pyramid halving each time, a 15-pixel window, three iterations, polynomial size 5."""
    flow = np.zeros((*after.shape, 2), np.float32)
    return np.asarray(cv2.calcOpticalFlowFarneback(before, after, flow, pyr_scale=0.5, levels=3, winsize=15,
                                                   iterations=3, poly_n=5, poly_sigma=1.2, flags=0))


def pixel_impacts(times: np.ndarray, down: np.ndarray, swing: float, min_swing: float
                  ) -> list[tuple[float, float]]:
    """(time in s, strength) of every stroke of one hand: where its box's downward speed `down` (F,) turns
    upwards across one frame with a swing of at least `swing` standard deviations of the hand's own speeds
    (and `min_swing`); the time is the interpolated zero crossing. The strength is that swing, the change of
    speed the impact makes: the impulse the drum is given, for the note's velocity. Nothing is bridged across
    a frame where the wrist was not seen.

    A stick stopped dead by the drum may leave a trace of downward motion in the pair after the impact (a few
    pixels still moving): where that pair holds at most `STOP_SHARE` of the approach's speed before it, and
    the approach was not slowing down already, the swing counts from the approach. Whether the stop's pair
    reads 0.00 or 0.02 hand lengths a second must not decide the stroke: the shared snare drummer's far hand,
    mirrored, read 0.29, 0.02, -0.03 where the original read 0.37, 0.02, -0.05, and three of its strokes fell
    under the threshold in the mirror image."""
    seen = np.isfinite(down)
    if seen.sum() < 3:
        return []
    threshold = max(min_swing, swing * float(np.std(down[seen])))
    found: list[tuple[float, float]] = []
    for i in range(1, len(down)):
        approach, rebound = down[i - 1], down[i]
        if not (seen[i - 1] and seen[i]) or not approach > 0 >= rebound:
            continue
        impact = approach
        if i >= 3 and seen[i - 3] and seen[i - 2] and down[i - 2] >= down[i - 3] and \
                approach <= STOP_SHARE * down[i - 2]:
            impact = down[i - 2]  # stopped within a frame from full speed: the pair after holds a trace
        if impact - rebound < threshold:
            continue
        fraction = approach / (approach - rebound)
        found.append((float(times[i - 1] + fraction * (times[i] - times[i - 1])), float(impact - rebound)))
    return found


__all__ = ["REPEAT_SHARE", "STOP_SHARE", "WORK_HAND_PIXELS", "HandMotion", "pixel_impacts", "read_hand_motion",
           "without_repeats"]
