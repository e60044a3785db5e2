"""find_keyboard: from a few frames of a clip to the keyboard's plane, keys and pitches.

1. The per-pixel median of the frames (spread over the clip) removes hands that move; the rest of the work
   is on that grey background at most 1280 px wide.
2. On a small pyramid, the black-hat finds dark bars; chains of like bars side by side are candidate rows
   of black keys (blobs.py), and the side of the row where white keys continue is the player's.
3. The bars' positions along the row are fitted to the black keys' 2-3 lattice (lattice.py), which gives
   every bar its pitch class relative to a reference C.
4. The lens distortion that bends the row is estimated and undone (lens.py); the bars' back ends, centres
   and tips then fix a homography from the keyboard plane. Along it the fallboard edge and the white keys'
   front edge are measured; bars at the row's ends that turn out not to be black keys (a dark cheek block)
   are dropped and the plane measured again. The keys beyond the last fitted bars are checked one by one
   to find where the keyboard ends or leaves the frame (survey.py), both ends together preferring a size
   that is made. The ends found decide the octave (keys.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import survey
from .blobs import Bars, chains, pyramid_bars, towards_player
from .geometry import Key, KeyboardGeometry
from .keys import WHITE_CLASSES, black_pitch, black_x, decide_octave, is_black, key_span, white_index
from .lattice import LatticeFit, fit_lattice
from .lens import Lens, Projection, estimate_distortion

_WORK_SIZE = 1280  # px, longer side: 88 keys across it are still 10+ px per white key
_MAX_FRAMES = 25
#: Pyramid scales: each looks for bars 3-9 px wide, together 3-70 px at working size.
_LEVELS = (1.0, 2 / 3, 4 / 9, 0.3, 0.2, 0.13)
_MIN_BARS = 7  # fitted black keys: an octave and a half
_MIN_FITTED_FRACTION = 0.75  # of the row's bars: the rest must be few (hands' shadows, not stripes)
_MAX_RMS = 0.12  # white-key widths
_MIN_CONTRAST = 12.0  # grey levels between white and black keys
_MIN_CONFIDENCE = 0.3
_TRIES = 3  # best-scoring rows measured before giving up
_END_KEYS = 5  # fitted black keys nearest an end that give that end's tones
_MAX_TRIM = 2  # bars at each end of a row that may turn out not to be black keys (a cheek block, a shadow)
_TRIM_WIDTH_RATIO = np.log(1.25)  # ...if also this much wider or narrower than the black keys next to them
_BLACK_FAR_END = 0.4  # of a black key's length, from the fallboard
_LOWEST, _HIGHEST = 21, 108  # no keyboard reaches beyond the 88 keys' A0..C8


@dataclass(frozen=True)
class _Row:
    """A candidate row of black keys: its fitted bars (sorted by pitch) and their lattice indices."""

    bars: Bars
    index: np.ndarray
    lattice: LatticeFit
    fitted_fraction: float


def find_keyboard(frames: Sequence[np.ndarray]) -> KeyboardGeometry | None:
    """The keyboard in a clip, from RGB frames (H x W x 3 uint8, one size) spread over it; None if there
    is none. 10-30 frames let the median remove the hands; one frame works if the keys are mostly in view."""
    if len(frames) == 0:
        raise ValueError("find_keyboard needs at least one frame")
    height, width = frames[0].shape[:2]
    if any(frame.shape[:2] != (height, width) for frame in frames):
        raise ValueError("find_keyboard needs frames of one size")
    background, scale = _background(frames)
    rows = sorted(_rows(background), key=lambda row: row.lattice.score, reverse=True)
    for row in rows[:_TRIES]:
        geometry = _measure(background, row, scale, (width, height))
        if geometry is not None:
            return geometry
    return None


def _background(frames: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """Per-pixel median grey of up to 25 evenly spread frames at working size, and that size's scale."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), _MAX_FRAMES)).round().astype(int))
    height, width = frames[0].shape[:2]
    scale = min(1.0, _WORK_SIZE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    greys = []
    for pick in picks:
        grey = cv2.cvtColor(np.ascontiguousarray(frames[pick]), cv2.COLOR_RGB2GRAY)
        greys.append(cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if scale < 1 else grey)
    return np.median(np.stack(greys), axis=0).astype(np.float32), scale


def _rows(background: np.ndarray) -> list[_Row]:
    """Every plausible row of black keys with its lattice fit."""
    bars = pyramid_bars(np.clip(background + 0.5, 0, 255).astype(np.uint8), _LEVELS)
    rows = []
    for members in chains(bars, _MIN_BARS):
        row = bars.take(members)
        axes = towards_player(background, row)
        towards = axes.mean(axis=0)
        pitch_direction = np.array([towards[1], -towards[0]])  # player at the bottom: pitch rises to the right
        order = np.argsort(row.centres @ pitch_direction)
        row = Bars(row.centres[order], axes[order], row.lengths[order], row.widths[order])
        fit = fit_lattice(row.centres @ pitch_direction)
        if fit is None:
            continue
        fitted = fit.fitted
        if fitted.sum() >= _MIN_BARS and fitted.mean() >= _MIN_FITTED_FRACTION and fit.rms <= _MAX_RMS:
            rows.append(_Row(row.take(fitted), fit.index[fitted], fit, float(fitted.mean())))
    return rows


def _projection(row: _Row, size: tuple[int, int]) -> Projection | None:
    """Plane -> working pixels with y = 0 at the bars' back ends and 1 at their tips, through the lens."""
    x = np.array([black_x(int(i)) for i in row.index])
    lens = Lens(estimate_distortion(row.bars.centres, row.index, size), size)
    half = row.bars.axes * (row.bars.lengths / 2)[:, None]
    plane = np.concatenate([np.stack([x, np.full_like(x, y)], axis=1) for y in (0.0, 0.5, 1.0)])
    pixels = lens.undistort(np.concatenate([row.bars.centres - half, row.bars.centres, row.bars.centres + half]))
    threshold = max(2.0, 0.4 * float(np.median(row.bars.widths)))
    homography, _ = cv2.findHomography(plane, pixels, cv2.RANSAC, threshold)
    return None if homography is None else Projection(homography, lens)


def _measure(background: np.ndarray, row: _Row, scale: float, frame_size: tuple[int, int]
             ) -> KeyboardGeometry | None:
    """Measure a candidate row's keyboard: plane, edges, black-key size, ends, octave, keys."""
    height, width = background.shape
    for _ in range(2):  # measured again without the bars at the ends that turn out not to be black keys
        provisional = _projection(row, (width, height))
        if provisional is None:
            return None
        tones = survey.tones(background, provisional, row.index)
        if not tones.contrast >= _MIN_CONTRAST:
            return None
        depth, black_length = survey.depth_scale(background, provisional, row.index, tones)
        projection = provisional.then(depth)
        black_width = survey.black_width(background, projection, row.index, tones, black_length)
        trimmed = _trim(background, provisional, projection, row, black_length, black_width)
        if trimmed is row:
            break
        row = trimmed
    assert provisional is not None, "a pass without a projection has returned"
    # Each end is judged against the tones of its own last keys: light falls off across a keyboard.
    ends = []
    for indices, step in ((row.index[:_END_KEYS], -1), (row.index[-_END_KEYS:], 1)):
        end_tones = survey.tones(background, provisional, indices)
        start = black_pitch(int(indices[0] if step < 0 else indices[-1]))
        ends.append(survey.keyboard_end(background, projection, end_tones, start, step, black_length, black_width))
    lowest, highest = survey.standard_ends(*ends)
    low_seen, high_seen = ends[0].seen, ends[1].seen
    if low_seen and high_seen:
        centre = (lowest + highest) / 2
    else:
        x = projection.to_plane(np.array([[width / 2, height / 2]]))[0, 0]
        octave, white = divmod(int(np.floor(x)), 7)
        centre = 12.0 * octave + WHITE_CLASSES[white]
    decision = decide_octave(lowest, highest, low_seen, high_seen, centre, (ends[0].strength, ends[1].strength))
    lowest = max(lowest, _LOWEST - decision.reference)
    highest = min(highest, _HIGHEST - decision.reference)
    confidence = _confidence(background, projection, row, tones, lowest, highest, black_length, black_width)
    if confidence < _MIN_CONFIDENCE:
        return None
    # Plane x from the lowest white key, and frame pixels instead of working pixels.
    origin = white_index(lowest + is_black(lowest))  # a black key below it only where the frame cuts the keys
    shifted = projection.then(np.array([[1.0, 0, origin], [0, 1, 0], [0, 0, 1]]))
    half = 0.5 / scale - 0.5  # working pixel w is frame pixel (w + 0.5) / scale - 0.5
    to_working = np.array([[1 / scale, 0, half], [0, 1 / scale, half], [0, 0, 1]])
    to_frame = Projection(to_working @ shifted.homography, Lens(provisional.lens.k, frame_size))
    keys = _keys(to_frame, lowest, highest, origin, decision.reference, (low_seen, high_seen), black_length,
                 black_width)
    near, far = to_frame.to_pixels(np.array([[0.0, 1.0], [0.0, 0.0]]))[:, 1]
    return KeyboardGeometry(frame_size, to_frame.homography, to_frame.lens.k, keys, bool(near > far),
                            decision.confidence, decision.evidence, confidence)


def _trim(background: np.ndarray, provisional: Projection, projection: Projection, row: _Row, black_length: float,
          black_width: float) -> _Row:
    """The row without the bars at its ends that are not black keys (at most _MAX_TRIM per end).

    The dark cheek block or shadow beside a keyboard's last white key is a dark bar too, and the lattice
    may take it for the next black key, which would carry the keyboard past its end. Such a bar is unlike
    the black keys in both ways that can be seen: it is not framed by white keys, and it is wider or
    narrower than the black keys next to it (whose widths change only slowly along the row). Either alone
    is not enough: a hand or an end the plane is a little off at fails the first, noise at low resolution
    the second. The walk past the ends (survey.keyboard_end) looks at the places trimmed again.
    """
    pitches = np.array([black_pitch(int(i)) for i in row.index])
    keep = np.ones(len(pitches), bool)
    for end in (slice(None, _END_KEYS), slice(-_END_KEYS, None)):
        end_tones = survey.tones(background, provisional, row.index[end])
        _, looks = survey.looks_like_keys(background, projection, end_tones, pitches, black_length, black_width)
        order = np.arange(len(pitches)) if end.start is None else np.arange(len(pitches))[::-1]
        for step, i in enumerate(order[:_MAX_TRIM]):
            usual = np.median(row.bars.widths[order[step + 1:step + 1 + _END_KEYS]])
            if looks[i] or abs(np.log(row.bars.widths[i] / usual)) < _TRIM_WIDTH_RATIO:
                break
            keep[i] = False
    if keep.all() or keep.sum() < _MIN_BARS:
        return row
    return _Row(row.bars.take(keep), row.index[keep], row.lattice, row.fitted_fraction)


def _keys(to_frame: Projection, lowest: int, highest: int, origin: int, reference: int,
          ends_seen: tuple[bool, bool], black_length: float, black_width: float) -> tuple[Key, ...]:
    """Every key from relative pitch lowest to highest, outlined in frame pixels."""
    def quad(left: float, right: float, top: float, bottom: float) -> np.ndarray:
        corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]]) - [origin, 0]
        return to_frame.to_pixels(corners).astype(np.float32)

    def neighbour_exists(pitch: int) -> bool:  # beyond a visible end there are no keys; beyond the frame there are
        return (lowest <= pitch or not ends_seen[0]) and (pitch <= highest or not ends_seen[1])

    keys = []
    for pitch in range(lowest, highest + 1):
        left, right = key_span(pitch, black_width)
        if is_black(pitch):
            polygon = quad(left, right, 0.0, black_length)
            far_end = quad(left, right, 0.0, _BLACK_FAR_END * black_length)
        else:
            polygon = quad(left, right, 0.0, 1.0)
            below, above = (is_black(pitch + step) and neighbour_exists(pitch + step) for step in (-1, 1))
            inner_left = key_span(pitch - 1, black_width)[1] if below else left
            inner_right = key_span(pitch + 1, black_width)[0] if above else right
            far_end = quad(inner_left, inner_right, 0.0, black_length)
        centre = survey.key_centres(np.array([pitch]), black_length, black_width) - [origin, 0]
        keys.append(Key(pitch + reference, is_black(pitch), polygon, far_end,
                        to_frame.to_pixels(centre)[0].astype(np.float32)))
    return tuple(keys)


def _confidence(background: np.ndarray, projection: Projection, row: _Row, tones: survey.Tones, lowest: int,
                highest: int, black_length: float, black_width: float) -> float:
    """How sure this is a keyboard: the lattice fit's tightness, how much of the row it explains, the
    contrast, and how many keys between the ends look like keys (hands cover some)."""
    inside, looks = survey.looks_like_keys(background, projection, tones, np.arange(lowest, highest + 1),
                                           black_length, black_width)
    looks_fraction = float(looks[inside].mean()) if inside.any() else 0.0
    coverage = len(row.index) / int(row.index.max() - row.index.min() + 1)
    fit = max(0.0, 1 - row.lattice.rms / 0.2)
    return float(np.clip(min(1.0, tones.contrast / 40) * fit * min(1.0, coverage / 0.8)
                         * min(1.0, looks_fraction / 0.8) * row.fitted_fraction, 0.0, 1.0))
