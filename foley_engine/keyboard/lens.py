"""Radial lens distortion, and the keyboard plane's projection through it.

A keyboard spans most of the frame, so the barrel distortion of ordinary lenses (phones, webcams, action
cameras) bends it measurably: on the shared top-down clip the black keys at the ends sit a quarter of a
white key off any homography. One radial coefficient about the frame centre, estimated from the black
keys themselves (their centres are evenly spaced on a straight line in the keyboard plane, so after
undistortion they must be a projective image of the key lattice on a straight line), removes that.
The model: distorted = centre + (u - centre) * (1 + k * |u - centre|^2 / radius^2), about the frame's
middle, with radius = half its diagonal, so k is the same at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.special import fdtri

from .keys import black_x

#: The coefficients tried, and how significantly the best must explain the keys better than none: an F-test
#: at this level for one more parameter than the row's 1-D map and black-key offsets (_PARAMETERS). (On
#: rendered keyboards through an ideal lens F stays under 1; through real lenses of |k| >= 0.03 it is
#: mostly over 10.) The model folds over inside the frame for k <= -1/3 (1 + 3 k r^2 = 0 at its corners),
#: where undistorted points collapse and fit any row, so the range stops short of that.
_RANGE = 0.3
_SIGNIFICANCE = 0.01
_PARAMETERS = 8
_MIN_POINTS = 12
_TRIM = 0.15  # the worst-fitting fraction of the black keys left out of the misfit (hands over them)


@dataclass(frozen=True)
class Lens:
    """Radial distortion k about the centre of a frame of the given size (k < 0: barrel)."""

    k: float
    size: tuple[float, float]

    @property
    def _centre(self) -> np.ndarray:  # pixel centres are at integers, so the frame's middle is (w - 1) / 2
        return (np.array(self.size, np.float64) - 1) / 2

    @property
    def _radius(self) -> float:
        return float(np.hypot(*self.size)) / 2

    def distort(self, points: np.ndarray) -> np.ndarray:
        """Ideal (pinhole) pixel positions (n, 2) -> where the lens puts them."""
        offset = (np.asarray(points, np.float64) - self._centre) / self._radius
        distorted: np.ndarray = \
            self._centre + offset * (1 + self.k * np.sum(offset ** 2, axis=-1, keepdims=True)) * self._radius
        return distorted

    def undistort(self, points: np.ndarray) -> np.ndarray:
        """Inverse of distort, by fixed-point iteration (converges fast for |k| < 0.4 inside the frame)."""
        observed = (np.asarray(points, np.float64) - self._centre) / self._radius
        ideal = observed.copy()
        for _ in range(20):
            ideal = observed / (1 + self.k * np.sum(ideal ** 2, axis=-1, keepdims=True))
        undistorted: np.ndarray = self._centre + ideal * self._radius
        return undistorted


@dataclass(frozen=True)
class Projection:
    """Keyboard plane -> pixels: a homography to ideal pixels, then the lens."""

    homography: np.ndarray
    lens: Lens

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Plane points (..., 2) -> pixels (..., 2)."""
        points = np.asarray(points, np.float64)
        flat = cv2.perspectiveTransform(points.reshape(-1, 1, 2), self.homography).reshape(-1, 2)
        return self.lens.distort(flat).reshape(points.shape)

    def to_plane(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) -> plane points (..., 2)."""
        pixels = np.asarray(pixels, np.float64)
        ideal = self.lens.undistort(pixels.reshape(-1, 2)).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(ideal, np.linalg.inv(self.homography)).reshape(pixels.shape)

    def then(self, matrix: np.ndarray) -> Projection:
        """The projection of a plane whose coordinates map into this one's by `matrix`."""
        return Projection(self.homography @ matrix, self.lens)


def _row_residuals(pixels: np.ndarray, positions: np.ndarray, indices: np.ndarray, use: np.ndarray
                   ) -> np.ndarray:
    """Per black key, how far its centre is from a straight, projectively spaced row of the lattice fitted
    to the keys `use`, in white keys (squared).

    Along the row: residual of the best 1-D projective map, where each of the five black keys of an octave
    may sit a little off its nominal place (makers differ by a few hundredths); across: distance from the
    best line.
    """
    middle = pixels[use].mean(axis=0)
    _, _, axes = np.linalg.svd(pixels[use] - middle, full_matrices=False)
    along, across = (pixels - middle) @ axes[0], (pixels - middle) @ axes[1]
    t = along / max(float(along[use].std()), 1e-9)
    slots = np.stack([np.mod(indices, 5) == slot for slot in range(1, 5)], axis=1).astype(float)
    design = np.column_stack([t, np.ones_like(t), -t * positions, -slots])
    params = np.linalg.lstsq(design[use], positions[use], rcond=None)[0]
    per_pixel = float(np.ptp(positions[use])) / max(float(np.ptp(along[use])), 1e-9)
    squared: np.ndarray = (design @ params - positions) ** 2 + (across * per_pixel) ** 2
    return squared


def _row_misfit(pixels: np.ndarray, indices: np.ndarray) -> tuple[float, int]:
    """RMS of _row_residuals over the best-fitting (1 - _TRIM) of the keys, refitted to them, and how many
    that is: a hand over a black key shortens its bar and moves its centre, and one such key must not pass
    for a bent row."""
    positions = np.array([black_x(int(i)) for i in indices])
    use = np.ones(len(pixels), bool)
    for _ in range(2):
        residuals = _row_residuals(pixels, positions, indices, use)
        use = residuals <= np.quantile(residuals, 1 - _TRIM)
    residuals = _row_residuals(pixels, positions, indices, use)[use]
    return float(np.sqrt(np.mean(residuals))), int(use.sum())


def estimate_distortion(centres: np.ndarray, indices: np.ndarray, size: tuple[float, float]) -> float:
    """The radial coefficient that makes the black keys' centres (n, 2 pixels of a frame of `size`; lattice
    indices n) the straightest, most projectively spaced row; 0 for short rows or where it does not explain
    the row significantly better than an ideal lens (an F-test on the one extra parameter)."""
    if len(centres) < _MIN_POINTS:
        return 0.0

    def misfit(k: float) -> float:
        return _row_misfit(Lens(k, size).undistort(centres), indices)[0]

    coarse = np.linspace(-_RANGE, _RANGE, 61)
    best = float(coarse[np.argmin([misfit(k) for k in coarse])])
    fine = np.linspace(best - 0.01, best + 0.01, 21)
    best = float(fine[np.argmin([misfit(k) for k in fine])])
    ideal, _ = _row_misfit(centres, indices)
    fitted, used = _row_misfit(Lens(best, size).undistort(centres), indices)
    ideal, fitted = ideal ** 2, max(fitted ** 2, 1e-12)
    significant = float(fdtri(1, used - _PARAMETERS, 1 - _SIGNIFICANCE))  # the F distribution's quantile
    return best if (ideal - fitted) / fitted * (used - _PARAMETERS) > significant else 0.0
