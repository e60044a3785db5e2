"""When a limb strikes, from its track: the impact detection of the strike source (strikes.py).

A drum stroke, a hand on a conga, a clap and a heel strike all look the same in keypoints: a limb moves fast
towards a surface and then stops dead or bounces back. `impacts` finds those moments on one coordinate per
limb that grows towards the surface; `seen` says which frames of a joint count. The thresholds
(`StrikeSettings`) are set from what a strike is and checked on synthetic strokes, tracker noise and rendered
people (tests/test_strikes.py, test_strike_pixels.py, test_rendered_strikes.py), never fitted to a clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from .baseline_onsets import _runs


@dataclass(frozen=True)
class StrikeSettings:
    """Thresholds of the strike source. Lengths in hand lengths (~10 cm), speeds in hand lengths per second.

    Set from what a strike is, checked on synthetic strokes (tests/test_strikes.py) and rendered people
    (tests/test_rendered_strikes.py), never fitted to a clip.
    """

    min_travel: float = 0.1  # a stroke brings the limb at least this much (~1 cm: a wrist stroke) closer...
    approach_window: float = 0.12  # s; ...within this time: a stroke's end is sharp, a sway's or a drift's round
    jitter: float = 3.0  # ...and at least this many times the track's own jitter (before the 1-2-1 smoothing)
    min_speed: float = 1.5  # an approach this fast (~15 cm/s: a heel landing) may end at rest, without a rebound
    min_step: float = 0.3  # a heel comes down at least this far (~3 cm): a resting foot's joints drift ~1-2 cm
    min_interval: float = 0.05  # s; one limb's hits at least this far apart (rolls and flams stay separate)
    ring: float = 0.3  # s; a hit's note length unless the piece rings longer (_RINGS) or is struck again
    #: joints seen with at least this confidence count (the pose's visibility: a foot out of frame is guessed
    #: at ~0.02-0.3 and wanders by tens of pixels, which would be heard as steps)
    confidence: float = 0.5
    #: s; a joint's visibility falling below `confidence` for at most this long, between frames where it is
    #: seen, is an occlusion, and the joint's place still counts: at a clap one hand hides the other wrist,
    #: and a lifted foot may pass behind the other leg. MediaPipe still places the joint, but smooths its
    #: visibility, which takes a few tenths of a second to come back after a single hidden frame.
    hidden: float = 0.5
    #: The hands' strokes in the pixels (hand_motion.py): the box around each wrist (hand lengths each way:
    #: the hand and its stick), the speed below which a pixel is still (hand lengths/s), and a hit's least
    #: reversal, in standard deviations of the hand's own box speed over the clip and in hand lengths/s.
    box: float = 1.2
    moving: float = 1.0
    swing: float = 0.5
    min_swing: float = 0.05


def seen(confidence: np.ndarray, rate: float, settings: StrikeSettings) -> np.ndarray:
    """Where each joint (`confidence` (T, J)) counts as seen: at `settings.confidence` or above, and through a
    dip of at most `settings.hidden` between such frames wherever the joint was placed at all (an occlusion);
    never across a frame where the pose found nothing."""
    ok = confidence >= settings.confidence
    longest = int(round(settings.hidden * rate))
    for joint in range(ok.shape[1]):
        for start, end in _runs(~ok[:, joint]):
            if 0 < start and end < len(ok) and end - start <= longest and (confidence[start:end, joint] > 0).all():
                ok[start:end, joint] = True
    return ok


#: A limb that lands may still sink back by this share of how far it came (a heel after a step: the pose's
#: smoothing overshoots the stop, and then settles) and rest there.
_SETTLE = 0.1


def impacts(approach: np.ndarray, ok: np.ndarray, rate: float,
            settings: StrikeSettings = StrikeSettings()) -> list[tuple[float, float, int]]:
    """(time in samples, approach speed, sample of the impact) of each stroke that ends in a stop or a rebound.

    `approach` (T,) is the limb's coordinate towards the surface (a hand's or heel's height downwards, the
    hands' closeness for claps) in hand lengths, `ok` (T,) where it was seen. An impact is a farthest point
    (a local maximum; a dead stop's first sample) reached by coming at least `min_travel` closer within
    `approach_window`, after which the limb either bounces back by that much within the same time or, after
    an approach of at least `min_speed`, rests there. The travel is never less than `jitter` times the
    track's own jitter, so a shaky track needs clearer strokes. The impact is where the limb arrived at that
    place (`_arrival`), its approach is seen whole within the run and starts after the previous impact (a
    landing that creeps on is struck once). Nothing is bridged across a gap in `ok`.
    """
    window = approach_frames(settings, rate)
    spacing = max(1, int(np.ceil(settings.min_interval * rate - 1e-9)))
    found: list[tuple[float, float, int]] = []
    for start, end in _runs(ok):
        if end - start < 3:
            continue
        raw = approach[start:end]
        travel = max(settings.min_travel, settings.jitter * _jitter(raw))
        a = np.convolve(np.concatenate((raw[:1], raw, raw[-1:])), (0.25, 0.5, 0.25), "valid")  # halves jitter
        last = -1
        _, properties = find_peaks(np.concatenate(([-np.inf], a, [-np.inf])), distance=spacing,
                                       plateau_size=1)
        for peak in (properties["left_edges"] - 1).tolist():
            m = _arrival(a, peak, window, travel)
            if m < window:
                continue  # the approach is not seen whole (and a track's first frames settle)
            # an approach starts after the previous impact: a landing that creeps on is not struck twice
            before, after = a[max(m - window, last + 1):m], a[m + 1:m + 1 + window]
            if before.size == 0:
                continue
            came = a[m] - before.min()
            if came < travel:
                continue  # not a stroke: it did not come from far enough, fast enough
            speed = float(np.diff(a[max(0, m - window):m + 1]).max()) * rate
            rebound = after.size > 0 and a[m] - after.min() >= travel
            settles = max(travel / 2, _SETTLE * came)
            rests = (after.size == window and speed >= settings.min_speed
                     and float(np.abs(after - a[m]).max()) < settles)  # stays there: it landed
            if not (rebound or rests):
                continue  # still moving about there, or the track ends at the stroke: no contact seen
            time = _corner(a, m)
            if found and start + time - found[-1][0] < settings.min_interval * rate - 1e-9:
                continue
            found.append((start + time, speed, start + m))
            last = m
    return found


def approach_frames(settings: StrikeSettings, rate: float) -> int:
    """`settings.approach_window` in frames at `rate` (at least 2)."""
    return max(2, int(round(settings.approach_window * rate)))


def _arrival(a: np.ndarray, peak: int, window: int, travel: float) -> int:
    """Where the limb arrived at the place of its farthest point `peak`: the earliest sample, at most `window`
    before it, from which `a` stays within half a `travel` of the peak, if the limb was still moving at least
    half a `travel` in the frame before (an abrupt stop); else `peak`. A landing that creeps on a little (a
    heel settling, the pose's smoothing) peaks later than the moment it stopped; a sway's round top slows
    down gradually and has no such moment."""
    arrived = peak
    while arrived > max(1, peak - window) and a[arrived - 1] >= a[peak] - travel / 2:
        arrived -= 1
    return arrived if arrived < peak and a[arrived] - a[arrived - 1] >= travel / 2 else peak


def _jitter(a: np.ndarray) -> float:
    """The track's frame-to-frame noise (a standard deviation), from the median size of its second differences,
    which strokes (a few frames each) barely move and white noise sets at sqrt(6) times its own deviation."""
    if len(a) < 3:
        return 0.0
    return float(np.median(np.abs(np.diff(a, 2)))) / 0.6745 / float(np.sqrt(6.0))


def _corner(along: np.ndarray, m: int) -> float:
    """Where the approach (the line through frames m-2, m-1) meets the line after the impact (m+1, m+2):
    the hit time of a corner at frame m, in frames, within one frame of m; m itself where a line is missing."""
    if m < 2 or m + 2 >= len(along):
        return float(m)
    before = along[m - 1] - along[m - 2]
    after = along[m + 2] - along[m + 1]
    if before <= 0 or before - after <= 1e-9:  # frame m-2 is not on the approach (a fast roll): no line
        return float(m)
    time = (along[m + 1] - along[m - 1] + before * (m - 1) - after * (m + 1)) / (before - after)
    return float(np.clip(time, m - 1, m + 1))


__all__ = ["StrikeSettings", "approach_frames", "impacts", "seen"]
