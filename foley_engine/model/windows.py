"""Windows over a long clip: where each one starts and resumes, what its encoder sees, and the notes that carry
across a seam (generate.py's docstring says why the windows overlap and how a held note stays one note).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..notes import Note
from .features import pose_features

_FAR_STEPS = 10**9  # the end given to a note still sounding when a window is primed


@dataclass
class TrackState:
    """The notes one performer x variation has so far, on the clip's grid (steps)."""

    notes: list[tuple[int, int, int, int]] = field(default_factory=list)  # closed (start, end, pitch, velocity)
    sounding: dict[int, tuple[int, int]] = field(default_factory=dict)  # pitch -> (start, velocity)

    def context(self, since: int, steps_per_second: int) -> list[Note]:
        """Notes that touch the time from `since` on, open ones with a far end, for priming a window."""
        sps = steps_per_second
        closed = [Note(s / sps, e / sps, p, v) for s, e, p, v in self.notes if e > since]
        return closed + [Note(s / sps, _FAR_STEPS / sps, p, v) for p, (s, v) in self.sounding.items()]

    def finish(self, end: int, steps_per_second: int) -> list[Note]:
        """All notes in seconds, sounding ones closed at `end`."""
        closed = self.notes + [(s, end, p, v) for p, (s, v) in self.sounding.items() if end > s]
        return sorted(Note(s / steps_per_second, e / steps_per_second, p, v) for s, e, p, v in closed)


def plan_windows(total: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """(start, resume, end) grid steps of each window; writing happens in [resume, end), end-to-end."""
    if window <= overlap:
        raise ValueError("window must be longer than its overlap")
    plans, resume = [], 0
    while True:
        start = max(0, resume - overlap)
        end = min(total, start + window)
        plans.append((start, resume, end))
        if end >= total:
            return plans
        resume = end


def window_inputs(joints: list[np.ndarray], frame_size: tuple[int, int], rate: float, first: int,
                  count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder inputs of frames [first, first + count) for each performer; frames past the clip are unseen."""
    features, masks = [], []
    for performer in joints:
        chunk = np.zeros((count, *performer.shape[1:]), np.float32)
        available = performer[first:first + count]
        chunk[:len(available)] = available
        f, m = pose_features(chunk, frame_size, rate)
        features.append(f)
        masks.append(m)
    return torch.from_numpy(np.stack(features)), torch.from_numpy(np.stack(masks))


def resample_joints(joints: np.ndarray, rate: float, target: float) -> np.ndarray:
    """Nearest-sample resampling of (T, 67, 3) joints to the model's frame rate (no invented positions)."""
    if abs(rate - target) < 1e-6:
        return joints
    count = max(1, int(round(len(joints) * target / rate)))
    index = np.clip(np.round(np.arange(count) * rate / target).astype(int), 0, len(joints) - 1)
    resampled: np.ndarray = joints[index]
    return resampled
