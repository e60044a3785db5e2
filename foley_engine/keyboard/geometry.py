"""What find_keyboard returns: the keyboard's plane, its keys with pitches and pixel outlines, and a drawing.

The keyboard plane has x in white-key widths from the left edge of the lowest white key in view (x grows
with pitch) and y from the fallboard edge (0) to the player's edge of the white keys (1); `homography` maps
it to frame pixels, followed by the lens's radial `distortion` (lens.py; 0 for an ideal lens, a few
hundredths for ordinary ones, which moves the keyboard's ends by a few pixels). `to_frame` / `to_plane` do
both. Everything else (key polygons, centres) is that plane's rectangles mapped through it, so a later note
reader can look up a fingertip with `key_at` or rectify the keys it cares about.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from .keys import note_name
from .lens import Lens, Projection
from .view import keys_under_camera

_JSON_VERSION = 1
#: The colour (RGB) of the keys under the camera in drawings of the key map, here and in the panel.
UNDER_CAMERA_RGB = (220, 60, 220)


@dataclass(frozen=True, eq=False)
class Key:
    """One key in the frame.

    polygon: (4, 2) float32 pixel corners (fallboard-left, fallboard-right, player-right, player-left in the
    plane) of the key's visible top; a white key's quad spans its full width, including the part between
    the black keys. far_end: the quad of the part near the fallboard that a playing finger rarely covers,
    which therefore shows the key going down: for a white key the strip between its black neighbours, for a
    black key its back 40 %. centre: (2,) float32 pixel position of the key's middle.
    """

    pitch: int
    black: bool
    polygon: np.ndarray
    far_end: np.ndarray
    centre: np.ndarray

    @property
    def name(self) -> str:
        return note_name(self.pitch)


@dataclass(frozen=True, eq=False)
class KeyboardGeometry:
    """A keyboard found in a video: where it is, where each key is, and how sure each part of that is.

    keys: lowest first; a keyboard cut by the frame's edge may begin or end on a black key there.
    near_edge_down: whether the player's edge of the keys is towards the bottom of the frame (player at the
    bottom; if False the player faces the camera from the top and pitch rises right to left).
    pitch_confidence / pitch_evidence: how the octave was decided (both ends counted, one end, or only
    assumed); confidence: how sure it is that this is a keyboard at all (0..1).
    """

    frame_size: tuple[int, int]
    homography: np.ndarray
    distortion: float
    keys: tuple[Key, ...]
    near_edge_down: bool
    pitch_confidence: float
    pitch_evidence: str
    confidence: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "homography", np.asarray(self.homography, np.float64))

    @cached_property
    def _projection(self) -> Projection:
        return Projection(self.homography, Lens(self.distortion, self.frame_size))

    @cached_property
    def plane_boxes(self) -> np.ndarray:
        """(n, 4) x_min, x_max, y_min, y_max of every key in the plane, for fast point look-ups."""
        corners = self.to_plane(np.concatenate([key.polygon for key in self.keys]))
        corners = corners.reshape(len(self.keys), 4, 2)
        boxes: np.ndarray = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)[:, [0, 2, 1, 3]]
        return boxes

    def covering(self, plane_points: np.ndarray) -> np.ndarray:
        """(n, K) whether each keyboard-plane point (n, 2) lies on each key's top (its box in the plane)."""
        u, v, boxes = plane_points[:, :1], plane_points[:, 1:2], self.plane_boxes
        inside: np.ndarray = (boxes[:, 0] <= u) & (u < boxes[:, 1]) & (boxes[:, 2] <= v) & (v <= boxes[:, 3])
        return inside

    def to_plane(self, points: np.ndarray) -> np.ndarray:
        """Frame pixels (n, 2) -> keyboard-plane coordinates (n, 2)."""
        return self._projection.to_plane(np.asarray(points, np.float64).reshape(-1, 2))

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Keyboard-plane coordinates (n, 2) -> frame pixels (n, 2)."""
        return self._projection.to_pixels(np.asarray(points, np.float64).reshape(-1, 2))

    def key_at(self, x: float, y: float) -> Key | None:
        """The key under frame pixel (x, y), black keys first since they lie on top; None off the keys."""
        hits = [self.keys[i] for i in np.flatnonzero(self.covering(self.to_plane(np.array([[x, y]])))[0])]
        return next((key for key in hits if key.black), hits[0] if hits else None)

    @cached_property
    def under_camera(self) -> tuple[int, ...]:
        """Pitches of the keys in line with the camera, whose presses bare no wall it can see (view.py)."""
        return tuple(keys_under_camera(self))

    @property
    def white_keys(self) -> tuple[Key, ...]:
        return tuple(key for key in self.keys if not key.black)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, so the geometry can be cached beside a clip's keypoints."""
        return {
            "version": _JSON_VERSION,
            "frame_size": list(self.frame_size),
            "homography": self.homography.tolist(),
            "distortion": self.distortion,
            "near_edge_down": self.near_edge_down,
            "pitch_confidence": self.pitch_confidence,
            "pitch_evidence": self.pitch_evidence,
            "confidence": self.confidence,
            "keys": [{"pitch": key.pitch, "black": key.black, "polygon": key.polygon.tolist(),
                      "far_end": key.far_end.tolist(), "centre": key.centre.tolist()} for key in self.keys],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyboardGeometry:
        """Inverse of to_json; raises ValueError for a cache written by an incompatible version."""
        if data.get("version") != _JSON_VERSION:
            raise ValueError(f"keyboard geometry version {data.get('version')!r}, expected {_JSON_VERSION}")
        keys = tuple(Key(int(key["pitch"]), bool(key["black"]), np.array(key["polygon"], np.float32),
                         np.array(key["far_end"], np.float32), np.array(key["centre"], np.float32))
                     for key in data["keys"])
        width, height = data["frame_size"]
        return cls((int(width), int(height)), np.array(data["homography"], np.float64), float(data["distortion"]), keys,
                   bool(data["near_edge_down"]), float(data["pitch_confidence"]), str(data["pitch_evidence"]),
                   float(data["confidence"]))


def draw_keyboard(image: np.ndarray, geometry: KeyboardGeometry) -> np.ndarray:
    """A copy of an RGB frame with the key map drawn on: the keyboard's outline, every key's outline (black
    keys in blue), the far ends shaded (magenta for the keys under the camera, whose presses barely show), and
    note names on the C keys, so a person can check the detection."""
    canvas = image.copy()
    scale = max(1, round(max(image.shape[:2]) / 900))
    shade = canvas.copy()
    for key in geometry.keys:
        colour = UNDER_CAMERA_RGB if key.pitch in geometry.under_camera else (255, 200, 0)
        cv2.fillPoly(shade, [np.round(key.far_end * 8).astype(np.int32)], colour, cv2.LINE_AA, shift=3)
    canvas = cv2.addWeighted(shade, 0.35, canvas, 0.65, 0)
    for key in sorted(geometry.keys, key=lambda key: key.black):
        colour = (40, 120, 255) if key.black else (0, 200, 80)
        cv2.polylines(canvas, [np.round(key.polygon * 8).astype(np.int32)], True, colour, scale, cv2.LINE_AA,
                      shift=3)
    whites = geometry.white_keys
    if whites:
        outline = geometry.to_frame(np.array([[0, 0], [len(whites), 0], [len(whites), 1], [0, 1]], np.float64))
        cv2.polylines(canvas, [np.round(outline * 8).astype(np.int32)], True, (255, 60, 60), 2 * scale,
                      cv2.LINE_AA, shift=3)
    font_scale = 0.35 * scale
    for key in whites:
        if key.pitch % 12 == 0:
            front, back = (key.polygon[2] + key.polygon[3]) / 2, (key.polygon[0] + key.polygon[1]) / 2
            x, y = front + 0.15 * (front - back)  # just beyond the player's edge, whichever way that is
            (width, height), _ = cv2.getTextSize(key.name, cv2.FONT_HERSHEY_SIMPLEX, font_scale, scale)
            origin = (int(x - width / 2), int(y + height / 2))
            cv2.putText(canvas, key.name, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 3 * scale,
                        cv2.LINE_AA)
            cv2.putText(canvas, key.name, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 0), scale,
                        cv2.LINE_AA)
    return canvas
