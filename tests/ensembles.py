"""Ensemble clips made at test time from real solo footage: several players placed side by side in one frame.

The shared recordings each show one player; an editor's duets, bands and lessons show several. Placing two to
four real players in one frame, at different scales, gives footage with real people and real motion whose
truth is known by construction: which player stands where, and whose soundtrack is whose. The clips are made
in a temp folder and never kept in the repository (the recordings' licences allow testing only).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass(frozen=True)
class Placement:
    """One solo clip drawn into the ensemble frame: fit into `box` (x, y, w, h), scaled by `scale` within it."""

    source: Path
    box: tuple[int, int, int, int]
    scale: float = 1.0  # < 1 stands the player further back: smaller, and lower in the box (feet on the floor)
    mirror: bool = False
    region: tuple[int, int, int, int] | None = None  # the part of the source shown (x, y, w, h): a closer shot


def _frames(path: Path, count: int, rate: float) -> list[np.ndarray]:
    """The first `count` frames of `path` resampled to `rate` by nearest time (the sources differ in rate)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [(float(frame.time), frame.to_ndarray(format="rgb24")) for frame in container.decode(stream)]
    times = np.array([t for t, _ in decoded])
    return [decoded[int(np.argmin(np.abs(times - (times[0] + k / rate))))][1] for k in range(count)]


def _fit(image: np.ndarray, box: tuple[int, int, int, int], scale: float, mirror: bool) -> tuple[np.ndarray, int, int]:
    """The image scaled to cover the box (cropped at the sides), then scaled by `scale`; and its top-left corner."""
    x, y, width, height = box
    source_h, source_w = image.shape[:2]
    cover = max(width / source_w, height / source_h)
    scaled = cv2.resize(image, (round(source_w * cover), round(source_h * cover)), interpolation=cv2.INTER_AREA)
    left = (scaled.shape[1] - width) // 2
    top = (scaled.shape[0] - height) // 2
    crop = scaled[top:top + height, left:left + width]
    if mirror:
        crop = crop[:, ::-1]
    if scale != 1.0:
        crop = cv2.resize(crop, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return crop, x + (width - crop.shape[1]) // 2, y + height - crop.shape[0]


def compose(out: Path, placements: list[Placement], size: tuple[int, int], seconds: float,
            rate: int = 30, background: int = 60, codec: str = "libx264") -> Path:
    """Write a clip (H.264 unless `codec` says otherwise) of `seconds` at `rate` fps showing every placement's
    player in its box."""
    count = round(seconds * rate)
    sources = [_frames(p.source, count, rate) for p in placements]
    width, height = size
    with av.open(str(out), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"} if codec == "libx264" else {"qscale": "6"}
        for k in range(count):
            canvas = np.full((height, width, 3), background, np.uint8)
            for placement, frames in zip(placements, sources, strict=True):
                frame = frames[k]
                if placement.region is not None:
                    x, y, w, h = placement.region
                    frame = frame[y:y + h, x:x + w]
                image, left, top = _fit(frame, placement.box, placement.scale, placement.mirror)
                canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
            container.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        container.mux(stream.encode())
    return out
