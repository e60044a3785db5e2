"""Previews that let a person check what the tracker saw: skeletons drawn over the video's own frames.

A .png is a contact sheet of evenly spaced frames (quick to look at, easy to attach to a bug report); an .mp4
is the whole range with the overlay. Left and right hands get distinct colours and an L / R tag, so a
swapped handedness is visible at a glance; joint dots go from red to green with confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

from . import video
from .errors import OutputError
from .keyboard import KeyboardGeometry, draw_keyboard
from .keyboard.follow import CameraMotion
from .keypoints import Keypoints
from .notes import Note
from .outputs import atomic_output
from .skeleton import BODY_BONES, HAND_BONES, LEFT, RIGHT

Progress = Callable[[float, str], None]
Colour = tuple[int, int, int]

SHEET_COLUMNS, SHEET_ROWS = 3, 2
_GAP = 6
# Colours are RGB: the frames come from the decoder as RGB and are converted once when written.
_BODY_COLOUR = (235, 235, 235)
_HAND_COLOUR = {LEFT: (40, 170, 255), RIGHT: (255, 130, 20)}
_HAND_TAG = {LEFT: "L", RIGHT: "R"}
_BACKGROUND = (24, 24, 24)
_VIDEO_TIME_BASE = Fraction(1, 90000)


def render_preview(
    video_path: str | Path,
    keypoints: Keypoints,
    out_path: str | Path,
    start: float | None = None,
    end: float | None = None,
    max_size: int = 640,
    progress: Progress | None = None,
    names: Sequence[str] = (),
    keys: KeysShown | None = None,
) -> Path:
    """Draw `keypoints` over the video in [start, end) (default: the keypoints' range) to a .png or .mp4.

    `names` labels the performers, left to right (e.g. their instruments); with several performers each is
    numbered in any case, matching the MIDI's track order and the hand tags. `keys` draws the key map the notes
    were read off and the keys down at each frame."""
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".png", ".mp4"):
        raise OutputError(f"cannot write preview {out_path.name}: the name must end in .png or .mp4")
    report = progress or (lambda fraction, message: None)
    info = video.probe(video_path)
    if start is None:
        start = keypoints.start
    if end is None:
        end = min(info.duration, keypoints.start + keypoints.num_frames / keypoints.rate)
    start, end = video.resolve_range(info, start, end)
    with atomic_output(out_path, "preview", parents=True) as temp:  # keeps the suffix, which picks the format
        if suffix == ".png":
            _write_sheet(info.path, keypoints, temp, start, end, max_size, report, names, keys)
        else:
            _write_video(info, keypoints, temp, start, end, max_size, report, names, keys)
    report(1.0, f"preview written to {out_path.name}")
    return out_path


@dataclass(frozen=True)
class KeysShown:
    """A keyboard to draw under the skeletons, and the notes read off it (seconds from `start`)."""

    geometry: KeyboardGeometry
    notes: Sequence[Note]
    start: float
    motion: CameraMotion | None = None  # where a moving camera took the keys, frame by frame

    def at(self, time: float) -> KeyboardGeometry:
        """The key map as the frame at video time `time` shows it."""
        return self.geometry if self.motion is None else self.motion.moved(self.geometry, time)


def _draw_keys(canvas: np.ndarray, keys: KeysShown, time: float) -> np.ndarray:
    """The key map, with the keys down at `time` filled: what was read, to check against the picture."""
    height, width = canvas.shape[:2]
    geometry = keys.at(time)
    size = geometry.frame_size  # the key map's pixels are those of the frames it was found in
    resized = (width, height) != tuple(size)
    drawn = draw_keyboard(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA) if resized else canvas, geometry)
    now = time - keys.start
    down = {note.pitch for note in keys.notes if note.start <= now < note.end}
    for key in geometry.keys:
        if key.pitch in down:
            cv2.fillPoly(drawn, [np.round(key.polygon * 8).astype(np.int32)], (255, 40, 40), cv2.LINE_AA, shift=3)
    return cv2.resize(drawn, (width, height), interpolation=cv2.INTER_LINEAR) if resized else drawn


def draw_overlay(image: np.ndarray, keypoints: Keypoints, time: float, names: Sequence[str] = (),
                 keys: KeysShown | None = None) -> np.ndarray:
    """A copy of the RGB `image` with every performer's skeleton at the sample nearest `time`, each labelled
    above its highest joint with its number and name (when there are several, or a name), and the time."""
    canvas = image.copy() if keys is None else _draw_keys(image.copy(), keys, time)
    height, width = canvas.shape[:2]
    scale = max(1.0, max(width, height) / 640)
    sample = round((time - keypoints.start) * keypoints.rate)
    if 0 <= sample < keypoints.num_frames:
        for performer in range(keypoints.num_performers):
            _draw_skeleton(canvas, keypoints.body[performer, sample], BODY_BONES, _BODY_COLOUR, scale)
            for side in (LEFT, RIGHT):
                hand = keypoints.hands[performer, sample, side]
                _draw_skeleton(canvas, hand, HAND_BONES, _HAND_COLOUR[side], scale)
                if hand[0, 2] > 0:
                    tag = _HAND_TAG[side] if keypoints.num_performers == 1 else f"{_HAND_TAG[side]}{performer + 1}"
                    at = (int(hand[0, 0] * width) + int(6 * scale), int(hand[0, 1] * height) + int(14 * scale))
                    _label(canvas, tag, at, scale, _HAND_COLOUR[side])
            name = names[performer] if performer < len(names) else ""
            if keypoints.num_performers > 1 or name:
                _label_performer(canvas, keypoints, performer, sample, f"{performer + 1} {name}".strip(), scale)
    _label(canvas, f"{time:.2f} s", (int(6 * scale), int(20 * scale)), scale, (255, 255, 255))
    return canvas


def _label_performer(canvas: np.ndarray, keypoints: Keypoints, performer: int, sample: int, text: str,
                     scale: float) -> None:
    anchor = keypoints.label_anchor(performer, sample)
    if anchor is not None:
        height, width = canvas.shape[:2]
        x = min(max(0, int(anchor[0] * width) - int(20 * scale)), width - int(80 * scale))
        y = max(int(40 * scale), int(anchor[1] * height) - int(8 * scale))
        _label(canvas, text, (x, y), scale * 1.2, (255, 235, 80))


def _draw_skeleton(
    canvas: np.ndarray, joints: np.ndarray, bones: Sequence[tuple[int, int]], colour: Colour, scale: float
) -> None:
    height, width = canvas.shape[:2]
    points = [tuple(point) for point in np.round(joints[:, :2] * (width, height)).astype(int).tolist()]
    seen = joints[:, 2] > 0
    for a, b in bones:
        if seen[a] and seen[b]:
            cv2.line(canvas, points[a], points[b], colour, max(1, int(2 * scale)), cv2.LINE_AA)
    for point, confidence in zip(points, joints[:, 2], strict=True):
        if confidence > 0:
            dot = (int(255 * (1 - confidence)), int(255 * confidence), 0)  # red (unsure) .. green (sure)
            cv2.circle(canvas, point, max(2, int(3 * scale)), dot, -1, cv2.LINE_AA)


def _label(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: Colour) -> None:
    """Text with a dark backing box, readable over any footage."""
    font, size, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, max(1, int(scale))
    (w, h), baseline = cv2.getTextSize(text, font, size, thickness)
    x, y = origin
    cv2.rectangle(canvas, (x - 3, y - h - 4), (x + w + 3, y + baseline), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), font, size, colour, thickness, cv2.LINE_AA)


def _write_sheet(
    path: Path, keypoints: Keypoints, out: Path, start: float, end: float, max_size: int, report: Progress,
    names: Sequence[str], keys: KeysShown | None,
) -> None:
    """A grid of evenly spaced frames with the overlay, each tile labelled with its time."""
    count = SHEET_COLUMNS * SHEET_ROWS
    tiles: list[np.ndarray | None] = []
    for i in range(count):
        target = start + (i + 0.5) * (end - start) / count
        frame = next(video.iter_frames(path, target, end, max_size), None)
        tiles.append(None if frame is None else draw_overlay(frame.image, keypoints, frame.time, names, keys))
        report((i + 1) / (count + 1), f"preview frame {i + 1}/{count}")
    shapes = [tile.shape for tile in tiles if tile is not None]
    if not shapes:
        raise OutputError(f"could not draw a preview: no frame found in {start:.2f}-{end:.2f} s of {path.name}")
    height, width = shapes[0][:2]
    sheet_shape = (SHEET_ROWS * (height + _GAP) + _GAP, SHEET_COLUMNS * (width + _GAP) + _GAP, 3)
    sheet = np.full(sheet_shape, _BACKGROUND, np.uint8)
    for i, tile in enumerate(tiles):
        if tile is not None:
            row, column = divmod(i, SHEET_COLUMNS)
            y, x = _GAP + row * (height + _GAP), _GAP + column * (width + _GAP)
            sheet[y:y + height, x:x + width] = tile[:height, :width]
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"could not encode the preview image {out.name}")
    out.write_bytes(encoded.tobytes())


def _write_video(
    info: video.VideoInfo, keypoints: Keypoints, out: Path, start: float, end: float, max_size: int,
    report: Progress, names: Sequence[str], keys: KeysShown | None,
) -> None:
    """The range with the overlay as H.264 (MPEG-4 Part 2 if this FFmpeg lacks libx264), on the source's times."""
    codec: Literal["libx264", "mpeg4"] = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(out), "w", format="mp4") as container:
        stream = None
        for count, frame in enumerate(video.iter_frames(info.path, start, end, max_size), start=1):
            image = draw_overlay(frame.image, keypoints, frame.time, names, keys)
            image = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]  # yuv420p needs even sizes
            if stream is None:
                stream = container.add_stream(codec, rate=info.frame_rate)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = stream.time_base = _VIDEO_TIME_BASE
                if codec == "libx264":
                    stream.options = {"crf": "23", "preset": "veryfast"}
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            picture.pts = round(Fraction(frame.time - start) / _VIDEO_TIME_BASE)
            picture.time_base = _VIDEO_TIME_BASE
            container.mux(stream.encode(picture))
            if count % 10 == 0:
                report(min(0.99, (frame.time - start) / (end - start)), f"preview video at {frame.time:.1f} s")
        if stream is None:
            raise OutputError(
                f"could not draw a preview: no frame found in {start:.2f}-{end:.2f} s of {info.path.name}"
            )
        container.mux(stream.encode())
