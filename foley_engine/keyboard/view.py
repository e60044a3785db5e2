"""Which keys a press of cannot be seen on: the side walls a press bares are only seen at an angle.

A key going down bares its neighbours' side walls (and its own, for a black key): vertical faces, so a camera
sees one of them only as far as it looks across the keys, and from straight above not at all. The press
evidence (presses.py) reads those walls, so the keys right under the camera show almost no press: on the
shared top-down clip every key from C#4 to F4, where E4, played 18 times, is never read (README, Keyboards).
Their own tops darken a little as they go down: presses.py reads the white ones from there too, against their
neighbours' tops so that a hand's shadow is not a press, but that signal is faint (half of the shared clip's
E4s) and a black key's top shows nothing. The summary names these keys, so a user knows where notes are
likely to be missing.

The camera is placed from the keyboard's homography (Zhang's plane calibration: the principal point at the
frame's centre, square pixels, the focal length from the two constraints on the plane's axes); seen from
nearly straight above the focal length cannot be told from the picture, and a phone's or webcam's usual
one is taken. A key's visibility is the width, in pixels, its walls are seen when it is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .geometry import KeyboardGeometry

#: A white key's visible length in white-key widths (150 mm by 23.5 mm on pianos and most keyboards).
KEY_LENGTH = 150 / 23.5
#: How far a pressed key's top sinks in the sampled zone near the fallboard (white-key widths, about 5 mm).
ZONE_DROP = 0.2
#: The focal length assumed where the picture cannot tell it, in the frame's longer sides (a 64-degree view).
USUAL_FOCAL = 0.8
#: Focal lengths believed from the picture, in the frame's longer sides.
FOCAL_RANGE = (0.3, 5.0)
#: Walls seen narrower than this (pixels) show no press: C#4-F4 on the shared clip (0.004-0.05 px), while C4
#: (0.07 px) and G4 (0.1 px) show theirs clearly.
UNSEEN_WALL_PIXELS = 0.06


def camera_centre(geometry: KeyboardGeometry) -> np.ndarray:
    """(3,) the camera's centre in keyboard-plane coordinates scaled to white-key widths on both axes (x along
    the keyboard, y from the fallboard towards the player, z its height above the keys)."""
    width, height = geometry.frame_size
    centred = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
    plane = centred @ geometry.homography @ np.diag([1.0, 1.0 / KEY_LENGTH, 1.0])
    plane = plane / np.linalg.norm(plane[:, 0])
    first, second = plane[:, 0], plane[:, 1]
    design = np.array([first[0] * second[0] + first[1] * second[1],
                       first[0] ** 2 + first[1] ** 2 - second[0] ** 2 - second[1] ** 2])
    target = np.array([-first[2] * second[2], second[2] ** 2 - first[2] ** 2])
    inverse_square = float(design @ target / max(float(design @ design), 1e-30))
    longer = max(width, height)
    focal = USUAL_FOCAL * longer
    if inverse_square > 0 and FOCAL_RANGE[0] * longer < inverse_square ** -0.5 < FOCAL_RANGE[1] * longer:
        focal = inverse_square ** -0.5
    unprojected = np.diag([1 / focal, 1 / focal, 1.0]) @ plane
    scale = np.linalg.norm(unprojected[:, 0])
    along = unprojected[:, 0] / scale
    across = unprojected[:, 1] / scale
    across = across - along * (along @ across)
    across /= np.linalg.norm(across)
    rotation = np.stack([along, across, np.cross(along, across)], axis=1)
    centre: np.ndarray = -rotation.T @ (unprojected[:, 2] / scale)
    centre[2] = abs(centre[2])
    return centre


def wall_pixels(geometry: KeyboardGeometry) -> np.ndarray:
    """(K,) for every key, how wide (frame pixels) the side wall a press of it bares is seen, at the middle of
    its part near the fallboard: ZONE_DROP times how far across the keys the camera looks there, in pixels."""
    centre = camera_centre(geometry)
    far = geometry.to_plane(np.concatenate([key.far_end for key in geometry.keys])).reshape(-1, 4, 2).mean(axis=1)
    slope = np.abs(far[:, 0] - centre[0]) / max(float(centre[2]), 1e-6)
    ends = geometry.to_frame(np.concatenate([far - [0.5, 0.0], far + [0.5, 0.0]]))
    per_white = np.linalg.norm(ends[len(far):] - ends[:len(far)], axis=1)
    seen: np.ndarray = ZONE_DROP * slope * per_white
    return seen


def keys_under_camera(geometry: KeyboardGeometry) -> list[int]:
    """The pitches of the keys whose presses bare no wall the camera can see (lowest first): the few in line
    with the camera along the keyboard, under it or straight ahead of it; none for a camera beyond an end."""
    seen = wall_pixels(geometry)
    return sorted(key.pitch for key, width in zip(geometry.keys, seen, strict=True) if width < UNSEEN_WALL_PIXELS)
