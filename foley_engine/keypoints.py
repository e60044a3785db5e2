"""Keypoints: what the pose stage hands every later stage - performers' joints on a fixed clock.

Kept apart from the pose stage's workers and cache so note sources, previews and tools can read keypoints
without importing the MediaPipe side.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .outputs import atomic_output
from .skeleton import HAND_INDEX, NUM_BODY_JOINTS, NUM_HAND_JOINTS

MODEL_RATE = 30.0  # keypoints are resampled to this fixed rate on the video's timestamps
#: A performer's two yardsticks converted into each other: a shoulder width is 3.3 hand lengths (wrist to
#: middle knuckle), a hand about 0.3 shoulder widths. The body's is the steadier; the hand's is there when only
#: hands are in frame (a keyboard seen from above). One number: the learned model was trained with 3.3.
SHOULDERS_PER_HAND = 3.3
HAND_PER_SHOULDER = 1 / SHOULDERS_PER_HAND
_FILE_FORMAT = "foley-keypoints"
_FILE_VERSION = 1
_WRIST, _MIDDLE_MCP = HAND_INDEX["wrist"], HAND_INDEX["middle_mcp"]


def pixel_square(frame_size: tuple[int, int], dtype: type[np.floating] = np.float64) -> np.ndarray:
    """(2,) factors for normalised (x, y): x times width / height, so both are in frame heights.

    Keypoints are normalised by the frame's width and height separately, so a length measured across them
    depends on which way it points until x is scaled back: every distance and speed is measured after this.
    """
    width, height = frame_size
    return np.array([width / height, 1.0], dtype)


def hand_lengths(hands_xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Wrist-to-middle-knuckle lengths of pixel-square hand joints (..., 21, 2) wherever `seen` (..., 21) has
    both: the samples of the hand-size yardstick (a median of them), flat, in no particular order."""
    both = seen[..., _WRIST] & seen[..., _MIDDLE_MCP]
    lengths: np.ndarray = np.linalg.norm(hands_xy[..., _MIDDLE_MCP, :] - hands_xy[..., _WRIST, :], axis=-1)[both]
    return lengths


@dataclass
class Keypoints:
    """Performers' joints on a fixed clock: sample k is at video time start + k / rate.

    x, y are normalised by the frame's width and height; [..., 2] is the confidence and 0 means missing.
    BODY_25's small toes have no MediaPipe counterpart and are always missing.
    """

    rate: float
    start: float  # video-clock time (s) of sample 0 (= range start)
    body: np.ndarray  # (P, T, 25, 3) float32, OpenPose BODY_25 order
    hands: np.ndarray  # (P, T, 2, 21, 3) float32; [:, :, skeleton.LEFT] = performer's left hand
    frame_size: tuple[int, int]  # (width, height) of the source video, to undo the aspect squash

    @property
    def times(self) -> np.ndarray:
        """Video-clock time of every sample."""
        return self.start + np.arange(self.num_frames) / self.rate

    @property
    def num_performers(self) -> int:
        return int(self.body.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.body.shape[1])

    def performer(self, index: int) -> Keypoints:
        """Performer `index` alone, so a part can be generated for one player of an ensemble."""
        return self.performers([index])

    def performers(self, indices: Sequence[int]) -> Keypoints:
        """Performers `indices` alone, in that order: a band's drummers, played by a source of their own."""
        chosen = list(indices)
        return Keypoints(self.rate, self.start, self.body[chosen], self.hands[chosen], self.frame_size)

    def screen_box(self, index: int) -> tuple[float, float, float, float] | None:
        """Where performer `index` was seen: (x0, y0, x1, y1) normalised, the 5th to 95th percentile of the
        joints seen over the range (robust to a stray joint); None if never seen."""
        joints = np.concatenate([self.body[index].reshape(-1, 3), self.hands[index].reshape(-1, 3)])
        inside = np.all((joints[:, :2] >= 0) & (joints[:, :2] <= 1), axis=1)
        seen = joints[inside & (joints[:, 2] >= 0.5), :2]  # not the legs Pose guesses below the frame
        if not len(seen):
            seen = joints[inside & (joints[:, 2] > 0), :2]
        if not len(seen):
            return None
        low, high = np.percentile(seen, 5, axis=0), np.percentile(seen, 95, axis=0)
        return (round(float(low[0]), 4), round(float(low[1]), 4), round(float(high[0]), 4), round(float(high[1]), 4))

    def label_anchor(self, performer: int, sample: int) -> tuple[float, float] | None:
        """Where a performer's name is drawn (normalised x, y): above their highest joint seen in the frame at
        `sample`, horizontally at the median joint; None if no joint of theirs is in the frame then."""
        joints = np.concatenate([self.body[performer, sample], self.hands[performer, sample].reshape(-1, 3)])
        inside = (joints[:, 2] > 0) & np.all((joints[:, :2] >= 0) & (joints[:, :2] <= 1), axis=1)
        if not inside.any():
            return None
        seen = joints[inside, :2]
        return float(np.median(seen[:, 0])), float(seen[:, 1].min())

    def save(self, path: str | Path) -> None:
        """Write an .npz atomically, so a crash never leaves a half-written file under the final name.

        The archive is built in memory and written in one go: a zip writer that a full disk stops half way
        prints a traceback from its __del__ long after the error was handled. A failing disk is OutputError.
        """
        path = Path(path)
        encoded = io.BytesIO()
        np.savez_compressed(
            encoded, format=np.array(_FILE_FORMAT), version=np.array(_FILE_VERSION),
            rate=np.array(self.rate), start=np.array(self.start), body=self.body, hands=self.hands,
            frame_size=np.array(self.frame_size, np.int64),
        )
        with atomic_output(path, "keypoints file", parents=True) as temp:
            temp.write_bytes(encoded.getbuffer())

    @classmethod
    def load(cls, path: str | Path) -> Keypoints:
        """Read a file written by save(); anything else raises InputError."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"keypoints file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != _FILE_FORMAT or int(data["version"]) != _FILE_VERSION:
                    raise ValueError("foreign format or version")
                body, hands = data["body"].astype(np.float32), data["hands"].astype(np.float32)
                width, height = (int(v) for v in data["frame_size"])
                keypoints = cls(float(data["rate"]), float(data["start"]), body, hands, (width, height))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} is not a Foley keypoints file, or it is corrupt") from exc
        performers, frames = body.shape[:2] if body.ndim == 4 else (-1, -1)
        if body.shape[2:] != (NUM_BODY_JOINTS, 3) or hands.shape != (performers, frames, 2, NUM_HAND_JOINTS, 3):
            raise InputError(f"{path} is not a Foley keypoints file, or it is corrupt (unexpected array shapes)")
        # Every stage downstream takes a seen joint's x, y at face value: NaN would spread into the notes.
        joints = np.concatenate([body.reshape(-1, 3), hands.reshape(-1, 3)])
        confidence = joints[:, 2]
        if (not np.all((confidence >= 0) & (confidence <= 1)) or not np.isfinite(joints[confidence > 0, :2]).all()
                or not (np.isfinite(keypoints.rate) and keypoints.rate > 0 and np.isfinite(keypoints.start))):
            raise InputError(f"{path} is not a Foley keypoints file, or it is corrupt (values that are not numbers)")
        return keypoints
