"""Pose features the encoder reads: one performer's 67 joints, normalised for framing, with a visibility mask.

A performer can stand anywhere in a frame of any shape and at any distance, so positions are made
pixel-square, centred on the body (the neck, else the wrists) and divided by the performer's size (shoulder
width, else hand size), each a median over the window so a few bad frames do not shake the whole skeleton.
Onsets live in motion, so each joint also gets its velocity. A joint the tracker did not see (confidence 0)
gets zeros *and* a cleared mask bit: the encoder aggregates only visible joints, so a missing joint is never
read as a joint sitting at (0, 0).
"""

from __future__ import annotations

import numpy as np

from ..keypoints import SHOULDERS_PER_HAND, hand_lengths, pixel_square
from ..skeleton import (
    BODY_INDEX,
    HAND_INDEX,
    LEFT,
    LEFT_HAND_OFFSET,
    NUM_BODY_JOINTS,
    NUM_HAND_JOINTS,
    NUM_JOINTS,
    RIGHT,
    RIGHT_HAND_OFFSET,
)

#: Channels per joint: x, y (in performer sizes), vx, vy (performer sizes per second, scaled), visible.
NUM_FEATURES = 5
_NECK, _RSHOULDER, _LSHOULDER = BODY_INDEX["neck"], BODY_INDEX["right_shoulder"], BODY_INDEX["left_shoulder"]
_BODY_WRISTS = (BODY_INDEX["left_wrist"], BODY_INDEX["right_wrist"])
_HAND_WRISTS = (LEFT_HAND_OFFSET + HAND_INDEX["wrist"], RIGHT_HAND_OFFSET + HAND_INDEX["wrist"])
_HANDS = slice(LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET + NUM_HAND_JOINTS)  # both hands' joints, left then right
_VELOCITY_SCALE = 0.2  # brings typical speeds (a few sizes per second) to order 1
_VELOCITY_CLIP = 5.0
_POSITION_CLIP = 4.0


def performer_joints(body: np.ndarray, hands: np.ndarray) -> np.ndarray:
    """(T, 67, 3) joints of one performer in skeleton order: body, left hand, right hand."""
    joints: np.ndarray = np.concatenate([body, hands[:, LEFT], hands[:, RIGHT]], axis=1).astype(np.float32)
    return joints


def split_performer_joints(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of performer_joints: (T, 25, 3) body and (T, 2, 21, 3) hands of (T, 67, 3) joints."""
    hands = np.empty((len(joints), 2, NUM_HAND_JOINTS, joints.shape[-1]), joints.dtype)
    hands[:, LEFT] = joints[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + NUM_HAND_JOINTS]
    hands[:, RIGHT] = joints[:, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + NUM_HAND_JOINTS]
    return joints[:, :NUM_BODY_JOINTS], hands


def _median_visible(values: np.ndarray, visible: np.ndarray) -> np.ndarray | float | None:
    """Median over the frames where `visible`, or None when fewer than 3 frames qualify."""
    if np.count_nonzero(visible) < 3:
        return None
    median: np.ndarray = np.median(values[visible], axis=0)
    return median


def frame_reference(xy: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (2,) and scale (one shoulder width) of a performer over a window of (T, 67, 2) positions.

    Falls back from the neck to the mean of the visible wrists, and from shoulder width to hand size; with
    nothing usable the centre is the mean visible joint and the scale a typical 0.25 frame heights.
    """
    centre = _median_visible(xy[:, _NECK], visible[:, _NECK])
    if centre is None:
        wrists = [j for j in _BODY_WRISTS + _HAND_WRISTS]
        seen = visible[:, wrists]
        count = seen.sum(axis=1)
        mean = (xy[:, wrists] * seen[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
        centre = _median_visible(mean, count > 0)
    if centre is None:
        centre = xy[visible].mean(axis=0) if visible.any() else np.zeros(2, np.float32)

    both = visible[:, _RSHOULDER] & visible[:, _LSHOULDER]
    scale = _median_visible(np.linalg.norm(xy[:, _RSHOULDER] - xy[:, _LSHOULDER], axis=-1), both)
    if scale is None or scale <= 1e-4:
        sizes = hand_lengths(xy[:, _HANDS].reshape(len(xy), 2, NUM_HAND_JOINTS, 2),
                             visible[:, _HANDS].reshape(len(xy), 2, NUM_HAND_JOINTS))
        scale = float(np.median(sizes)) * SHOULDERS_PER_HAND if len(sizes) >= 3 else None
    if scale is None or scale <= 1e-4:
        scale = 0.25
    return np.asarray(centre, np.float32), float(scale)


def pose_features(joints: np.ndarray, frame_size: tuple[int, int], rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Encoder input for one performer's window: features (T, 67, 5) float32 and mask (T, 67) bool.

    Velocity is a frame difference where both frames see the joint, else 0; masked joints are all zeros.
    """
    if joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected (T, {NUM_JOINTS}, 3) joints, got {joints.shape}")
    visible = joints[..., 2] > 0
    xy = joints[..., :2].astype(np.float32) * pixel_square(frame_size, np.float32)
    centre, scale = frame_reference(xy, visible)
    position = np.clip((xy - centre) / scale, -_POSITION_CLIP, _POSITION_CLIP)
    velocity = np.zeros_like(position)
    both = visible[1:] & visible[:-1]
    velocity[1:] = np.where(both[..., None], (position[1:] - position[:-1]) * (rate * _VELOCITY_SCALE), 0.0)
    velocity = np.clip(velocity, -_VELOCITY_CLIP, _VELOCITY_CLIP)
    features = np.concatenate([position, velocity, visible[..., None].astype(np.float32)], axis=-1)
    features[~visible] = 0.0
    return features.astype(np.float32), visible
