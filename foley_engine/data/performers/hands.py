"""A 21-joint hand (MediaPipe/OpenPose order): palm frame, five jointed fingers, flexion and sideways reach.

Each finger is a chain of three segments that bend in one plane towards the palm, so a finger's flexion
angles fully decide how far its tip moves, and the instrument modules can aim a fingertip sideways at a key
or string exactly (`lateral`) without a general inverse-kinematics solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...skeleton import LEFT

# Per finger (thumb, index, middle, ring, pinky), right hand, in the hand's frame: forward (wrist to
# fingers), thumbward, palmward; metres for an adult hand.
_BASES = np.array([
    [0.025, 0.022, 0.012], [0.088, 0.028, 0.0], [0.092, 0.006, 0.0], [0.086, -0.014, 0.0], [0.076, -0.032, 0.0],
])
_LENGTHS = np.array([
    [0.042, 0.033, 0.028], [0.044, 0.026, 0.021], [0.049, 0.030, 0.023], [0.045, 0.028, 0.022],
    [0.035, 0.020, 0.019],
])
_SPLAY = np.array([0.75, 0.08, 0.0, -0.07, -0.16])  # natural sideways angle of each finger, radians
_TILT = np.array([0.5, 0.0, 0.0, 0.0, 0.0])  # the thumb leaves the palm plane towards the palm side

#: Flexion presets (T-independent), radians per finger joint: a loose hand, a curved pianist's hand, a fist.
RELAXED = np.array([[0.2, 0.2, 0.2]] + [[0.3, 0.45, 0.3]] * 4)
CURVED = np.array([[0.15, 0.25, 0.2]] + [[0.35, 0.75, 0.35]] * 4)
GRIP = np.array([[0.7, 0.6, 0.4]] + [[1.4, 1.6, 0.9]] * 4)


@dataclass(frozen=True)
class HandGeometry:
    """Bone sizes of one performer's hands (both hands mirror each other)."""

    scale: float = 1.0

    @property
    def bases(self) -> np.ndarray:
        return _BASES * self.scale

    @property
    def lengths(self) -> np.ndarray:
        return _LENGTHS * self.scale

    def base_offset(self, finger: int) -> float:
        """Thumbward offset of a finger's base from the wrist axis: where the finger sits across the hand."""
        return float(self.bases[finger, 1])

    def reach(self, flex: np.ndarray) -> np.ndarray:
        """Length of each finger projected onto the palm plane for flexion (..., 5, 3)."""
        cumulative = np.cumsum(flex, axis=-1) + _TILT[:, None]
        reach: np.ndarray = (self.lengths * np.cos(cumulative)).sum(axis=-1)
        return reach


def hand_frame(forward: np.ndarray, palm: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal (forward, thumbward, palmward) axes, (T, 3) each; mirrored between left and right hands."""
    f = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    n = palm - (palm * f).sum(-1, keepdims=True) * f
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    s = np.cross(n, f) * (1.0 if side == LEFT else -1.0)
    return f, s, n


def build_hand(geometry: HandGeometry, side: int, wrist: np.ndarray, forward: np.ndarray, palm: np.ndarray,
               flex: np.ndarray, lateral: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (T, 21, 3) of one hand.

    wrist, forward, palm: (T, 3); flex: (T, 5, 3) radians per finger joint (positive bends towards the palm);
    lateral: (T, 5) thumbward offset of each fingertip from its base in metres, NaN for the natural splay.
    """
    f, s, n = hand_frame(forward, palm, side)
    steps = len(wrist)
    reach = geometry.reach(flex)  # (T, 5)
    splay = np.broadcast_to(_SPLAY, (steps, 5))
    if lateral is not None:
        wanted = np.clip(lateral / reach, -0.95, 0.95)
        splay = np.where(np.isnan(lateral), splay, np.arcsin(np.nan_to_num(wanted)))
    tilt = _TILT[None, :, None]
    # In-palm direction of each finger, then its bending plane's second axis (towards the palm).
    across = np.cos(splay)[..., None] * f[:, None] + np.sin(splay)[..., None] * s[:, None]  # (T, 5, 3)
    along = np.cos(tilt) * across + np.sin(tilt) * n[:, None]
    bend = -np.sin(tilt) * across + np.cos(tilt) * n[:, None]
    bases = geometry.bases
    base = wrist[:, None] + bases[None, :, 0, None] * f[:, None] + bases[None, :, 1, None] * s[:, None] \
        + bases[None, :, 2, None] * n[:, None]
    angles = np.cumsum(flex, axis=-1)  # (T, 5, 3)
    segments = geometry.lengths[None, :, :, None] * (
        np.cos(angles)[..., None] * along[:, :, None] + np.sin(angles)[..., None] * bend[:, :, None])
    chain = base[:, :, None] + np.cumsum(segments, axis=2)  # (T, 5, 3 joints, 3)
    joints = np.concatenate([base[:, :, None], chain], axis=2).reshape(steps, 20, 3)
    return np.concatenate([wrist[:, None], joints], axis=1)


def aim(geometry: HandGeometry, side: int, wrist: np.ndarray, forward: np.ndarray, palm: np.ndarray,
        finger: int, target: np.ndarray) -> np.ndarray:
    """The `lateral` offset that puts a fingertip level with `target` along the hand's thumbward axis.

    Arrays broadcast (e.g. one hand pose and many targets); used to land fingers on frets and keys exactly.
    """
    _, s, _ = hand_frame(np.atleast_2d(forward), np.atleast_2d(palm), side)
    along: np.ndarray = ((np.asarray(target) - np.asarray(wrist)) * s).sum(-1) - geometry.base_offset(finger)
    return along
