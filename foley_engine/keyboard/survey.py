"""Measurements along the keyboard plane: the keys' tones, the fallboard and front edges, the black keys'
width, and where the keyboard ends.

All of them sample the grey background at keyboard-plane points through a lens.Projection, and take
medians over many keys, so that hands over a few keys, a gap line or a reflection do not move them.
Pitches here are relative to the reference C of the lattice (keys.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blobs import sample
from .keys import BLACK_LENGTH, BLACK_WIDTH, between_blacks, black_pitch, black_x, is_black, key_span
from .lens import Projection

#: A key's edge is where the grey leaves the key's own tone by this fraction of the white-black contrast.
_EDGE = 0.3
#: A white key beyond the fitted black keys must show an edge at its outer side at least this fraction as
#: strong as the typical line between two white keys - a light cheek block or body shows none.
_EDGE_FRACTION = 0.35
_MIN_LINE = 4.0  # grey levels: fainter lines between white keys are not used
#: Semitones to look beyond the outermost fitted black keys for the keyboard's end.
_WALK = 40


def plane_values(background: np.ndarray, projection: Projection, points: np.ndarray) -> np.ndarray:
    """Grey values at keyboard-plane points (..., 2); NaN outside the frame."""
    return sample(background, projection.to_pixels(points).reshape(-1, 2)).reshape(np.shape(points)[:-1])


def grid(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Points (len(ys), len(xs), 2) of every x with every y."""
    return np.stack(np.meshgrid(xs, ys), axis=-1)


@dataclass(frozen=True)
class Tones:
    """Grey levels of the white keys (between the black ones) and of the black keys."""

    white: float
    black: float

    @property
    def contrast(self) -> float:
        return self.white - self.black

    def whitish(self, values: np.ndarray) -> np.ndarray:
        near: np.ndarray = np.abs(values - self.white) < 0.35 * self.contrast
        return near

    def blackish(self, values: np.ndarray) -> np.ndarray:
        return values < self.black + 0.5 * self.contrast


def white_gaps(low: int, high: int) -> np.ndarray:
    """Plane x of the middles of the white keys' parts between black keys low..high (lattice indices)."""
    pitches = [pitch for pitch in range(black_pitch(low), black_pitch(high)) if not is_black(pitch)]
    return np.array([sum(between_blacks(pitch, BLACK_WIDTH)) / 2 for pitch in pitches])


def tones(background: np.ndarray, projection: Projection, indices: np.ndarray) -> Tones:
    """White and black grey levels sampled between and on the given black keys, halfway along them (y in
    the provisional plane of the black keys' length)."""
    gaps = white_gaps(int(indices.min()), int(indices.max()))
    centres = np.array([black_x(int(i)) for i in indices])
    spread, depths = np.array([-0.08, 0.0, 0.08]), np.array([0.3, 0.5, 0.7])
    white = np.nanmedian(plane_values(background, projection, grid((gaps[:, None] + spread).ravel(), depths)))
    black = np.nanmedian(plane_values(background, projection, grid((centres[:, None] + spread).ravel(), depths)))
    return Tones(float(white), float(black))


def _departure(values: np.ndarray, positions: np.ndarray, reference: float, tolerance: float) -> float | None:
    """First position where values leave reference +- tolerance (either way) for good - for three samples
    in a row, so a thin line is not an edge - linearly interpolated to where they cross; None if never."""
    away = np.abs(values - reference) > tolerance
    hits = np.flatnonzero(away[:-2] & away[1:-1] & away[2:])
    if len(hits) == 0 or hits[0] == 0:
        return None
    i = hits[0]
    level = reference + np.sign(values[i] - reference) * tolerance
    fraction = (values[i - 1] - level) / (values[i - 1] - values[i])
    return float(positions[i - 1] + fraction * (positions[i] - positions[i - 1]))


def depth_scale(background: np.ndarray, projection: Projection, indices: np.ndarray, key_tones: Tones
                ) -> tuple[np.ndarray, float]:
    """From the provisional plane (y = 0 at the black keys' back ends, 1 at their tips) to the final one
    (0 = the fallboard edge, 1 = the white keys' front edge), both edges measured along the keys.

    Returns that change of coordinates (final -> provisional) and the black keys' length in the final plane;
    nominal proportions where an edge is not seen.
    """
    low, high = int(indices.min()), int(indices.max())
    columns = np.arange(np.floor(black_x(low)), np.ceil(black_x(high))) + 0.5
    depths = np.arange(1.0, 2.6, 0.02)
    front_profile = np.nanmedian(plane_values(background, projection, grid(columns, depths)), axis=1)
    front = _departure(front_profile, depths, key_tones.white, _EDGE * key_tones.contrast)
    upwards = np.arange(0.5, -0.7, -0.02)
    back_profile = np.nanmedian(plane_values(background, projection, grid(white_gaps(low, high), upwards)), axis=1)
    fallboard = _departure(back_profile, upwards, key_tones.white, _EDGE * key_tones.contrast)
    if fallboard is None or fallboard < -0.4:  # a fallboard as light as the keys: where the black keys end
        black_profile = np.nanmedian(plane_values(background, projection, grid(
            np.array([black_x(int(i)) for i in indices]), upwards)), axis=1)
        fallboard = _departure(black_profile, upwards, key_tones.black, _EDGE * key_tones.contrast)
    fallboard = 0.0 if fallboard is None or not -0.4 <= fallboard <= 0.3 else fallboard
    if front is None or not 0.45 <= (1 - fallboard) / (front - fallboard) <= 0.8:
        front = fallboard + (1 - fallboard) / BLACK_LENGTH
    change = np.array([[1.0, 0, 0], [0, front - fallboard, fallboard], [0, 0, 1]])
    return change, (1 - fallboard) / (front - fallboard)


def black_width(background: np.ndarray, projection: Projection, indices: np.ndarray, key_tones: Tones,
                black_length: float) -> float:
    """Median width of the fitted black keys, measured across them halfway along, in white-key widths."""
    offsets = np.linspace(-0.6, 0.6, 61)
    middle = len(offsets) // 2
    centres = np.array([black_x(int(i)) for i in indices])
    points = np.stack([centres[:, None] + offsets, np.full((len(centres), len(offsets)), black_length / 2)], -1)
    dark = plane_values(background, projection, points) < (key_tones.white + key_tones.black) / 2
    widths = []
    for line in dark[dark[:, middle]]:
        left = middle - int(np.argmin(line[middle::-1])) if not line[:middle + 1].all() else 0
        right = middle + int(np.argmin(line[middle:])) if not line[middle:].all() else len(offsets)
        widths.append((right - left) * (offsets[1] - offsets[0]))
    width = float(np.median(widths)) if widths else BLACK_WIDTH
    return width if 0.4 <= width <= 0.75 else BLACK_WIDTH


def key_centres(pitches: np.ndarray, black_length: float, black_width: float) -> np.ndarray:
    """Plane centres (n, 2) of keys at relative pitches."""
    spans = np.array([key_span(int(pitch), black_width) for pitch in pitches])
    depth = np.where([is_black(int(pitch)) for pitch in pitches], black_length / 2, 0.5)
    return np.stack([spans.mean(axis=1), depth], axis=1)


def _key_regions(pitches: np.ndarray, black_length: float, black_width: float, back: bool) -> np.ndarray:
    """4 x 4 sample points (n, 16, 2) per key where it shows its colour: a white key's front part (beyond the
    black keys) and a black key's middle; or, if `back`, the strip next to the fallboard, which fingers
    rarely reach (a white key's part between its black neighbours there)."""
    regions = []
    front = np.linspace(black_length + 0.3 * (1 - black_length), 1 - 0.12 * (1 - black_length), 4)
    middle = np.linspace(0.3 * black_length, 0.7 * black_length, 4)
    strip = np.linspace(0.05 * black_length, 0.2 * black_length, 4)
    for pitch in pitches:
        left, right = between_blacks(int(pitch), black_width) if back else key_span(int(pitch), black_width)
        centre = (left + right) / 2
        if is_black(int(pitch)) or back:
            xs = np.linspace(centre - 0.12, centre + 0.12, 4)
            regions.append(grid(xs, strip if back else middle).reshape(16, 2))
        else:
            regions.append(grid(np.linspace(left + 0.25, right - 0.25, 4), front).reshape(16, 2))
    return np.array(regions)


def looks_like_keys(background: np.ndarray, projection: Projection, key_tones: Tones, pitches: np.ndarray,
                    black_length: float, black_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Per key: whether all of its sample regions are in the frame, and whether it looks like that key at the
    front or near the fallboard (a hand over the keys rarely covers both)."""
    blacks = np.array([is_black(int(pitch)) for pitch in pitches])
    inside, looks = np.ones(len(pitches), bool), np.zeros(len(pitches), bool)
    for back in (False, True):
        means = plane_values(background, projection, _key_regions(pitches, black_length, black_width, back))
        means = means.mean(axis=1)
        inside &= np.isfinite(means)  # NaN where any sample fell outside the frame
        looks |= np.where(blacks, key_tones.blackish(means), key_tones.whitish(means))
    return inside, inside & looks


def edges(background: np.ndarray, projection: Projection, boundaries: np.ndarray, black_length: float
          ) -> np.ndarray:
    """Strength (grey levels) of the edge at each plane x across the white keys' front part: a dark line
    (the gap between two white keys) or a step (the keyboard's end); ~0 on a plain surface."""
    offsets = np.linspace(-0.4, 0.4, 21)
    depths = np.linspace(black_length + 0.3 * (1 - black_length), 1 - 0.12 * (1 - black_length), 4)
    points = np.stack(np.broadcast_arrays(boundaries[:, None, None] + offsets, depths[None, :, None]), axis=-1)
    profiles = np.median(plane_values(background, projection, points), axis=1)  # (n, 21)
    left, right = profiles[:, 1:6].mean(axis=1), profiles[:, 15:20].mean(axis=1)
    line = np.minimum(left, right) - profiles[:, 7:14].min(axis=1)
    edges: np.ndarray = np.maximum(line, np.abs(left - right))
    return edges


def keyboard_end(background: np.ndarray, projection: Projection, key_tones: Tones, start: int, step: int,
                 black_length: float, black_width: float, line: float) -> tuple[int, bool]:
    """Where the keyboard ends beyond relative pitch `start` (its outermost fitted black key), going in
    direction `step` (+-1).

    Every key position beyond `start` that is in the frame scores +1 if it looks like its key and -1 if not
    (a white key must also show an edge on its outer side when the lines between white keys are visible,
    `line` being their typical strength, so a light cheek block is not a key). The end is the white key
    that best separates key-like positions before it from the rest (the nearer one on a tie), so keys under
    a hand with keys after them do not end the keyboard. Returns the outermost key and whether that end is
    in view; if the keys run out of the frame, the outermost key is the last whose centre is in it.
    """
    pitches = start + step * np.arange(1, _WALK + 1)
    inside, present = looks_like_keys(background, projection, key_tones, pitches, black_length, black_width)
    whites = np.array([not is_black(int(pitch)) for pitch in pitches])
    if line >= _MIN_LINE:
        outer = [key_span(int(pitch), black_width)[1 if step > 0 else 0] for pitch in pitches[whites]]
        present[whites] &= edges(background, projection, np.array(outer), black_length) >= _EDGE_FRACTION * line
    in_frame = int(np.argmin(inside)) if not inside.all() else len(pitches)
    evidence = np.cumsum(np.where(present, 1, -1)[:in_frame])
    if in_frame:
        score = np.where(whites[:in_frame], 2 * evidence - evidence[-1], -np.inf)
        end = int(np.argmax(score))
        if end < in_frame - 2:  # key positions in the frame beyond it, and they do not look like keys
            return int(pitches[end]), True
    centres = plane_values(background, projection, key_centres(pitches, black_length, black_width))
    outside = np.flatnonzero(~np.isfinite(centres))
    return int(pitches[outside[0] - 1]) if len(outside) and outside[0] > 0 else start, False
