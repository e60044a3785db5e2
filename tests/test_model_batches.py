"""Training windows: the augmentation that stands in for a tracker which does not follow the fingers."""

from __future__ import annotations

import numpy as np
from model_fixtures import random_joints

from foley_engine.skeleton import LEFT_HAND_OFFSET, NUM_HAND_JOINTS
from foley_engine.training.batches import blur_fingers, hold_still


def test_blurred_fingers_keep_the_hand_travel_and_never_invent_joints() -> None:
    joints = random_joints(120, seed=3, missing=0.2)
    hand = slice(LEFT_HAND_OFFSET, LEFT_HAND_OFFSET + NUM_HAND_JOINTS)
    joints[40:50, hand] = 0.0  # the tracker lost the hand for a moment
    joints[:, LEFT_HAND_OFFSET, 2] = np.where(joints[:, LEFT_HAND_OFFSET, 2] > 0, 1.0, 0.0)
    blurred = blur_fingers(joints.copy(), 15)
    missing = joints[..., 2] == 0
    assert np.array_equal(blurred[..., 2], joints[..., 2])
    assert np.all(blurred[missing][:, :2] == 0)  # nothing invented where nothing was seen
    np.testing.assert_array_equal(blurred[:, LEFT_HAND_OFFSET], joints[:, LEFT_HAND_OFFSET])  # the wrist travels
    np.testing.assert_array_equal(blurred[:, :LEFT_HAND_OFFSET], joints[:, :LEFT_HAND_OFFSET])  # body untouched
    seen = ~missing[:, hand] & (joints[:, LEFT_HAND_OFFSET, 2] > 0)[:, None]
    wrist = joints[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 1, :2]
    before = np.diff((joints[:, hand, :2] - wrist), axis=0)[seen[1:] & seen[:-1]]
    after = np.diff((blurred[:, hand, :2] - wrist), axis=0)[seen[1:] & seen[:-1]]
    assert np.abs(after).mean() < 0.5 * np.abs(before).mean()  # the fingers only drift now


def test_held_still_performers_keep_their_pose_but_lose_the_strokes() -> None:
    joints = random_joints(200, seed=5, missing=0.2)
    joints[50:60, :, :2] += 0.05 * joints[50:60, :, 2:]  # a quick stroke of every joint seen
    still = hold_still(joints.copy(), 90)
    missing = joints[..., 2] == 0
    assert np.array_equal(still[..., 2], joints[..., 2]) and np.all(still[missing][:, :2] == 0)
    seen = ~missing
    assert np.abs(still[seen][:, :2] - joints[seen][:, :2]).mean() < 0.05  # the pose stays where it was
    both = seen[1:] & seen[:-1]
    stroke = np.abs(np.diff(joints[..., :2], axis=0)[both]).max()
    assert np.abs(np.diff(still[..., :2], axis=0)[both]).max() < 0.2 * stroke
