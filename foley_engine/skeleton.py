"""The skeleton every stage agrees on: OpenPose BODY_25 body joints plus 21 joints per hand.

Joint order, names and bones live here once, so pose extraction, the preview renderer, the baseline and the
learned model's graph all index joints the same way.
"""

from __future__ import annotations

BODY_25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
BODY_INDEX = {name: i for i, name in enumerate(BODY_25)}

HAND_21 = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
HAND_INDEX = {name: i for i, name in enumerate(HAND_21)}
FINGERTIPS = tuple(HAND_INDEX[f"{finger}_tip"] for finger in ("thumb", "index", "middle", "ring", "pinky"))

#: Hand slots in every hands array: index 0 is the performer's left hand, 1 the right.
LEFT, RIGHT = 0, 1

BODY_BONES = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13),
    (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22), (22, 23),
    (11, 24),
)
HAND_BONES = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
    (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20),
)

#: The whole performer as one graph of 25 + 21 + 21 = 67 joints: body, then left hand, then right hand.
NUM_BODY_JOINTS = len(BODY_25)
NUM_HAND_JOINTS = len(HAND_21)
LEFT_HAND_OFFSET = NUM_BODY_JOINTS
RIGHT_HAND_OFFSET = NUM_BODY_JOINTS + NUM_HAND_JOINTS
NUM_JOINTS = NUM_BODY_JOINTS + 2 * NUM_HAND_JOINTS


def performer_graph_edges() -> list[tuple[int, int]]:
    """Bones of the 67-joint graph; the body's wrists link to the hands' wrists."""
    edges = list(BODY_BONES)
    for offset in (LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET):
        edges += [(a + offset, b + offset) for a, b in HAND_BONES]
    edges.append((BODY_INDEX["left_wrist"], LEFT_HAND_OFFSET + HAND_INDEX["wrist"]))
    edges.append((BODY_INDEX["right_wrist"], RIGHT_HAND_OFFSET + HAND_INDEX["wrist"]))
    return edges
