"""Which black key each bar of a row is: fitting the 2-3 grouping to positions along the row.

The black keys' centres, measured along their row, are a perspective (1-D projective) image of the fixed
lattice of black-key positions (keys.black_x: groups of two and three, 1.14-1.2 white keys apart inside a
group and 1.76 between groups). A bar's lattice index fixes its pitch class (relative to a reference C).
The fit grows from every adjacent pair of bars (under five hypotheses: the left one is C#, D#, F#, G# or
A#): predict the next bar's lattice position from the map so far, accept it when it lands near a black key
(skipping keys hidden by hands or missed), refit, go on. The hypothesis that explains the most bars best
wins; regular stripes, fences or text fit no hypothesis well and are rejected by their residual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from .keys import black_x

_ACCEPT = 0.3  # white-key widths: the nearest lattice key must be this close to count
_FINAL_ACCEPT = 0.22
_MAX_ANCHORS = 5
_FLEXIBLE_MIN = 12
_LOCAL = 8  # neighbours that predict the next bar while growing
#: While fitting, lattice indices run negative (below the anchor), so a bar that fits no key is marked
#: with this instead of LatticeFit's -1.
_NONE = -(10 ** 6)


@dataclass(frozen=True)
class LatticeFit:
    """index: each bar's black-key lattice index (-1 = fits none); rms: residual of the fitted bars in
    white-key widths; score: sum over fitted bars of 1 - (residual / 0.3)^2, minus one per bar left over (a
    row of black keys has no bars between the keys, a row of stripes fitted every other bar does)."""

    index: np.ndarray
    rms: float
    score: float

    @property
    def fitted(self) -> np.ndarray:
        return self.index >= 0


_TABLE_INDEX = np.arange(-200, 200)
_TABLE_X = np.array([black_x(int(i)) for i in _TABLE_INDEX])


def _nearest_black(x: np.ndarray) -> np.ndarray:
    """Lattice index of the black key nearest each plane x."""
    right = np.clip(np.searchsorted(_TABLE_X, x), 1, len(_TABLE_X) - 1)
    left_closer = np.abs(x - _TABLE_X[right - 1]) < np.abs(_TABLE_X[right] - x)
    nearest: np.ndarray = _TABLE_INDEX[right - left_closer]
    return nearest


def _affine(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    spread = t - t.mean()
    slope = float(spread @ (x - x.mean()) / max(float(spread @ spread), 1e-12))
    return np.array([slope, x.mean() - slope * t.mean(), 0.0, 0.0, 0.0])


def _fit_map(t: np.ndarray, x: np.ndarray, flexible: bool = False) -> np.ndarray:
    """Parameters (a, b, c, d, e) of x = (a t + b + d t^2 + e t^3) / (c t + 1).

    Projective (d = e = 0) from 4 points on, affine (c = 0 too) below; `flexible` adds the cubic terms when
    there are _FLEXIBLE_MIN points, for the lens distortion that bends long rows (lens.py undoes it later).
    """
    if len(t) < 4:
        return _affine(t, x)
    columns = [t, np.ones_like(t), -t * x]
    if flexible and len(t) >= _FLEXIBLE_MIN:
        columns += [t ** 2, t ** 3]
    params = np.linalg.lstsq(np.stack(columns, axis=1), x, rcond=None)[0]
    if np.any(params[2] * t + 1 <= 0.2):  # the horizon would fall inside the row: not a plausible perspective
        # The cubic terms can trade off against the perspective term on a steep row; without them the map
        # is still projective, which an affine one (the last resort) is not.
        return _fit_map(t, x) if len(columns) > 3 else _affine(t, x)
    return np.pad(params, (0, 5 - len(params)))


@overload
def _apply(params: np.ndarray, t: float) -> float: ...


@overload
def _apply(params: np.ndarray, t: np.ndarray) -> np.ndarray: ...


def _apply(params: np.ndarray, t: np.ndarray | float) -> np.ndarray | float:
    a, b, c, d, e = params
    mapped: np.ndarray | float = (a * t + b + d * t ** 2 + e * t ** 3) / (c * t + 1)
    return mapped


def _grow(t: np.ndarray, anchor: int, slot: int) -> np.ndarray:
    """Lattice indices grown outwards from bars anchor, anchor + 1 taken as black keys slot, slot + 1.

    Each bar is predicted from the map of its nearest fitted neighbours only, so the growth follows lens
    distortion and perspective, which no single projective map does over a whole keyboard.
    """
    index = np.full(len(t), _NONE)
    position = np.full(len(t), np.nan)
    for bar, key in ((anchor, slot), (anchor + 1, slot + 1)):
        index[bar], position[bar] = key, black_x(key)
    for bar in np.argsort(np.abs(t - (t[anchor] + t[anchor + 1]) / 2)):
        if index[bar] != _NONE:
            continue
        fitted = np.flatnonzero(index != _NONE)
        near = fitted[np.argsort(np.abs(t[fitted] - t[bar]))[:_LOCAL]]
        x = float(_apply(_fit_map(t[near], position[near]), t[bar]))
        candidate = int(_nearest_black(np.array([x]))[0])
        if abs(x - black_x(candidate)) > _ACCEPT:
            continue
        before, after = index[:bar][index[:bar] != _NONE], index[bar + 1:][index[bar + 1:] != _NONE]
        if (len(before) and before.max() >= candidate) or (len(after) and after.min() <= candidate):
            continue  # the order along the row must be the order of the keys
        index[bar], position[bar] = candidate, black_x(candidate)
    return index


def _finish(t: np.ndarray, index: np.ndarray) -> LatticeFit:
    """Refit the map to all accepted bars, then re-decide every bar against it with a tighter tolerance."""
    for _ in range(2):
        fitted = index != _NONE
        params = _fit_map(t[fitted], np.array([black_x(i) for i in index[fitted]]), flexible=True)
        x = _apply(params, t)
        index = _nearest_black(x)
        residual = x - _TABLE_X[index - _TABLE_INDEX[0]]
        index[np.abs(residual) > _FINAL_ACCEPT] = _NONE
        for duplicate in np.unique(index[index != _NONE]):  # two bars on one key: keep the closer
            same = np.flatnonzero(index == duplicate)
            if len(same) > 1:
                index[same[np.argsort(np.abs(residual[same]))[1:]]] = _NONE
        if (index != _NONE).sum() < 4:
            return LatticeFit(index, np.inf, 0.0)
    fitted = index != _NONE
    residual = residual[fitted]
    score = float(np.sum(1 - (residual / _ACCEPT) ** 2)) - float(np.sum(~fitted))
    return LatticeFit(index, float(np.sqrt(np.mean(residual ** 2))), score)


def fit_lattice(t: np.ndarray) -> LatticeFit | None:
    """Assign lattice indices to bars at increasing positions `t` along their row (pitch rising with t).

    Index 0 is the C# of an arbitrary reference octave (the first bar's), so only pitch classes and the
    relative order are meaningful. None when fewer than four bars fit any hypothesis.
    """
    if len(t) < 4:
        return None
    t = (t - t.mean()) / max(float(t.std()), 1e-9)
    best = None
    for anchor in np.unique(np.linspace(0, len(t) - 2, min(len(t) - 1, _MAX_ANCHORS)).round().astype(int)):
        for slot in range(5):
            fit = _finish(t, _grow(t, int(anchor), slot))
            if best is None or fit.score > best.score:
                best = fit
    if best is None or best.score <= 0:
        return None
    fitted = best.index != _NONE
    shift = 5 * (best.index[fitted].min() // 5)  # put the reference C at the first fitted bar's octave
    return LatticeFit(np.where(fitted, best.index - shift, -1), best.rms, best.score)
