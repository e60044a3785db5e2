"""Where guided notes start: the onset head's per-frame probabilities -> the frames a note must start on.

Two rules, each chosen on validation data (calibration.py) and stored in the checkpoint, and a floor:

- every peak above `threshold`: the head is sure;
- when the head is unsure, also the next-highest peaks, as many as `mass` x the summed probability of the span
  says there are. A head that cannot see the strikes - fingers the tracker does not follow, a camera looking
  down onto the keys - spreads its belief over many frames and leaves few peaks above any threshold, so
  thresholding alone plays next to nothing over a performer who is plainly playing, while the head's total
  probability still tracks how many notes there are (measured on synthetic validation clips with all motion
  smoothed over 3 s: 1.2x the true count, against 1.6x on clean clips). Where the head is sure, its mass sits
  on the peaks above the threshold, and few weak peaks join;
- never fewer onsets than the motion-onset baseline finds strikes in the span (`at_least`,
  `motion_onset_frames`), still placed on the head's strongest peaks. The head has only seen simulated
  players, so how many notes it believes in on real footage is not something validation data can tell
  (on the real top-down piano clip its expected count is about a third of the notes, 0.9 on synthetic
  validation clips, while its peaks rank the real onsets well); the baseline's strike count comes from
  fixed rules in hand lengths that do not depend on what the simulator taught. Those rules over-count some
  instruments (a strummed ukulele or guitar by up to 2.6x on validation clips), so each instrument's
  strikes are scaled by how many real onsets there are per strike on validation data
  (`ModelConfig.motion_floor_scale`, at most 1). The floor is a count only: the head still decides where the
  notes go.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from ..instruments import Instrument
from ..keypoints import Keypoints
from ..sources.baseline import generate_baseline
from .features import split_performer_joints


def onset_frames(probabilities: np.ndarray, threshold: float, mass: float = 0.0, since: int = 0,
                 at_least: int = 0) -> np.ndarray:
    """Sorted frame indices (from `since` on) of the guided onsets: peaks at least two frames apart, so one
    stroke gives one onset, that are above `threshold` or among the top max(round(mass * probability summed
    from `since`), `at_least`). Peaks are found on the whole curve, so the frame at `since` is no peak just
    for being first."""
    padded = np.concatenate([[0.0], probabilities, [0.0]])
    peaks, properties = find_peaks(padded, height=1e-6, distance=2)
    later = peaks - 1 >= since
    peaks, heights = peaks[later] - 1, properties["peak_heights"][later]
    chosen = heights >= threshold
    wanted = max(int(round(mass * float(np.sum(probabilities[since:])))), at_least)
    if wanted > np.count_nonzero(chosen):
        chosen[np.argsort(-heights, kind="stable")[:wanted]] = True
    onsets: np.ndarray = peaks[chosen]
    return onsets


def onset_times(probabilities: np.ndarray, threshold: float, steps_per_frame: float,
                mass: float = 0.0) -> np.ndarray:
    """onset_frames() of a whole curve as grid steps (sorted, unique) relative to its first frame."""
    frames = onset_frames(probabilities, threshold, mass)
    steps: np.ndarray = np.unique(np.round(frames * steps_per_frame).astype(int))
    return steps


def motion_onset_frames(joints: np.ndarray, rate: float, frame_size: tuple[int, int],
                        instrument: Instrument) -> np.ndarray:
    """Sorted frames (at `rate`) where the motion-onset baseline starts notes for one performer's (T, 67, 3)
    joints (features.performer_joints order), one per moment: starts less than two frames apart are one."""
    body, hands = split_performer_joints(joints.astype(np.float32))
    keypoints = Keypoints(rate, 0.0, body[None], hands[None], frame_size)
    return distinct_frames([note.start for note in generate_baseline(keypoints, instrument).tracks[0]], rate)


def distinct_frames(times: list[float] | np.ndarray, rate: float) -> np.ndarray:
    """Sorted frames (at `rate`) of onset `times`, one per moment: onsets less than two frames apart are one."""
    frames: np.ndarray = np.unique(np.round(np.asarray(times, dtype=float) * rate).astype(int))
    return frames[np.concatenate([[True], np.diff(frames) >= 2])] if len(frames) else frames


def motion_floor(motion: np.ndarray, begin: int, end: int, scale: float) -> int:
    """How many onsets the frames [begin, end) must get: `scale` x the motion-onset frames among them."""
    return round(scale * int(np.count_nonzero((motion >= begin) & (motion < end))))
