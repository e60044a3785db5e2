"""Drawn footage of a drummer whose sticks, not wrists, make the strokes: a video with known hit times.

Like the shared snare clip's player, the hands barely move (a tenth of the stick's tip); the sticks, thin
light lines on a dark stage, pivot at the hands and hit the drum head at the times given per hand. The
keypoints are written beside it (the wrists where the hands are drawn), so the strike source's reading of the
pixels is tested without depending on the pose model's view of a drawing.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from foley_engine.keypoints import Keypoints
from foley_engine.skeleton import BODY_INDEX, LEFT, RIGHT

#: The scene in normalised frame heights (x is scaled by the aspect): shoulders 0.16 wide, so one hand length
#: (baseline._scale: shoulders / 3.3) is about 0.048 frame heights.
NECK = np.array([0.50, 0.30])
SHOULDER_WIDTH = 0.16
HAND = SHOULDER_WIDTH / 3.3
#: The performer faces the camera: their right hand is on the image's left.
WRISTS = {RIGHT: np.array([0.42, 0.62]), LEFT: np.array([0.58, 0.62])}
HEAD_Y = 0.72  # the drum head's height where the sticks land
STICK_REACH = 2.0 * HAND  # how far the tip lies beyond the hand, sideways towards the drum's centre


def stroke_heights(times: np.ndarray, hits: list[float], lift: float, half: float = 0.07) -> np.ndarray:
    """Height of a stick's tip above the head at `times`: it rests `lift` above, comes down at a constant
    speed over `half` seconds and bounces straight back at each of `hits`."""
    if not hits:
        return np.full(len(times), lift)
    distance = np.min(np.abs(times[:, None] - np.asarray(hits)[None, :]), axis=1)
    return lift * np.minimum(1.0, distance / half)


def wrist_drops(times: np.ndarray, hits: dict[int, list[float]], lift: float, hands: bool) -> dict[int, np.ndarray]:
    """How far each wrist is below its place at rest (frame heights): a tenth of the stick's tip's travel, or
    all of it when the hands themselves strike (`hands`: a hand drum)."""
    share = 1.0 if hands else 0.1
    return {hand: share * (lift - stroke_heights(times, hits.get(hand, []), lift)) for hand in (LEFT, RIGHT)}


def draw_drummer(out: Path, hits: dict[int, list[float]], seconds: float, size: tuple[int, int] = (640, 360),
                 rate: int = 30, lift: float = 1.2 * HAND, camera: np.ndarray | None = None,
                 hands: bool = False, shot_rate: float | None = None) -> Path:
    """Write an H.264 video of the drummer; `hits` maps skeleton.LEFT/RIGHT to that hand's hit times (s). `camera`
    (frames, 3), if given, moves the whole picture frame by frame: (dx, dy) frame heights, then a zoom factor
    about the frame's centre (a hand-held camera, a zoom). With `hands`, there are no sticks: the hands, on
    their forearms, strike the head themselves (a hand drum). With `shot_rate` (below `rate`), the motion is
    filmed at that rate and delivered at `rate` by repeating frames (a 24 fps film converted to 30 fps): each
    frame shows the newest shot at or before its time, under fresh grain, so that a repeat is not
    bit-identical to its original, as after a re-encode."""
    width, height = size
    aspect = width / height
    frames = round(seconds * rate)
    times = np.arange(frames) / rate
    if shot_rate is not None:
        times = np.floor(times * shot_rate + 1e-9) / shot_rate
    grain = np.random.default_rng(11)
    heights = {hand: stroke_heights(times, hits.get(hand, []), lift) for hand in (LEFT, RIGHT)}
    drops = wrist_drops(times, hits, lift, hands)
    # a dim stage with blotches a few percent of the frame across (curtains, floorboards): something a camera's
    # motion shows in, as in real rooms, which pixel noise would not be after the encoder
    blotches = cv2.GaussianBlur(np.random.default_rng(7).normal(0, 1, (height, width)), (0, 0), 0.01 * height)
    texture = np.clip(28 + 12 * blotches / blotches.std(), 0, 255).astype(np.uint8)
    stage = np.repeat(texture[..., None], 3, axis=2)

    def pixel(point: np.ndarray) -> tuple[int, int]:
        return int(round(point[0] / aspect * width)), int(round(point[1] * height))

    centre = np.array([NECK[0] * aspect, HEAD_Y])
    cv2.ellipse(stage, pixel(centre), (int(0.16 * height), int(0.04 * height)), 0, 0, 360, (200, 200, 190), -1)
    cv2.rectangle(stage, pixel(np.array([(NECK[0] - 0.06) * aspect, NECK[1]])),
                  pixel(np.array([(NECK[0] + 0.06) * aspect, 0.58])), (40, 40, 60), -1)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for index in range(frames):
            canvas = stage.copy()
            for hand, toward in ((RIGHT, 1.0), (LEFT, -1.0)):
                wrist = WRISTS[hand] * [aspect, 1.0] + [0.0, drops[hand][index]]
                if hands:
                    elbow = wrist + [-toward * 1.5 * HAND, -2.0 * HAND]
                    cv2.line(canvas, pixel(elbow), pixel(wrist), (60, 60, 90), max(2, round(0.35 * HAND * height)),
                             cv2.LINE_AA)
                else:
                    tip = np.array([wrist[0] + toward * STICK_REACH, HEAD_Y - heights[hand][index]])
                    cv2.line(canvas, pixel(wrist), pixel(tip), (200, 170, 120), max(1, round(0.006 * height)),
                             cv2.LINE_AA)
                cv2.circle(canvas, pixel(wrist), max(2, round(0.45 * HAND * height)), (150, 120, 100), -1)
            if camera is not None:
                dx, dy, zoom = camera[index]
                moved = np.float32([[zoom, 0, (1 - zoom) * width / 2 + dx * height],
                                    [0, zoom, (1 - zoom) * height / 2 + dy * height]])
                canvas = cv2.warpAffine(canvas, moved, (width, height), borderMode=cv2.BORDER_REFLECT)
            if shot_rate is not None:
                canvas = np.clip(canvas + grain.normal(0, 2.0, canvas.shape), 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        container.mux(stream.encode())
    return out


def drummer_keypoints(seconds: float, size: tuple[int, int] = (640, 360), rate: float = 30.0,
                      camera: np.ndarray | None = None, hits: dict[int, list[float]] | None = None,
                      lift: float = 1.2 * HAND) -> Keypoints:
    """The drawn drummer's keypoints: shoulders, neck and the wrists where the hands are drawn at rest (with
    sticks, their tenth of the tip's travel is left out: the keypoints show no stroke, as on the real snare
    clip); with `hits`, the wrists strike as draw_drummer's hands do with `hands`. Moved with the picture by
    draw_drummer's `camera` (at the same rate)."""
    frames = round(seconds * rate)
    aspect = size[0] / size[1]
    body = np.zeros((1, frames, 25, 3), np.float32)
    half = SHOULDER_WIDTH / 2
    places = {"neck": NECK, "nose": NECK - [0, 0.08], "right_shoulder": NECK + [-half / aspect, 0],
              "left_shoulder": NECK + [half / aspect, 0], "right_wrist": WRISTS[RIGHT],
              "left_wrist": WRISTS[LEFT], "mid_hip": NECK + [0, 0.3]}
    for name, place in places.items():
        body[0, :, BODY_INDEX[name], :2] = place
        body[0, :, BODY_INDEX[name], 2] = 0.9
    if hits is not None:
        drops = wrist_drops(np.arange(frames) / rate, hits, lift, hands=True)
        for hand, joint in ((RIGHT, "right_wrist"), (LEFT, "left_wrist")):
            body[0, :, BODY_INDEX[joint], 1] += drops[hand]
    if camera is not None:
        shift, zoom = camera[:frames, None, :2] / [aspect, 1.0], camera[:frames, None, 2:]
        body[0, :, :, :2] = 0.5 + zoom * (body[0, :, :, :2] - 0.5) + shift
    return Keypoints(rate, 0.0, body, np.zeros((1, frames, 2, 21, 3), np.float32), size)
