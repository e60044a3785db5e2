"""Black-key candidates: dark, elongated blobs of one size in a row, and which side of that row the player is.

A keyboard's most distinctive feature, from any angle and in any light, is its row of black keys: dark bars
of one size, parallel, side by side, each surrounded by brighter keys. The morphological black-hat (closing
minus image) picks out exactly such dark things narrower than its kernel, whatever the absolute brightness,
and ignores the wide dark fallboard they join; thresholding it (Otsu) and measuring each connected piece's
second moments gives the bars' centres, axes, lengths and widths without assuming any orientation. Bars
that resemble their neighbours and sit side by side (not end to end) form chains; chains on one line with
a gap between them (a hand over some keys) are joined; the straight chains are the candidate keyboards.
The search runs on a small pyramid and pools its levels, so a keyboard seen in steep perspective, whose
near keys are twice the size of its far ones, is still one row.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

#: The black-hat kernel: bars 3-9 px wide at the pyramid level that looks for them are caught whole; a bar
#: found at several levels is kept from the one where its width is nearest the middle of that range.
_HAT_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
_BEST_LEVEL_WIDTH = 5.5
_MIN_LEVEL_SIDE = 80
#: Thinner dark lines (the gaps between white keys, edges) are opened away.
_OPEN_KERNEL = np.ones((3, 3), np.uint8)
_MIN_HAT = 10  # grey levels: below this the "bars" are noise
_MIN_ELONGATION = 2.2  # black keys are 5-7 times longer than wide; foreshortening halves that at worst
_MIN_FILL = 0.6  # of the length x width box: bars, not blobs with holes or branches
#: Neighbouring black keys: similar size, parallel, side by side within this many key widths.
_MAX_LENGTH_RATIO, _MAX_WIDTH_RATIO = np.log(1.35), np.log(1.7)
_MAX_AXIS_ANGLE = np.deg2rad(15)
_MAX_SPACING = 6.0  # key widths: two gaps of a group boundary with one key hidden
_MAX_ALONG_AXIS = np.sin(np.deg2rad(40))  # the neighbour is beside the bar, not beyond its end
#: Chains on one line are joined across a gap of up to this many key widths (two hands' worth of keys).
_MAX_GAP = 20.0
_MIN_JOINED = 2


@dataclass(frozen=True)
class Bars:
    """Dark bars in working-image pixels: centres (n, 2), unit major axes (n, 2), lengths and widths (n,)."""

    centres: np.ndarray
    axes: np.ndarray
    lengths: np.ndarray
    widths: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)

    def take(self, index: np.ndarray) -> Bars:
        return Bars(self.centres[index], self.axes[index], self.lengths[index], self.widths[index])


def pyramid_bars(image: np.ndarray, factors: Sequence[float]) -> Bars:
    """Dark bars of a uint8 grey image found at every pyramid scale, each bar once, in image pixels."""
    height, width = image.shape
    found, level_widths = [], []
    for factor in factors:
        size = (round(width * factor), round(height * factor))
        if min(size) < _MIN_LEVEL_SIDE:
            break
        bars = dark_bars(cv2.resize(image, size, interpolation=cv2.INTER_AREA) if factor < 1 else image, factor)
        found.append(bars)
        level_widths.append(bars.widths * factor)
    if not found:
        return Bars(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    pooled = Bars(*(np.concatenate([getattr(bars, name) for bars in found])
                    for name in ("centres", "axes", "lengths", "widths")))
    kept: list[int] = []
    for i in np.argsort(np.abs(np.concatenate(level_widths) - _BEST_LEVEL_WIDTH)):
        nearest = np.min(np.linalg.norm(pooled.centres[kept] - pooled.centres[i], axis=1)) if kept else np.inf
        if nearest > 0.5 * pooled.widths[i]:
            kept.append(int(i))
    return pooled.take(np.array(sorted(kept), int))


def dark_bars(image: np.ndarray, factor: float) -> Bars:
    """Elongated dark bars in `image` (uint8 grey, the working image scaled by `factor`), in working pixels."""
    hat = cv2.morphologyEx(image, cv2.MORPH_BLACKHAT, _HAT_KERNEL)
    otsu, _ = cv2.threshold(hat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx((hat > max(otsu, _MIN_HAT)).astype(np.uint8), cv2.MORPH_OPEN, _OPEN_KERNEL)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    ys, xs = np.nonzero(labels)
    label = labels[ys, xs]
    area = np.bincount(label, minlength=count).astype(np.float64)
    area[0] = np.inf
    mean_x, mean_y = np.bincount(label, xs, count) / area, np.bincount(label, ys, count) / area
    var_x = np.bincount(label, xs.astype(np.float64) ** 2, count) / area - mean_x ** 2
    var_y = np.bincount(label, ys.astype(np.float64) ** 2, count) / area - mean_y ** 2
    cov = np.bincount(label, xs.astype(np.float64) * ys, count) / area - mean_x * mean_y
    spread = np.sqrt(((var_x - var_y) / 2) ** 2 + cov ** 2)
    # A uniform bar of length L has variance L^2 / 12 along it (+1/12 for the pixel grid).
    length = np.sqrt(np.maximum(12 * ((var_x + var_y) / 2 + spread) - 1, 0))
    width = np.sqrt(np.maximum(12 * ((var_x + var_y) / 2 - spread) - 1, 0))
    angle = 0.5 * np.arctan2(2 * cov, var_x - var_y)
    keep = ((area >= 10) & (width >= 1.8) & (length >= _MIN_ELONGATION * width)
            & (area >= _MIN_FILL * length * width) & (length < 0.5 * max(image.shape)))
    keep[0] = False
    axes = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    centres = np.stack([mean_x, mean_y], axis=1)
    # Pixel centres are integers at every scale, so level pixel c is working pixel (c + 0.5) / factor - 0.5.
    return Bars((centres[keep] + 0.5) / factor - 0.5, axes[keep], length[keep] / factor, width[keep] / factor)


def chains(bars: Bars, min_size: int) -> list[np.ndarray]:
    """Index arrays of the bar chains with at least `min_size` members, each sorted along its row."""
    if len(bars) < min_size:
        return []
    # Each bar looks as far as a neighbour of the widest like size could be: one reach for all, set by the
    # many small bars of a busy background, would never link the few big keys of a keyboard seen close up.
    reach = _MAX_SPACING * bars.widths * (1 + np.exp(_MAX_WIDTH_RATIO)) / 2
    neighbours = cKDTree(bars.centres).query_ball_point(bars.centres, reach)
    first = np.repeat(np.arange(len(bars)), [len(found) for found in neighbours])
    second = np.concatenate([np.asarray(found, int) for found in neighbours])
    pairs = np.unique(np.sort(np.stack([first, second], axis=1)[first != second], axis=1), axis=0)
    if len(pairs) == 0:
        return []
    first, second = pairs[:, 0], pairs[:, 1]
    offset = bars.centres[second] - bars.centres[first]
    distance = np.linalg.norm(offset, axis=1)
    direction = offset / distance[:, None]
    mean_width = (bars.widths[first] + bars.widths[second]) / 2
    mean_length = (bars.lengths[first] + bars.lengths[second]) / 2
    linked = ((np.abs(np.log(bars.lengths[first] / bars.lengths[second])) < _MAX_LENGTH_RATIO)
              & (np.abs(np.log(bars.widths[first] / bars.widths[second])) < _MAX_WIDTH_RATIO)
              & (np.abs(np.sum(bars.axes[first] * bars.axes[second], axis=1)) > np.cos(_MAX_AXIS_ANGLE))
              & (distance > mean_width) & (distance < _MAX_SPACING * mean_width) & (distance < 1.3 * mean_length)
              & (np.abs(np.sum(direction * bars.axes[first], axis=1)) < _MAX_ALONG_AXIS)
              & (np.abs(np.sum(direction * bars.axes[second], axis=1)) < _MAX_ALONG_AXIS))
    graph = coo_matrix((np.ones(int(linked.sum())), (first[linked], second[linked])), shape=(len(bars),) * 2)
    count, component = connected_components(graph, directed=False)
    groups = [np.flatnonzero(component == label) for label in range(count)]
    groups = _join(bars, [group for group in groups if len(group) >= _MIN_JOINED])
    found = []
    for group in groups:
        members = _straight_row(bars, group) if len(group) >= min_size else group
        if len(members) >= min_size:
            found.append(members)
    return found


def _continuation(bars: Bars, first: np.ndarray, second: np.ndarray) -> np.ndarray | None:
    """The two chains as one row, if they are one row of like bars with a gap between them (a hand over some
    keys); bars of the shorter chain that fall within the longer one's extent (between fingers) are dropped.
    Sizes and directions are compared across the gap only: in perspective a row's bars fan out and shrink."""
    if len(second) > len(first):
        first, second = second, first
    middle = bars.centres[first].mean(axis=0)
    _, _, vt = np.linalg.svd(bars.centres[first] - middle, full_matrices=False)
    along_first, along_second = ((bars.centres[group] - middle) @ vt[0] for group in (first, second))
    width = float(np.median(bars.widths[first]))
    outside = (along_second < along_first.min() - 0.5 * width) | (along_second > along_first.max() + 0.5 * width)
    if outside.sum() < 2:
        return None
    second, along_second = second[outside], along_second[outside]
    after = along_second.min() > along_first.max()
    gap = along_second.min() - along_first.max() if after else along_first.min() - along_second.max()
    near_first = first[np.argsort(along_first)[-3:] if after else np.argsort(along_first)[:3]]
    near_second = second[np.argsort(along_second)[:3] if after else np.argsort(along_second)[-3:]]
    width = float(np.median(bars.widths[near_first]))
    axis_first, axis_second = (np.linalg.svd(bars.axes[near].T @ bars.axes[near])[0][:, 0]
                               for near in (near_first, near_second))
    joined: np.ndarray = np.concatenate([first, second])
    centres = bars.centres[joined] - bars.centres[joined].mean(axis=0)
    across = np.linalg.svd(centres, full_matrices=False)[2][1]
    if (abs(np.log(np.median(bars.widths[near_second]) / width)) > _MAX_WIDTH_RATIO
            or abs(axis_first @ axis_second) < np.cos(_MAX_AXIS_ANGLE)
            or abs(vt[0] @ axis_first) > _MAX_ALONG_AXIS
            or np.max(np.abs(centres @ across)) > 1.5 * width or not 0 < gap < _MAX_GAP * width):
        return None
    return joined


def _join(bars: Bars, groups: list[np.ndarray]) -> list[np.ndarray]:
    """Join chains that continue each other until none do."""
    joined = True
    while joined:
        joined = False
        for a, b in combinations(range(len(groups)), 2):
            row = _continuation(bars, groups[a], groups[b])
            if row is not None:
                groups[a] = row
                del groups[b]
                joined = True
                break
    return groups


def _straight_row(bars: Bars, members: np.ndarray) -> np.ndarray:
    """The members lying on one straight line across their axes (black-key centres are collinear in any
    perspective), sorted along it; bars off the line are other dark things that happened to link in."""
    for _ in range(3):
        centres = bars.centres[members]
        middle = np.median(centres, axis=0)
        _, _, vt = np.linalg.svd(centres - middle, full_matrices=False)
        normal = vt[1]
        off_line = np.abs((centres - middle) @ normal)
        tolerance = max(1.0 * float(np.median(bars.widths[members])), 2.0)
        keep = off_line <= max(tolerance, 2.5 * float(np.median(off_line)))
        if keep.all():
            break
        members = members[keep]
        if len(members) < 3:
            return members
    return members[np.argsort((bars.centres[members] - bars.centres[members].mean(axis=0)) @ vt[0])]


def sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float32 image at (n, 2) x, y points; NaN outside the image."""
    points = np.asarray(points, np.float32).reshape(-1, 2)
    map_x, map_y = points[:, :1].copy(), points[:, 1:].copy()
    samples: np.ndarray = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=(np.nan,)).ravel()
    return samples


def towards_player(image: np.ndarray, row: Bars) -> np.ndarray:
    """Each bar's axis turned to point at the player.

    Beyond a black key's tip the white keys go on for over half a black key's length (the part the player
    touches); beyond its back end is the fallboard. So the side whose continuation looks like the white keys
    between the bars - and shows the thin dark lines between white keys - is the player's.
    """
    axes: np.ndarray = row.axes * np.where(row.axes @ row.axes[len(row) // 2] < 0, -1.0, 1.0)[:, None]
    white = np.nanmedian(sample(image, (row.centres[1:] + row.centres[:-1]) / 2))
    black = np.nanmedian(sample(image, row.centres))
    contrast = max(float(white - black), 1.0)
    across = np.stack([-axes[:, 1], axes[:, 0]], axis=1)
    key_width = row.widths / 0.58
    scores = []
    with warnings.catch_warnings():  # rows running off the frame sample NaN there
        warnings.simplefilter("ignore", RuntimeWarning)
        for sign in (1.0, -1.0):
            whiteness, lines = [], []
            for depth in (0.15, 0.3, 0.45):
                reach = row.centres + sign * axes * (row.lengths * (0.5 + depth))[:, None]
                values = sample(image, reach)
                whiteness.append(np.clip(1 - np.abs(values - white) / (0.5 * contrast), 0, 1))
                # The gap line between two white keys runs on from under each black key's tip.
                near = [sample(image, reach + across * (key_width * u)[:, None]) for u in (-0.2, -0.1, 0.0, 0.1, 0.2)]
                far = [sample(image, reach + across * (key_width * u)[:, None]) for u in (-0.5, 0.5)]
                lines.append(np.clip((np.nanmean(far, axis=0) - np.nanmin(near, axis=0)) / contrast, 0, 0.5))
            scores.append(float(np.nanmedian(np.mean(whiteness, axis=0))) + float(np.nanmedian(np.mean(lines, axis=0))))
    return axes if scores[0] >= scores[1] else -axes
