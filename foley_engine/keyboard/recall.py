"""Keyboards found before: kept on disk beside the keypoints, and reused for another range of the same video
once they are seen to still fit its frames.

Looking for a keyboard costs a second or two of CPU a clip (decoding frames spread over the range, then the
search), as much as the pose stage of a short clip. A timeline cut from one long recording asks for it again
for every clip, and a second run of the same clip (another instrument, another seed) asks for it again too.
The camera mostly stays put, but not always - so a keyboard found in another range is only taken after a
quick check on keyframes of this one (one decoded frame each, `still_fits`): every black key must still be
darker than the white keys on both sides of it, at both of its sides and from its back to its tip. A camera
moved by a quarter of a key across the keyboard or a third of a key's length along it, zoomed out by 5 %
or turned by 4 degrees fails it (tests/test_keyboard_recall.py), and the keyboard is looked for anew.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import OutputError
from ..outputs import write_json
from .blobs import sample
from .geometry import KeyboardGeometry

#: Bump when detection changes in a way that makes remembered keyboards stale.
RECALL_VERSION = 1
#: Keyboards remembered per video (a timeline of many clips of one recording: the newest are kept).
MAX_REMEMBERED = 64
#: Where a black key is sampled: across, either side of its middle (a share of its own width); along, from
#: near the fallboard to near its tip (shares of its length), so that a camera moved along the keys fails too.
BLACK_SIDES = (-0.3, 0.3)
BLACK_DEPTHS = (0.15, 0.5, 0.85)
#: ... and its white neighbours: the middle of the strip between the black keys, at these shares of its length.
WHITE_DEPTHS = (0.35, 0.65)
#: Share of the black keys in view that must still be darker than both white neighbours, by at least this
#: share of the keyboard's white-black contrast (hands cover a few), and the least contrast that counts.
MIN_AGREEING = 0.8
MARGIN = 0.25
MIN_CONTRAST = 20.0


def still_fits(geometry: KeyboardGeometry, image: np.ndarray) -> bool:
    """Whether `geometry` still describes the keyboard in `image` (RGB, of the size it was found at)."""
    height, width = image.shape[:2]
    if (width, height) != geometry.frame_size:
        return False
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (3, 3), 0).astype(np.float32)
    index = {key.pitch: number for number, key in enumerate(geometry.keys)}
    blacks = [key for key in geometry.keys if key.black and key.pitch - 1 in index and key.pitch + 1 in index]
    if len(blacks) < 4:
        return False
    dark = np.array([_sample(grey, key.polygon, BLACK_SIDES, BLACK_DEPTHS).max() for key in blacks])
    light = np.array([[_sample(grey, geometry.keys[index[key.pitch + side]].far_end, (0.0,), WHITE_DEPTHS).min()
                       for side in (-1, 1)] for key in blacks]).min(axis=1)
    inside = np.isfinite(dark) & np.isfinite(light)
    if inside.sum() < 4:
        return False
    contrast = float(np.median(light[inside]) - np.median(dark[inside]))
    agreeing = light[inside] - dark[inside] > MARGIN * contrast
    return contrast >= MIN_CONTRAST and float(agreeing.mean()) >= MIN_AGREEING


def _sample(grey: np.ndarray, quad: np.ndarray, across: Sequence[float], depths: Sequence[float]) -> np.ndarray:
    """Grey levels at points of a key's quad (fallboard-left, fallboard-right, player-right, player-left): at
    each of `across` (a share of its width either side of its middle) and each of `depths` (shares of its
    length from the fallboard); NaN outside the frame."""
    quad = np.asarray(quad, np.float64)
    points = []
    for depth in depths:
        left = quad[0] + depth * (quad[3] - quad[0])
        right = quad[1] + depth * (quad[2] - quad[1])
        points += [left + (0.5 + share) * (right - left) for share in across]
    return sample(grey, np.array(points))


class RememberedKeyboards:
    """The keyboards found in ranges of one video (by its content hash), in `directory`: None for a range
    where none was found. A cache: a file that cannot be read is as if empty, one that cannot be written only
    costs time on the next run."""

    def __init__(self, directory: Path, content_hash: str) -> None:
        self.path = Path(directory) / f"{content_hash}.json"

    def _entries(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(data, dict) or data.get("version") != RECALL_VERSION:
            return []
        entries = data.get("ranges")
        return [entry for entry in entries if _well_formed(entry)] if isinstance(entries, list) else []

    def found(self, start: float, end: float) -> tuple[bool, KeyboardGeometry | None]:
        """(whether this very range was looked at before, what was found there)."""
        for entry in self._entries():
            if _same_range(entry, start, end):
                return True, _geometry(entry)
        return False, None

    def elsewhere(self, start: float, end: float) -> list[KeyboardGeometry]:
        """Keyboards found in other ranges of the video, each distinct one once: those found over the longest
        ranges first (more frames, with the hands elsewhere, show more keys), then the nearest in time."""
        middle = (start + end) / 2
        entries = sorted(self._entries(), key=lambda entry: (-(entry["end"] - entry["start"]),
                                                             abs((entry["start"] + entry["end"]) / 2 - middle)))
        distinct: dict[bytes, KeyboardGeometry] = {}
        for entry in entries:
            geometry = _geometry(entry)
            if geometry is not None:
                distinct.setdefault(np.round(geometry.homography, 6).tobytes(), geometry)
        return list(distinct.values())

    def remember(self, start: float, end: float, geometry: KeyboardGeometry | None) -> None:
        entries = [entry for entry in self._entries() if not _same_range(entry, start, end)]
        entries.append({"start": round(start, 6), "end": round(end, 6),
                        "geometry": None if geometry is None else geometry.to_json()})
        with contextlib.suppress(OSError, OutputError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, {"version": RECALL_VERSION, "ranges": entries[-MAX_REMEMBERED:]})


def _well_formed(entry: object) -> bool:
    return (isinstance(entry, dict) and all(isinstance(entry.get(name), (int, float)) for name in ("start", "end"))
            and (entry.get("geometry") is None or isinstance(entry["geometry"], dict)))


def _same_range(entry: dict, start: float, end: float) -> bool:
    return bool(abs(entry["start"] - start) < 1e-6 and abs(entry["end"] - end) < 1e-6)


def _geometry(entry: dict) -> KeyboardGeometry | None:
    data = entry.get("geometry")
    if data is None:
        return None
    try:
        return KeyboardGeometry.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None
