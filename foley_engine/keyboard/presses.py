"""How much each key looks pressed in each frame, read from the pixels of the keys themselves.

Seen from above, a key going down hardly changes its own brightness, but its edges do: the key drops below
its neighbours, so the gaps beside it open and the neighbours' side walls show. Those are thin lines along
the key's length, at the key's two edges in the black-key zone near the fallboard, where a finger rarely lies:
a white key's edges there are the sides of its black neighbours (or the gap to a white neighbour, for C, E, F
and B), a black key's are its own sides. So the keyboard plane (perspective and rotation undone by the
geometry's homography) is sampled in narrow windows around every such edge, row by row along the zone, and
an edge's evidence in a frame is how far its pixels are from their usual look - the per-pixel median over the
surrounding seconds (a key is up most of the time; a moving reference follows slow changes of light and
camera). Rows are combined by a low quantile: a press moves the edge along the whole zone, while a finger, a
shadow or a reflection covers only part of it. A key's evidence is the mean of its two edges' (a neighbour
shares one edge, not both); changes every key shares in a frame (light, exposure, camera shake) are taken out,
and each key's evidence is scaled by its own noise.

The walls are vertical, so a camera sees them only as far as it looks across the keys: the white keys right
under it (view.py: walls seen under FAINT_WALL_PIXELS wide) show a press barely or not at all at their edges.
Those are read from their own top too, which darkens a little as it tilts down, away from the light (on the
shared top-down clip about 1.5 grey levels, enough at the median of the zone's rows). A hand's shadow darkens a
top as well, but it falls on the neighbours alike, so a top counts by how much darker it got than the darker of
its two white neighbours' tops, in units of its noise on the side no hand, shadow or press moves it to (the
brighter side). Such a key's evidence is the larger of its edges' and its top's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..pose.bands import BandRows, BandSampler
from ..video import Frame
from .geometry import KeyboardGeometry
from .view import wall_pixels

#: The sampled zone of the keyboard plane: from just behind the fallboard edge to well inside the black-key
#: zone (y = 0 at the fallboard, 1 at the player's edge of the white keys), and its rows along the keys.
ZONE = (0.05, 0.55)
ZONE_ROWS = 20
#: Samples per white-key width across, and how far an edge's window reaches to each side (white-key widths).
SAMPLES_PER_WHITE = 12
EDGE_REACH = 0.15
#: The quantile (percent) of an edge's rows that is its evidence: most rows must change, not a few.
ROW_QUANTILE = 20
#: The usual look of every pixel is its median over this many seconds around the frame (the range's first or last
#: as many near its ends), updated this often from about REFERENCE_SAMPLES frames spread over them. A key held
#: down for more than half of that window is missed (its usual look is then the pressed one), so the window is
#: long: 12 s missed a chord held for 8 s under a melody, 24 s reads it. Over the whole shared clip it read
#: 0.849 / 0.806 onset / note F1 instead of 0.837 / 0.779, and over thirteen steady copies of it (other rooms,
#: exposures, bitrates, views) +0.004 / +0.016 on average (from -0.04 to +0.04 in onsets), except where the
#: camera moved: keys followed through a camera's motion (follow.py) change their look with what the fit leaves,
#: and keep MOVING_REFERENCE_SECONDS (a slow zoom's copy lost 0.05 / 0.12 with 24).
REFERENCE_SECONDS = 24.0
MOVING_REFERENCE_SECONDS = 12.0
REFERENCE_UPDATE_SECONDS = 2.0
REFERENCE_SAMPLES = 180
#: A camera's automatic exposure brightens and darkens the whole picture as hands come and go: every frame is
#: first brought to its usual look's exposure, the gain read on the white keys as the median over EXPOSURE_PARTS
#: stretches along the keyboard of each stretch's median brightness ratio (a hand and its shadow darken a few
#: stretches, the exposure all of them). On a copy of the shared clip whose exposure breathes by 3 % (8 %) the
#: keys read 0.65 (0.45) onset F1 over 8-20 s without it, 0.83 (0.78) with it, the steady clip the same.
EXPOSURE_PARTS = 20
#: A hand's shadow (a lamp or a window behind the player) dims the keys under it by a tenth to a third, which at
#: an edge is a change ten times a press's. Each row of an edge's window whose mean brightness moved from its usual
#: look by more than this share (after the exposure) is compared at its own brightness: a press moves a window's
#: mean by less (a median of 3 % on the shared clip's pressed keys), a shadow by more. On a copy of the shared clip
#: with hands' shadows 35 % deep cast towards the fallboard the keys read 0.50 / 0.19 onset / note F1 over 8-20 s
#: before, 0.70 / 0.56 with it; the clip itself and its other copies within +-0.04 of what they read before.
SHADE_CHANGE = 0.07
#: A key's noise is its evidence's median absolute deviation, but never below this share of the keys' contrast
#: (an idle key's MAD is tiny). The contrast is the spread of the band's usual look from its 5th to its 95th
#: percentile (black keys to white ones): a dimmer exposure shrinks every change and every key's noise alike, and a
#: floor in grey levels would then grow against them (a copy of the shared clip at half its contrast read 0.62 /
#: 0.62 over 8-20 s with a floor of 0.5 grey levels, 0.72 / 0.65 with this one, which is 0.5 on the clip itself).
MIN_NOISE_SHARE = 0.003
#: White keys whose walls a press bares are seen narrower than this (pixels, view.wall_pixels) are read from
#: their top as well: on the shared clip C4 (0.07 px) showed only half of its presses at its edges.
FAINT_WALL_PIXELS = 0.1
#: A white key's top is sampled between its black neighbours this far (white-key widths) inside their edges.
TOP_INSET = 0.08
#: The noise of a top's darkening is never taken below this share of the keys' contrast (0.2 grey levels on the
#: shared clip: the median of whole grey levels).
MIN_TOP_NOISE_SHARE = 0.0012
#: Every this many frames' band is taken for the contrast's usual look.
CONTRAST_STRIDE = 10

Progress = Callable[[float], None]


@dataclass(frozen=True)
class KeyEvidence:
    """Press evidence per frame and key: `evidence[t, k]` for the key of pitch `pitches[k]` at `times[t]`,
    in units of that key's own noise (0 = its usual look). `both_edges` is the mean of the key's two edges'
    change, each in units of its own edge's noise: of two neighbours sharing an edge, the pressed one moved
    both of its edges, and a key whose other edge is often crossed by a resting hand is not the weaker for it
    (what decides between them when no fingertip can; None: use `evidence`)."""

    times: np.ndarray  # (T,) seconds, video clock
    pitches: np.ndarray  # (K,) MIDI pitch of every key, in geometry order
    evidence: np.ndarray  # (T, K) float32
    both_edges: np.ndarray | None = None  # (T, K) float32


@dataclass(frozen=True)
class KeyBand:
    """The windows around every key edge and over some white keys' tops (a BandSampler the pose workers can run
    on the frames they decode: ZONE_ROWS rows of `columns` samples each, flattened), which columns belong to
    which edge and top, which two edges belong to each key, and which keys are also read from their top."""

    sampler: BandSampler
    windows: np.ndarray  # (E, 2) first and last+1 column of every edge's window
    key_edges: np.ndarray  # (K, 2) the left and right edge of every key, indices into windows
    pitches: np.ndarray  # (K,) MIDI pitch of every key, in geometry order
    tops: np.ndarray  # (N, 2) first and last+1 column of every top sampled (after the edges' columns)
    #: (M, 4) every key read from its top: its index, then its own, its left and its right white neighbour's top
    #: (indices into tops)
    top_keys: np.ndarray

    @property
    def columns(self) -> int:
        return int(self.sampler.map_x.shape[1])


def key_band(geometry: KeyboardGeometry) -> KeyBand:
    """The windows around every key's edges in the black-key zone, and over the tops of the white keys whose
    walls the camera hardly sees and of their white neighbours, in frames of the size it was found at."""
    far = geometry.to_plane(np.concatenate([key.far_end for key in geometry.keys])).reshape(-1, 4, 2)[..., 0]
    sides = np.stack([far.min(axis=1), far.max(axis=1)], axis=1)  # (K, 2) plane x of each key's two edges
    edges, key_edges = np.unique(np.round(sides, 3), return_inverse=True)  # neighbours share an edge
    samples = int(np.ceil(2 * EDGE_REACH * SAMPLES_PER_WHITE))
    offsets = (np.arange(samples) + 0.5) / SAMPLES_PER_WHITE - EDGE_REACH
    u = list((edges[:, None] + offsets[None, :]).reshape(-1))
    windows = np.stack([np.arange(len(edges)) * samples, (np.arange(len(edges)) + 1) * samples], axis=1)
    top_keys, top_windows = _top_keys(geometry), {}
    for key in sorted({key for keys in top_keys for key in keys}):
        count = max(1, int((sides[key, 1] - sides[key, 0] - 2 * TOP_INSET) * SAMPLES_PER_WHITE))
        across = sides[key].mean() + (np.arange(count) + 0.5 - count / 2) / SAMPLES_PER_WHITE
        top_windows[key] = (len(u), len(u) + len(across))
        u.extend(across)
    v = ZONE[0] + (np.arange(ZONE_ROWS) + 0.5) / ZONE_ROWS * (ZONE[1] - ZONE[0])
    grid = np.stack(np.meshgrid(np.array(u), v), axis=-1).reshape(-1, 2)
    pixels = geometry.to_frame(grid).reshape(ZONE_ROWS, len(u), 2).astype(np.float32)
    sampler = BandSampler(np.ascontiguousarray(pixels[..., 0]), np.ascontiguousarray(pixels[..., 1]),
                          geometry.frame_size)
    order = list(top_windows)
    return KeyBand(sampler, windows, key_edges.reshape(-1, 2),
                   np.array([key.pitch for key in geometry.keys], np.int16),
                   np.array([top_windows[key] for key in order], np.int64).reshape(-1, 2),
                   np.array([[keys[0]] + [order.index(key) for key in keys] for keys in top_keys],
                            np.int64).reshape(-1, 4))


def _top_keys(geometry: KeyboardGeometry) -> list[tuple[int, int, int]]:
    """(key, left white neighbour, right white neighbour) for every white key whose walls are seen narrower than
    FAINT_WALL_PIXELS and whose white neighbours are both on the keyboard found."""
    whites = [index for index, key in enumerate(geometry.keys) if not key.black]
    faint = wall_pixels(geometry) < FAINT_WALL_PIXELS
    return [(whites[at], whites[at - 1], whites[at + 1]) for at in range(1, len(whites) - 1) if faint[whites[at]]]


def band_rows(frames: Iterable[Frame], band: KeyBand) -> BandRows:
    """The band of every frame, read from decoded frames (when the pose workers did not sample it).

    Frames must be of the size the geometry was found at."""
    times, rows = [], []
    for frame in frames:
        row = band.sampler.sample(frame.image)
        if row is None:
            raise ValueError(f"frame of {frame.image.shape[1]}x{frame.image.shape[0]} for a keyboard found in "
                             f"{band.sampler.frame_size[0]}x{band.sampler.frame_size[1]} frames")
        rows.append(row)
        times.append(frame.time)
    return BandRows(np.array(times, np.float64), np.array(rows, np.uint8).reshape(len(times), band.sampler.width))


def changes(rows: BandRows, band: KeyBand, seconds: float = REFERENCE_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """How every edge's pixels differ from their usual look in each frame, (T, E) (a low quantile over the
    zone's rows of each window's mean absolute change, a shadow taken out: _unshaded), and how much darker every
    sampled top got, (T, N) (the median over the rows of each window's mean darkening), a few seconds at a time
    (memory stays that of the uint8 band however long the clip).

    The usual look is every pixel's median over `seconds` around the frame (as many at the range's ends),
    recomputed every REFERENCE_UPDATE_SECONDS: what the keys look like while up, following slow changes of
    light; each frame is compared with it at the same exposure (_exposure)."""
    times = rows.times
    pixels = rows.rows.reshape(len(times), ZONE_ROWS, band.columns)
    edges = np.zeros((len(times), len(band.windows)), np.float32)
    tops = np.zeros((len(times), len(band.tops)), np.float32)
    for centre in np.arange(times[0], times[-1] + REFERENCE_UPDATE_SECONDS, REFERENCE_UPDATE_SECONDS):
        these = np.flatnonzero((times >= centre - REFERENCE_UPDATE_SECONDS / 2)
                               & (times < centre + REFERENCE_UPDATE_SECONDS / 2))
        if not len(these):
            continue
        # The window keeps its length at the range's ends (a chord held for the last 4 s of a clip is down for a
        # third of the last 12 s, but for two thirds of 6 s, had the window been cut at the end).
        first = min(max(centre - seconds / 2, times[0]), max(times[-1] - seconds, times[0]))
        around = (times >= first) & (times < first + seconds)
        taken = np.flatnonzero(around)
        usual = np.median(pixels[taken[::max(1, len(taken) // REFERENCE_SAMPLES)]], axis=0).astype(np.float32)
        now = pixels[these].astype(np.float32)
        now /= _exposure(now, usual, int(band.windows[-1][1]))[:, None, None]
        per_row = np.stack([np.abs(usual[:, a:b] - _unshaded(now[:, :, a:b], usual[:, a:b])).mean(axis=2)
                            for a, b in band.windows], axis=2)
        edges[these] = np.percentile(per_row, ROW_QUANTILE, axis=1)
        if len(band.tops):
            darker = usual - now
            tops[these] = np.median(np.stack([darker[:, :, a:b].mean(axis=2) for a, b in band.tops], axis=2), axis=1)
    return edges, tops


def _unshaded(now: np.ndarray, usual: np.ndarray) -> np.ndarray:
    """One edge's window in frames `now` (n, rows, w), each row brought back to its usual brightness (`usual`,
    (rows, w)) where it changed by more than SHADE_CHANGE: a shadow (or light) over it, not a press."""
    gain = now.mean(axis=2) / np.maximum(usual.mean(axis=1), 1.0)
    gain = np.where(np.abs(gain - 1) > SHADE_CHANGE, gain, 1.0)
    unshaded: np.ndarray = now / gain[..., None]
    return unshaded


def _exposure(now: np.ndarray, usual: np.ndarray, columns: int) -> np.ndarray:
    """(n,) each frame's exposure against the usual look's, from `now` (n, rows, C) and `usual` (rows, C): over
    the first `columns` columns (the edges' windows, in keyboard order) cut into EXPOSURE_PARTS stretches, the
    median over stretches of each stretch's median ratio of now to usual on its white samples (brighter than
    halfway between the band's 5th and 95th percentiles)."""
    low, high = np.percentile(usual, [5, 95])
    ratios = []
    for part in np.array_split(np.arange(columns), EXPOSURE_PARTS):
        white = usual[:, part] >= (low + high) / 2
        if white.any():
            ratios.append(np.median(now[:, :, part][:, white] / usual[:, part][white], axis=1))
    if not ratios:
        return np.ones(len(now), np.float32)
    gains: np.ndarray = np.median(np.stack(ratios, axis=1), axis=1)
    return np.where(gains > 0, gains, 1.0).astype(np.float32)


def press_evidence(rows: BandRows, band: KeyBand, moving: bool = False) -> KeyEvidence:
    """How pressed every key looks in every frame (see the module's docstring); `moving`: the band was followed
    through a camera's motion (MOVING_REFERENCE_SECONDS)."""
    times, pitches = rows.times, band.pitches
    if len(times) == 0:
        return KeyEvidence(times, pitches, np.zeros((0, len(pitches)), np.float32))
    edges, tops = changes(rows, band, MOVING_REFERENCE_SECONDS if moving else REFERENCE_SECONDS)
    contrast = keys_contrast(rows)
    raw = edges[:, band.key_edges].mean(axis=2)
    raw -= np.median(raw, axis=1, keepdims=True)  # what every key shares in a frame is not a press
    edges -= np.median(edges, axis=1, keepdims=True)  # ... nor what every edge shares
    both = _standardised(edges, MIN_NOISE_SHARE * contrast)[:, band.key_edges].mean(axis=2)
    evidence = _standardised(raw, MIN_NOISE_SHARE * contrast)
    if len(band.top_keys):
        keys, own, left, right = band.top_keys.T
        darker = tops[:, own] - np.maximum(tops[:, left], tops[:, right])
        evidence[:, keys] = np.maximum(evidence[:, keys], _darker_in_noise(darker, MIN_TOP_NOISE_SHARE * contrast))
    return KeyEvidence(times, pitches, evidence.astype(np.float32), both.astype(np.float32))


def keys_contrast(rows: BandRows) -> float:
    """The keys' contrast in grey levels: the band's usual look (its median over the clip) from its 5th to its 95th
    percentile, black keys to white ones."""
    usual = np.median(rows.rows[::CONTRAST_STRIDE], axis=0)
    low, high = np.percentile(usual, [5, 95])
    return max(float(high - low), 1.0)


def _darker_in_noise(darker: np.ndarray, floor: float) -> np.ndarray:
    """(T, N) darkening, minus each column's median, in units of its noise on its brighter side (what a hand, a
    shadow or a press never does to a white key's top), at least `floor`: the median distance below the
    median, which is the median's distance from the lower quartile, scaled as a normal spread."""
    centre = np.median(darker, axis=0)
    noise = np.maximum((centre - np.percentile(darker, 25, axis=0)) * 1.4826, floor)
    scaled: np.ndarray = (darker - centre) / noise
    return scaled


def _standardised(values: np.ndarray, floor: float) -> np.ndarray:
    """(T, N) every column minus its median, in units of its noise (median absolute deviation, >= `floor`)."""
    centre = np.median(values, axis=0)
    noise = np.maximum(np.median(np.abs(values - centre), axis=0) * 1.4826, floor)
    scaled: np.ndarray = (values - centre) / noise
    return scaled
