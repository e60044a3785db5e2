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

#: The coefficients tried, and how much better than none the best must explain the keys to be used.
_RANGE = 0.35
_MIN_GAIN = 0.7
_MIN_POINTS = 12


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


def _row_misfit(pixels: np.ndarray, positions: np.ndarray) -> float:
    """How far points are from a straight, projectively spaced row with these plane positions, in plane units.

    Along the row: residual of the best 1-D projective map; across: distance from the best line.
    """
    middle = pixels.mean(axis=0)
    _, _, axes = np.linalg.svd(pixels - middle, full_matrices=False)
    along, across = (pixels - middle) @ axes[0], (pixels - middle) @ axes[1]
    scale = max(float(along.std()), 1e-9)
    t = along / scale
    design = np.stack([t, np.ones_like(t), -t * positions], axis=1)
    params = np.linalg.lstsq(design, positions, rcond=None)[0]
    fitted = (params[0] * t + params[1]) / (params[2] * t + 1)
    per_pixel = float(np.ptp(positions)) / max(float(np.ptp(along)), 1e-9)
    return float(np.sqrt(np.mean((fitted - positions) ** 2) + np.mean((across * per_pixel) ** 2)))


def estimate_distortion(centres: np.ndarray, positions: np.ndarray, size: tuple[float, float]) -> float:
    """The radial coefficient that makes black-key centres (n, 2 pixels of a frame of `size`) at plane
    positions x (n,) the straightest, most projectively spaced row; 0 for short rows or no clear gain."""
    if len(centres) < _MIN_POINTS:
        return 0.0

    def misfit(k: float) -> float:
        return _row_misfit(Lens(k, size).undistort(centres), positions)

    coarse = np.linspace(-_RANGE, _RANGE, 71)
    best = float(coarse[np.argmin([misfit(k) for k in coarse])])
    fine = np.linspace(best - 0.01, best + 0.01, 21)
    best = float(fine[np.argmin([misfit(k) for k in fine])])
    return best if misfit(best) < _MIN_GAIN * misfit(0.0) else 0.0
