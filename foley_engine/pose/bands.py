"""A band of every frame, sampled by the pose workers while they decode: a second pass over the video saved.

A note source that reads the instrument in the frame (the keys) needs a little of every frame - a rectified
strip of the keyboard - and decoding a 1080p clip costs as much as a third of the pose stage. The workers
decode every frame anyway, so they also sample the band the source asks for and hand the rows back with the
keypoints.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..outputs import atomic_output


@dataclass(frozen=True)
class BandSampler:
    """A patch of the frame rectified by remap maps: R x W grey levels per frame, flattened to one row.

    The maps hold, for every sample of the patch, where it lies in a frame of `frame_size` (width, height)."""

    map_x: np.ndarray  # (R, W) float32 frame x of each sample
    map_y: np.ndarray  # (R, W) float32 frame y of each sample
    frame_size: tuple[int, int]

    def sample(self, image: np.ndarray) -> np.ndarray | None:
        """The patch's samples from an RGB frame (H x W x 3 uint8), row after row, as uint8; None for a frame of
        another size."""
        height, width = image.shape[:2]
        if (width, height) != self.frame_size:
            return None
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        band = cv2.remap(grey, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        row: np.ndarray = band.reshape(-1)
        return row

    @property
    def width(self) -> int:
        """Samples per frame."""
        return int(self.map_x.size)

    def digest(self) -> str:
        """A short hash of the maps and frame size: the key of its cached rows."""
        digest = hashlib.sha256(np.array(self.frame_size, np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.map_x).tobytes())
        digest.update(np.ascontiguousarray(self.map_y).tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: Path) -> None:
        np.savez(path, map_x=self.map_x, map_y=self.map_y, frame_size=np.array(self.frame_size, np.int64))

    @classmethod
    def load(cls, path: str | Path) -> BandSampler:
        with np.load(path) as data:
            width, height = (int(value) for value in data["frame_size"])
            return cls(data["map_x"].astype(np.float32), data["map_y"].astype(np.float32), (width, height))


@dataclass(frozen=True)
class BandRows:
    """The sampled band of every decoded frame of a range: rows[t] at video time times[t]."""

    times: np.ndarray  # (T,) float64 seconds, video clock
    rows: np.ndarray  # (T, W) uint8

    def save(self, path: Path) -> None:
        """Write atomically (a cache file: a crash must not leave half of one); a failing disk is OutputError."""
        encoded = io.BytesIO()
        np.savez(encoded, times=self.times, rows=self.rows)
        with atomic_output(path, "band cache file") as temp:
            temp.write_bytes(encoded.getbuffer())

    @classmethod
    def load(cls, path: Path, width: int) -> BandRows:
        """Rows written by save() for a band `width` samples wide; anything else is an InputError."""
        try:
            with np.load(path, allow_pickle=False) as data:
                times, rows = data["times"].astype(np.float64), data["rows"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise InputError(f"{path} is not a band cache file, or it is corrupt") from error
        if rows.shape != (len(times), width) or rows.dtype != np.uint8:
            raise InputError(f"{path} is not a band cache file, or it is corrupt")
        return cls(times, rows)
