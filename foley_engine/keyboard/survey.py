"""Measurements along the keyboard plane: the keys' tones, the fallboard and front edges, the black keys'
width, and where the keyboard ends.

All of them sample the grey background at keyboard-plane points through a lens.Projection, and take
medians over many keys, so that hands over a few keys, a gap line or a reflection do not move them.
Pitches here are relative to the reference C of the lattice (keys.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .blobs import sample
from .keys import BLACK_LENGTH, BLACK_WIDTH, LAYOUTS, between_blacks, black_pitch, black_x, is_black, key_span
from .lens import Projection

#: A key's front or back edge: the first change of the grey along the keys by this fraction of the
#: white-black contrast over 2 * _EDGE_SPAN samples (0.12 black-key lengths).
_EDGE = 0.05
_EDGE_SPAN = 3
#: Pitch classes keyboards end on (A0, E1, C2 at the low end; C8, G7, C7 at the high end), and how many keys'
#: worth of evidence ending on one of them is worth: a cheek block as light as the keys looks like one more
#: white key, but rarely one a keyboard ends on.
_LOW_ENDS = {layout.lowest % 12 for layout in LAYOUTS}
_HIGH_ENDS = {layout.highest % 12 for layout in LAYOUTS}
_USUAL_END = 2.5
#: How much worse (in the same units: 2 per key that looks otherwise) a pair of ends that spans a keyboard
#: size that is made may score than the best ends and still be preferred to them.
_LAYOUT_MARGIN = 4.0
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
        near: np.ndarray = np.abs(values - self.white) < 0.2 * self.contrast
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


def _first_edge(values: np.ndarray, positions: np.ndarray, contrast: float) -> float | None:
    """Where a profile that starts on a key first changes fastest, among changes of at least _EDGE of the
    white-black contrast over 2 * _EDGE_SPAN samples (a step to a key slip barely lighter than the keys
    counts; slow shading does not); None if there is no such change.

    The change over a span is flat while the span straddles a sharp step, so the edge is the middle of the
    change's peak, which is the step itself for sharp and blurred steps alike.
    """
    change = np.zeros_like(values)
    change[_EDGE_SPAN:-_EDGE_SPAN] = np.abs(values[2 * _EDGE_SPAN:] - values[:-2 * _EDGE_SPAN])
    change = np.nan_to_num(change)
    strong = np.flatnonzero(change >= _EDGE * contrast)
    if len(strong) == 0:
        return None
    rise = int(strong[0])
    while rise + 1 < len(change) and change[rise + 1] > change[rise]:
        rise += 1
    fall = rise
    while fall + 1 < len(change) and change[fall + 1] >= 0.95 * change[rise]:
        fall += 1
    return float(np.interp((rise + fall) / 2, np.arange(len(positions)), positions))


def depth_scale(background: np.ndarray, projection: Projection, indices: np.ndarray, key_tones: Tones
                ) -> tuple[np.ndarray, float]:
    """From the provisional plane (y = 0 at the bars' back ends, 1 at their tips) to the final one (0 = the
    fallboard edge, 1 = the white keys' front edge), with the black keys' length in the final plane.

    The edges are measured along the keys: the front down the white keys, the fallboard up the white keys
    between the black ones (or, on a fallboard as light as the keys, up the black keys), the black keys'
    tips down the black keys; nominal proportions stand in for an edge that is not seen.
    """
    low, high = int(indices.min()), int(indices.max())
    blacks = np.array([black_x(int(i)) for i in indices])

    def edge(columns: np.ndarray, depths: np.ndarray) -> float | None:
        profile = np.nanmedian(plane_values(background, projection, grid(columns, depths)), axis=1)
        return _first_edge(profile, depths, key_tones.contrast)

    upwards = np.arange(0.5, -0.7, -0.02)
    fallboard = edge(white_gaps(low, high), upwards)
    if fallboard is None or fallboard < -0.4:
        fallboard = edge(blacks, upwards)
    fallboard = 0.0 if fallboard is None or not -0.4 <= fallboard <= 0.3 else fallboard
    tip = edge(blacks, np.arange(0.5, 1.5, 0.02))
    tip = 1.0 if tip is None or not 0.7 <= tip <= 1.3 else tip
    front = edge(np.arange(np.floor(black_x(low)), np.ceil(black_x(high))) + 0.5, np.arange(tip + 0.1, 2.6, 0.02))
    black_length = (tip - fallboard) / (front - fallboard) if front is not None else 0.0
    if not 0.45 <= black_length <= 0.8:
        black_length = BLACK_LENGTH
        front = fallboard + (tip - fallboard) / BLACK_LENGTH
    assert front is not None, "no front gives a black length of 0, which the line above replaces"
    return np.array([[1.0, 0, 0], [0, front - fallboard, fallboard], [0, 0, 1]]), black_length


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
    depths = np.linspace(0.05, 0.2, 4) if back else np.linspace(0.3, 0.7, 4)
    for pitch in pitches:
        left, right = between_blacks(int(pitch), black_width) if back else key_span(int(pitch), black_width)
        centre = (left + right) / 2
        if is_black(int(pitch)) or back:
            regions.append(grid(np.linspace(centre - 0.12, centre + 0.12, 4), depths * black_length).reshape(16, 2))
        else:
            regions.append(grid(np.linspace(left + 0.25, right - 0.25, 4), front).reshape(16, 2))
    return np.array(regions)


def _beside_blacks(pitches: np.ndarray, black_width: float, black_length: float, back: bool) -> np.ndarray:
    """Sample points (n, 8, 2) on the white keys just left and right of each key, at a black key's depth."""
    depths = (np.linspace(0.05, 0.2, 2) if back else np.linspace(0.3, 0.7, 2)) * black_length
    points = []
    for pitch in pitches:
        left, right = key_span(int(pitch), black_width)
        xs = np.array([left - 0.3, left - 0.15, right + 0.15, right + 0.3])
        points.append(grid(xs, depths).reshape(8, 2))
    return np.array(points)


def _partial(values: np.ndarray, statistic: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row of samples: `statistic` (np.nanmean, np.nanmedian) of those in the frame, and whether at least
    half of them are (NaN where not)."""
    enough = np.isfinite(values).mean(axis=1) >= 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows wholly outside the frame
        return np.where(enough, statistic(values, axis=1), np.nan), enough


def looks_like_keys(background: np.ndarray, projection: Projection, key_tones: Tones, pitches: np.ndarray,
                    black_length: float, black_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Per key: whether it is in the frame (at least half of each of its sample regions), and whether it
    looks like that key at the front or near the fallboard (a hand over the keys rarely covers both). A
    black key must also have white on both sides: a dark cheek block or shadow is not a row of black keys.
    Half a key is enough where the frame's edge runs across the keys at a slant and cuts the black keys'
    regions before the white keys' fronts, or the other way round."""
    inside, looks, _ = _key_evidence(background, projection, key_tones, pitches, black_length, black_width)
    return inside, looks


def _key_evidence(background: np.ndarray, projection: Projection, key_tones: Tones, pitches: np.ndarray,
                  black_length: float, black_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """looks_like_keys, and per key whether all its regions are as light as a white key."""
    blacks = np.array([is_black(int(pitch)) for pitch in pitches])
    inside, looks, light = np.ones(len(pitches), bool), np.zeros(len(pitches), bool), np.ones(len(pitches), bool)
    for back in (False, True):
        means, enough = _partial(plane_values(background, projection,
                                              _key_regions(pitches, black_length, black_width, back)), np.nanmean)
        beside = plane_values(background, projection, _beside_blacks(pitches, black_width, black_length, back))
        framed = (key_tones.whitish(_partial(beside[:, :4], np.nanmedian)[0])
                  & key_tones.whitish(_partial(beside[:, 4:], np.nanmedian)[0]))
        inside &= enough
        looks |= np.where(blacks, key_tones.blackish(means) & framed, key_tones.whitish(means))
        light &= key_tones.whitish(means)
    return inside, inside & looks, inside & light


@dataclass(frozen=True)
class End:
    """One end of the keyboard: its outermost key (relative pitch), whether that end is in view (else the keys
    run out of the frame there), and for an end in view every white key it could be with its score."""

    pitch: int
    seen: bool
    candidates: dict[int, float]

    @property
    def strength(self) -> float:
        """How clearly the end is seen: its score (0 for an end out of view)."""
        return self.candidates.get(self.pitch, 0.0)


def keyboard_end(background: np.ndarray, projection: Projection, key_tones: Tones, start: int, step: int,
                 black_length: float, black_width: float) -> End:
    """Where the keyboard ends beyond relative pitch `start` (its outermost fitted black key), going in
    direction `step` (+-1).

    Every key position beyond `start` that is in the frame scores +1 if it looks like its key at its front
    or near the fallboard, and -1 if not. A white key's score as the end is how well it separates key-like
    positions before it from the rest (twice the evidence up to it minus all of it), with a bonus for the
    notes keyboards end on; the best one is the end (the nearer one on a tie), so keys under a hand with
    keys after them do not end the keyboard. If the keys run out of the frame instead, the outermost key
    is the last whose centre is in it.
    """
    pitches = start + step * np.arange(1, _WALK + 1)
    inside, present, light = _key_evidence(background, projection, key_tones, pitches, black_length, black_width)
    whites = np.array([not is_black(int(pitch)) for pitch in pitches])
    # A white key next to a black one (on the side the walk comes from) is no key where that black key's
    # place is as light as the keys: a plain light surface beyond the keyboard's end has no 2-3 pattern.
    # (Where the place is dark but no clean black key - a shadow, a hand - the white key counts on its own.)
    after_black = np.flatnonzero(whites[1:] & ~whites[:-1]) + 1
    present[after_black] &= ~light[after_black - 1]
    in_frame = int(np.argmin(inside)) if not inside.all() else len(pitches)
    evidence = np.cumsum(np.where(present, 1, -1)[:in_frame])
    if in_frame:
        usual = np.isin(pitches[:in_frame] % 12, list(_HIGH_ENDS if step > 0 else _LOW_ENDS))
        score = np.where(whites[:in_frame], 2 * evidence - evidence[-1] + _USUAL_END * usual, -np.inf)
        end = int(np.argmax(score))
        if end < in_frame - 2:  # key positions in the frame beyond it, and they do not look like keys
            candidates = {int(pitch): float(value) for pitch, value in zip(pitches[:in_frame], score, strict=True)
                          if np.isfinite(value)}
            return End(int(pitches[end]), True, candidates)
    centres = plane_values(background, projection, key_centres(pitches, black_length, black_width))
    outside = np.flatnonzero(~np.isfinite(centres))
    return End(int(pitches[outside[0] - 1]) if len(outside) and outside[0] > 0 else start, False, {})


def standard_ends(low: End, high: End) -> tuple[int, int]:
    """The ends of a keyboard with both ends in view, as a size that is made where the evidence allows.

    Each end alone can be misled by one key's worth of evidence (a cheek block as light as the keys, a
    shadow); both ends together must span one of the LAYOUTS. So when the best ends do not, the best pair
    that does is taken if it scores at most _LAYOUT_MARGIN below them; otherwise the best ends stand (a size
    not in LAYOUTS, or keys hidden at an end).
    """
    best = (low.pitch, high.pitch)
    if not (low.seen and high.seen):
        return best
    best_score = low.candidates[low.pitch] + high.candidates[high.pitch]
    pairs = [(low.candidates[pitch] + high.candidates[pitch + layout.keys - 1], (pitch, pitch + layout.keys - 1))
             for layout in LAYOUTS for pitch in low.candidates
             if pitch % 12 == layout.lowest % 12 and pitch + layout.keys - 1 in high.candidates]
    if not pairs or best in [ends for _, ends in pairs]:
        return best
    score, ends = max(pairs)
    return ends if score >= best_score - _LAYOUT_MARGIN else best
