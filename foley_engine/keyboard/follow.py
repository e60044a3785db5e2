"""A camera that moves: follow the keyboard from frame to frame, so its band is sampled on the keys wherever they are.

A press is a change of a grey level or two at an edge a pixel wide (presses.py), so the band is sampled where
the key map says the keys are. A camera that sways, is bumped or is held by hand moves the keys by a pixel or
more, and every edge's change is then the camera's, not a press's: on a copy of the shared clip swaying by
±1 px (at 640 wide) the keys read 0.19 onset F1 over 8-20 s. The band sampled where the pose workers sampled it
shows that at once: every key edge changes together, by a tenth of the keys' contrast or more, where a steady
camera's keys differ from their usual look by less than a hundredth (`camera_moved`). Only then are the frames
decoded again: how each frame moved against one reference frame is measured on the keyboard itself (a Lucas-
Kanade fit of a shift, a small turn and zoom, and a gain and offset for the exposure, on the image gradients
around the black keys' far ends and the fallboard; a hand or its shadow, which matches no motion, is weighed
out), the motions are smoothed over a few frames either side, and the band is sampled where they moved it
(`followed_rows`); the fingertips are moved back by them (`steadied`), and the preview and the panel draw the key
map where they took it (`CameraMotion.moved`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..keypoints import Keypoints
from ..outputs import atomic_output
from ..pose.bands import BandRows
from ..video import Frame
from .geometry import KeyboardGeometry
from .presses import KeyBand, changes, key_band, keys_contrast

#: The camera is taken to have moved when, over some MOVED_SECONDS, the median over all key edges of their change
#: from the usual look exceeds this share of the keys' contrast in at least half the frames (a steady camera's:
#: under 0.015 on every copy of the shared clip tried, rooms, exposures and bitrates alike; swaying by ±0.5 px:
#: 0.05 and more). A stretch, not a share of the whole range: a camera bumped once in a long take moves the keys
#: for the rest of it, and its band shows that only while the usual look catches up (presses.REFERENCE_SECONDS).
MOVED_CHANGE = 0.03
MOVED_SECONDS = 2.0
#: Every this many frames' band is looked at to decide whether the camera moved.
MOVED_STRIDE = 3
#: Where the motion is measured: the keyboard plane between these depths (0 = the fallboard edge, 1 = the player's
#: edge of the white keys; the far ends of the black keys and the fallboard edge, which fingers seldom cover),
#: sampled this many times per white-key width across and in this many rows.
ANCHOR_DEPTH = (-0.15, 0.45)
ANCHOR_PER_WHITE = 6
ANCHOR_ROWS = 12
#: Gauss-Newton steps of the motion's fit per frame and blur, and the Tukey weight's reach (residuals' spreads).
FIT_STEPS = 4
TUKEY_REACH = 4.0
#: Frames either side over which the motions are smoothed (a running median, then a running mean).
SMOOTH_FRAMES = 2
#: The frames are blurred by a Gaussian this wide (pixels) before the shift is measured and the band sampled: the
#: fit's gradients then reach across a pixel's shift, and a line a pixel wide looks the same at every fraction of
#: a pixel it is sampled at (with a shift-only fit, copies of the shared clip swaying by ±0.5 to ±3 px read 0.52-0.57
#: onset F1 over 8-20 s without it, 0.70-0.73 with it).
BLUR_PIXELS = 0.8
#: ... and first by this much, so that the fit's gradients reach across a jump of a few pixels between frames.
COARSE_BLUR_PIXELS = 3.0
#: Samples closer than this to the frame's border (pixels) are not used: a shift would take them outside.
BORDER = 6
#: Followed bands are cached under a name with this number: a change to how the keys are followed changes it.
FOLLOW_VERSION = 2
#: Fewer anchor samples in the frame than this (the fallboard's side of the keys cut off by the frame) cannot
#: carry the fit: the camera is then not followed.
MIN_ANCHOR_POINTS = 200


def camera_moved(rows: BandRows, band: KeyBand) -> bool:
    """Whether the band the pose workers sampled shows a camera that moved (see MOVED_CHANGE)."""
    if len(rows.times) < 2 * MOVED_STRIDE:
        return False
    sparse = BandRows(rows.times[::MOVED_STRIDE], rows.rows[::MOVED_STRIDE])
    edges, _ = changes(sparse, band)
    common = np.median(edges, axis=1) / keys_contrast(rows)
    rate = (len(sparse.times) - 1) / max(float(sparse.times[-1] - sparse.times[0]), 1e-6)
    stretch = int(np.clip(round(MOVED_SECONDS * rate), 1, len(common)))
    typical = np.median(np.lib.stride_tricks.sliding_window_view(common, stretch), axis=1)
    return bool(typical.max() > MOVED_CHANGE)


class MotionFit:
    """Measures how a frame moved against a reference frame, on the keyboard's anchor zone (ANCHOR_DEPTH).

    The motion is a similarity about the anchor's centre c, four numbers (x, y, a, b): a point p of the reference
    is at p + (x, y) + [[a, -b], [b, a]] (p - c) in the frame (a camera panned, tilted, bumped, turned a little
    about its axis or moved closer; in pixels of the frame). A frame's grey level there is modelled as gain *
    reference(p) + offset (the exposure). Points whose residual is far from the rest (a hand, its shadow, a key
    going down) weigh nothing (Tukey's biweight)."""

    def __init__(self, points: np.ndarray, reference: np.ndarray) -> None:
        """`points` (N, 2): the anchor zone's samples in the frame (anchor_points), `reference` an RGB frame."""
        self.points = points
        self.centre = points.mean(axis=0)
        across, down = (self.points - self.centre).T
        self.levels = []
        for blur in (COARSE_BLUR_PIXELS, BLUR_PIXELS):
            grey = _grey(reference, blur)
            gradient = np.stack([_at(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8, self.points),
                                 _at(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8, self.points)], axis=1)
            # How the grey level at each point changes with each of the four numbers (the frame's gradient
            # there is taken as the reference's: they differ by the motion).
            jacobian = np.column_stack([gradient[:, 0], gradient[:, 1],
                                        gradient[:, 0] * across + gradient[:, 1] * down,
                                        -gradient[:, 0] * down + gradient[:, 1] * across])
            self.levels.append((blur, _at(grey, self.points), jacobian))

    def motion(self, image: np.ndarray, start: np.ndarray) -> np.ndarray:
        """(4,) the motion of `image` (RGB) against the reference, fitted from `start`: first on the frames blurred
        by COARSE_BLUR_PIXELS (a jump of a few pixels from the last frame's motion is still caught), then by
        BLUR_PIXELS (to a few hundredths of a pixel)."""
        motion = start.astype(np.float64)
        for blur, reference, jacobian in self.levels:
            motion = self._fitted(_grey(image, blur), reference, jacobian, motion)
        return motion

    def _fitted(self, grey: np.ndarray, reference: np.ndarray, jacobian: np.ndarray, motion: np.ndarray
                ) -> np.ndarray:
        gain, offset = 1.0, 0.0
        for _ in range(FIT_STEPS):
            now = _at(grey, displaced(self.points, motion, self.centre))
            residual = now - (gain * reference + offset)
            spread = max(float(np.median(np.abs(residual - np.median(residual)))) * 1.4826, 0.5)
            scaled = residual / (TUKEY_REACH * spread)
            weight = np.where(np.abs(scaled) < 1, (1 - scaled ** 2) ** 2, 0.0)
            design = np.column_stack([jacobian * gain, -reference, -np.ones_like(reference)])
            normal = design.T @ (design * weight[:, None])
            if np.linalg.cond(normal) > 1e10:
                break
            step = np.linalg.solve(normal, -design.T @ (weight * residual))
            motion, gain, offset = motion + step[:4], gain - step[4], offset - step[5]
            if np.abs(displaced(self.points[[0, -1]], step[:4], self.centre) - self.points[[0, -1]]).max() < 0.01:
                break
        return motion


def anchor_points(geometry: KeyboardGeometry) -> np.ndarray:
    """(N, 2) the anchor zone's samples (ANCHOR_DEPTH, ANCHOR_PER_WHITE, ANCHOR_ROWS) in pixels of the frame, those
    at least BORDER inside it."""
    whites = len(geometry.white_keys)
    u = (np.arange(whites * ANCHOR_PER_WHITE) + 0.5) / ANCHOR_PER_WHITE
    v = ANCHOR_DEPTH[0] + (np.arange(ANCHOR_ROWS) + 0.5) / ANCHOR_ROWS * (ANCHOR_DEPTH[1] - ANCHOR_DEPTH[0])
    points = geometry.to_frame(np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2))
    width, height = geometry.frame_size
    inside = ((points[:, 0] >= BORDER) & (points[:, 0] < width - BORDER)
              & (points[:, 1] >= BORDER) & (points[:, 1] < height - BORDER))
    anchor: np.ndarray = points[inside]
    return anchor


def displaced(points: np.ndarray, motion: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(N, 2) where `points` (N, 2) of the reference are in a frame that moved by `motion` (MotionFit) about
    `centre`."""
    matrix = _similarity(motion, centre)
    moved: np.ndarray = points @ matrix[:2, :2].T + matrix[:2, 2]
    return moved


def _similarity(motion: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(3, 3) the motion (MotionFit's four numbers about `centre`) on homogeneous pixels:
    p + (x, y) + [[a, -b], [b, a]] (p - c)."""
    x, y, a, b = motion
    cx, cy = centre
    return np.array([[1 + a, -b, x - a * cx + b * cy], [b, 1 + a, y - b * cx - a * cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class CameraMotion:
    """How the camera moved the keyboard, frame by frame: `motions[t]` (MotionFit's four numbers, about `centre`,
    in pixels of the frames the keyboard was found in) at video time `times[t]`."""

    times: np.ndarray  # (T,) seconds, video clock
    motions: np.ndarray  # (T, 4)
    centre: np.ndarray  # (2,)

    def at(self, time: float) -> np.ndarray:
        """(4,) the motion of the frame nearest `time`."""
        index = int(np.clip(np.searchsorted(self.times, time), 0, len(self.times) - 1))
        if index > 0 and abs(self.times[index - 1] - time) < abs(self.times[index] - time):
            index -= 1
        motion: np.ndarray = self.motions[index]
        return motion

    def largest_shift(self, geometry: KeyboardGeometry) -> float:
        """How far (pixels) any key's corner was moved, at most: what the summary reports."""
        corners = np.concatenate([key.polygon for key in geometry.keys]).astype(np.float64)
        return max(float(np.abs(displaced(corners, motion, self.centre) - corners).max()) for motion in self.motions)

    def moved(self, geometry: KeyboardGeometry, time: float) -> KeyboardGeometry:
        """`geometry` where the camera had moved it at `time`: what the preview and the panel draw. The keys are
        moved exactly; the homography is the motion after it (before the lens, which a motion of a few pixels
        hardly changes)."""
        motion = self.at(time)

        def move(points: np.ndarray) -> np.ndarray:
            return displaced(points.astype(np.float64), motion, self.centre).astype(np.float32)

        keys = tuple(dataclasses.replace(key, polygon=move(key.polygon), far_end=move(key.far_end),
                                         centre=move(key.centre[None])[0]) for key in geometry.keys)
        return dataclasses.replace(geometry, homography=_similarity(motion, self.centre) @ geometry.homography,
                                   keys=keys)


def camera_motion(frames: Iterable[Frame], geometry: KeyboardGeometry) -> CameraMotion | None:
    """How the camera moved the keyboard in `frames` (MotionFit: measured against the first frame, smoothed over
    SMOOTH_FRAMES either side, taken about their median over the range, which is where the keyboard was found
    from frames spread over it); None when there are no frames or too little of the anchor zone is in the frame
    (MIN_ANCHOR_POINTS)."""
    anchor = anchor_points(geometry)
    if len(anchor) < MIN_ANCHOR_POINTS:
        return None
    times: list[float] = []
    motions: list[np.ndarray] = []
    fit: MotionFit | None = None
    for frame in frames:
        fit = fit or MotionFit(anchor, frame.image)
        motions.append(fit.motion(frame.image, motions[-1] if motions else np.zeros(4)))
        times.append(frame.time)
    if fit is None:
        return None
    smooth = _running(_running(np.array(motions), np.median), np.mean)
    return CameraMotion(np.array(times), smooth - np.median(smooth, axis=0), fit.centre)


def _running(values: np.ndarray, statistic: Callable[..., np.ndarray]) -> np.ndarray:
    """(T, 4) `statistic` over SMOOTH_FRAMES frames either side of each (fewer at the ends)."""
    return np.array([statistic(values[max(0, at - SMOOTH_FRAMES):at + SMOOTH_FRAMES + 1], axis=0)
                     for at in range(len(values))])


def followed_rows(frames: Iterable[Frame], band: KeyBand, motion: CameraMotion) -> BandRows:
    """The band of every frame sampled where the camera moved it (`motion`, measured on the same frames), from the
    frame blurred a little (BLUR_PIXELS): a line a pixel wide sampled at a different fraction of a pixel in every
    frame would otherwise look sharper or softer from frame to frame, which is a change like a press's."""
    where = np.stack([band.sampler.map_x, band.sampler.map_y], axis=-1).reshape(-1, 2).astype(np.float64)
    shape = band.sampler.map_x.shape
    rows = []
    for frame, moved_by in zip(frames, motion.motions, strict=True):
        moved = displaced(where, moved_by, motion.centre).astype(np.float32)
        rows.append(cv2.remap(_grey(frame.image), moved[:, 0].reshape(shape), moved[:, 1].reshape(shape),
                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1))
    sampled = np.clip(np.rint(np.array(rows, np.float32)), 0, 255).astype(np.uint8)
    return BandRows(np.asarray(motion.times, np.float64), sampled.reshape(len(motion.times), band.sampler.width))


def steadied_frames(frames: Iterable[Frame], motion: CameraMotion) -> list[np.ndarray]:
    """Each frame's image moved back by the camera's motion at its time: the keyboard where `motion` is taken
    about in every one of them, so that frames spread over a range overlay key on key again."""
    steady = []
    for frame in frames:
        height, width = frame.image.shape[:2]
        forward = _similarity(motion.at(frame.time), motion.centre)[:2]
        steady.append(cv2.warpAffine(frame.image, forward, (width, height),
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE))
    return steady


@dataclass(frozen=True)
class Followed:
    """What following the keys over a range gave: the band sampled where the keys went, the camera's motion, and
    the keyboard found again on frames steadied by it (the key map the band was sampled on)."""

    rows: BandRows
    motion: CameraMotion
    geometry: KeyboardGeometry


def save_followed(path: Path, followed: Followed) -> None:
    """Remember a followed range (a cache file, written atomically): the same range read again, another
    instrument or take, skips the passes over it."""
    encoded = io.BytesIO()
    np.savez(encoded, times=followed.rows.times, rows=followed.rows.rows, motions=followed.motion.motions,
             centre=followed.motion.centre, geometry=np.array(json.dumps(followed.geometry.to_json())))
    with atomic_output(path, "followed band cache file", parents=True) as temp:
        temp.write_bytes(encoded.getbuffer())


def load_followed(path: Path) -> Followed | None:
    """What save_followed wrote; None when there is none, or it cannot be read (it is then followed and written
    again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            times, rows = data["times"].astype(np.float64), data["rows"]
            motions, centre = data["motions"].astype(np.float64), data["centre"].astype(np.float64)
            geometry = KeyboardGeometry.from_json(json.loads(str(data["geometry"])))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None
    width = key_band(geometry).sampler.width
    if rows.shape != (len(times), width) or rows.dtype != np.uint8 or motions.shape != (len(times), 4):
        return None
    return Followed(BandRows(times, rows), CameraMotion(times, motions, centre), geometry)


def steadied(keypoints: Keypoints, motion: CameraMotion, frame_size: tuple[int, int]) -> Keypoints:
    """`keypoints` moved back by the camera's motion (in pixels of frames of `frame_size`; the nearest frame's to
    each keypoint sample), so a fingertip is looked up on the key map where the keys were found, as the band is."""
    scale = np.array(frame_size, np.float64)
    hands, body = keypoints.hands.copy(), keypoints.body.copy()
    for sample, time in enumerate(keypoints.times):
        # The inverse of a small similarity, to first order: the motion with its signs turned.
        back = -motion.at(float(time))
        for joints in (hands[:, sample], body[:, sample]):
            flat = joints[..., :2].reshape(-1, 2) * scale
            joints[..., :2] = (displaced(flat, back, motion.centre) / scale).reshape(joints[..., :2].shape)
    return dataclasses.replace(keypoints, hands=hands, body=body)


def _grey(image: np.ndarray, blur: float = BLUR_PIXELS) -> np.ndarray:
    """The frame in grey levels (float32), blurred by a Gaussian `blur` pixels wide."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred: np.ndarray = cv2.GaussianBlur(grey, (0, 0), blur)
    return blurred


def _at(grey: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Grey levels at (N, 2) points, bilinear, as (N,) float64."""
    where = np.ascontiguousarray(points, np.float32).reshape(1, -1)
    sampled = cv2.remap(grey, where[:, 0::2], where[:, 1::2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(sampled, np.float64).reshape(-1)
