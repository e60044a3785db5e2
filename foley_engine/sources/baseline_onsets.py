"""The baseline's strikes: when an effector's fast approach comes to a stop, and when a bow reverses.

See baseline.py's step 2. Trajectories are smoothed (Savitzky-Golay, which also gives the velocity) only
within runs of detected samples, so nothing is bridged across a gap and no strike comes from missing data.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import find_peaks, savgol_coeffs

if TYPE_CHECKING:
    from .baseline import BaselineSettings, Strike


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of consecutive True samples."""
    edges = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _velocity(position: np.ndarray, ok: np.ndarray, rate: float, settings: BaselineSettings) -> np.ndarray:
    """Smoothed velocity (T, 2), NaN wherever the sample is missing or its run is too short to smooth."""
    window = max(5, int(round(settings.smooth_window * rate)) // 2 * 2 + 1)
    velocity = np.full(position.shape, np.nan)
    for start, end in _runs(ok):
        if end - start >= window:
            velocity[start:end] = _slope(position[start:end], window) * rate
    return velocity


def _slope(samples: np.ndarray, window: int) -> np.ndarray:
    """scipy's savgol_filter(samples, window, 2, deriv=1, axis=0, mode="interp"), with its edges as one product
    each: savgol_filter fits every edge sample's polynomial in Python (a polyfit per column and edge), which
    made it most of the learned model's wait before its first token."""
    half = window // 2
    fits = _slope_fits(window)  # row k: the slope at sample k of a window's quadratic fit
    slope = np.empty(samples.shape)
    count = len(samples) - window + 1
    strided = np.lib.stride_tricks.sliding_window_view(samples, window, axis=0)  # (count, columns, window)
    slope[half:half + count] = strided @ fits[half]
    slope[:half] = fits[:half] @ samples[:window]
    slope[len(samples) - half:] = fits[half + 1:] @ samples[-window:]
    return slope


@cache
def _slope_fits(window: int) -> np.ndarray:
    """(window, window): row k gives the slope at position k of the least-squares quadratic through a window."""
    return np.stack([savgol_coeffs(window, 2, deriv=1, pos=k, use="dot") for k in range(window)])


def find_strikes(motion: np.ndarray, ok: np.ndarray, rate: float, downward: bool,
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
        for peak, limit in zip(peaks.tolist(), limits.tolist(), strict=False):
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


def bow_strokes(position: np.ndarray, ok: np.ndarray, rate: float,
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


def drop_sympathetic(strikes: list[Strike], legato: bool, settings: BaselineSettings) -> list[Strike]:
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
        rivals = np.array([fastest[a:b].max() for a, b in zip(low, high, strict=True)])
        keep[members] = fastest >= ratio * rivals
    return [strike for strike, kept in zip(strikes, keep, strict=True) if kept]
