"""Training windows from example shards: random crops of one performer, tokenised exactly as generation does.

Each crop is a window of the model's length; most are primed (their first `overlap` seconds are the prefix,
as every window after a clip's first is at generation time), the rest start cold like a clip's first window.
Augmentation on top of what the synthetic camera already varies: tracker jitter, dropped joints and hands
(real trackers lose hands far more often than clean data suggests), and hands whose fingers the tracker does
not follow. MediaPipe seen from above often regresses towards a smooth, typical hand instead of following a
finger into a key; a model trained only on crisp synthetic fingers then trusts nothing else and goes quiet on
real footage (measured: blurring synthetic validation fingers over 0.3 s halves its note density). With
such windows in training it has to use the hands' travel and the music itself as well. Some windows go
further and show no playing motion at all (every joint smoothed over 1-4 s) while the notes go on: on real
top-down piano no keypoint moves with the notes, and a head that has only seen strokes before notes reads
that as silence instead of as "playing, timing unseen".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d

from ..data.shards import Example, read_shard
from ..errors import InputError
from ..instruments import Instrument, get_instrument
from ..keypoints import pixel_square
from ..model.features import frame_reference, performer_joints, pose_features
from ..model.network import ModelConfig
from ..model.sequences import encode_window
from ..model.vocabulary import NUM_PITCHES, PAD_TOKEN, EventVocabulary
from ..model.windows import resample_joints
from ..notes import Note
from ..skeleton import LEFT_HAND_OFFSET, NUM_HAND_JOINTS, RIGHT_HAND_OFFSET

_HANDS = (slice(LEFT_HAND_OFFSET, LEFT_HAND_OFFSET + NUM_HAND_JOINTS),
          slice(RIGHT_HAND_OFFSET, RIGHT_HAND_OFFSET + NUM_HAND_JOINTS))


@dataclass
class Performer:
    """One performer of one example: joints at the model's rate (float16 to halve memory) and notes."""

    joints: np.ndarray  # (T, 67, 3) float16
    notes: list[Note]
    instrument: Instrument
    frame_size: tuple[int, int]
    source: str


def shard_paths(directories: list[str | Path], split: str) -> list[Path]:
    """Shards of one split in the given dataset folders (named SPLIT-NNNNN.npz), in a stable order."""
    paths = []
    for directory in directories:
        directory = Path(directory)
        if not directory.is_dir():
            raise InputError(f"dataset folder not found: {directory}")
        paths += sorted(directory.glob(f"{split}-*.npz"))
    return paths


def performers_of(examples: list[Example], rate: float) -> list[Performer]:
    result = []
    for example in examples:
        kp = example.keypoints
        instrument = get_instrument(example.instrument)
        for p, track in enumerate(example.tracks):
            joints = resample_joints(performer_joints(kp.body[p], kp.hands[p]), kp.rate, rate)
            result.append(Performer(joints.astype(np.float16), sorted(track), instrument, kp.frame_size,
                                    example.source))
    return result


def load_performers(directories: list[str | Path], split: str, rate: float, shard: int = 0,
                    shards: int = 1) -> list[Performer]:
    """Performers of a split; with `shards` > 1 only every shards-th file from `shard` (one DDP rank's part)."""
    paths = shard_paths(directories, split)
    if shards > 1 and len(paths) >= shards:
        paths = paths[shard::shards]
    return [p for path in paths for p in performers_of(read_shard(path), rate)]


@dataclass
class Window:
    features: np.ndarray  # (F, 67, 5)
    mask: np.ndarray  # (F, 67)
    tokens: list[int]
    times: list[int]
    prefix: int
    instrument: Instrument
    onsets: np.ndarray  # (F, 1 + 128): a note starts in this frame; which pitches start


@dataclass
class Batch:
    features: torch.Tensor
    mask: torch.Tensor
    instrument_ids: torch.Tensor
    inputs: torch.Tensor  # (B, L) tokens fed
    times: torch.Tensor  # (B, L) grid steps after each fed token
    targets: torch.Tensor  # (B, L) next tokens, PAD where no loss is taken (prefix, padding)
    onsets: torch.Tensor  # (B, F, 1 + 128) per-frame onset targets

    @property
    def tokens(self) -> int:
        return int((self.targets != PAD_TOKEN).sum())


class WindowSampler:
    """Draws training windows; deterministic given its numpy Generator."""

    def __init__(self, performers: list[Performer], config: ModelConfig, primed_probability: float = 0.7,
                 augment: bool = True) -> None:
        if not performers:
            raise InputError("no training examples found (expected SPLIT-NNNNN.npz shards in the data folders)")
        self.performers, self.config = performers, config
        self.vocabulary: EventVocabulary = config.vocabulary
        self.frames = round(config.window * config.rate)
        weights = np.array([len(p.joints) for p in performers], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.primed_probability, self.augment = primed_probability, augment

    def window(self, rng: np.random.Generator, performer: Performer | None = None,
               first: int | None = None, primed: bool | None = None) -> Window:
        """One window: random performer/position/priming unless given."""
        if performer is None:
            performer = self.performers[rng.choice(len(self.performers), p=self.weights)]
        if first is None:
            first = int(rng.integers(0, max(1, len(performer.joints) - self.frames) + 1))
        if primed is None:
            primed = rng.random() < self.primed_probability
        joints = np.zeros((self.frames, *performer.joints.shape[1:]), np.float32)
        chunk = performer.joints[first:first + self.frames].astype(np.float32)
        joints[:len(chunk)] = chunk
        if self.augment:
            joints = self._augment(joints, rng, performer.frame_size)
        features, mask = pose_features(joints, performer.frame_size, self.config.rate)
        start = first / self.config.rate
        resume = start + self.config.overlap if primed else None
        encoded = encode_window(performer.notes, self.vocabulary, start, start + self.config.window, resume)
        return Window(features, mask, encoded.tokens, encoded.times, encoded.prefix, performer.instrument,
                      self._onsets(performer.notes, start))

    def _onsets(self, notes: list[Note], start: float) -> np.ndarray:
        onsets = np.zeros((self.frames, 1 + NUM_PITCHES), np.float32)
        for note in notes:
            frame = round((note.start - start) * self.config.rate)
            if 0 <= frame < self.frames:
                onsets[frame, 0] = onsets[frame, 1 + note.pitch] = 1.0
        return onsets

    def _augment(self, joints: np.ndarray, rng: np.random.Generator, frame_size: tuple[int, int]) -> np.ndarray:
        """Strokes the tracker does not show (20 % of windows: no playing motion at all; 40 %: fingers that
        only drift), extra jitter (relative to the performer's size, as a tracker's is) and lost joints and
        hands."""
        hidden = rng.random()
        if hidden < 0.2:  # before the jitter, which stays
            joints = hold_still(joints, int(rng.integers(30, 120)))
        visible = joints[..., 2] > 0
        aspect = pixel_square(frame_size, np.float32)
        _, scale = frame_reference(joints[..., :2] * aspect, visible)
        noise = rng.normal(0.0, rng.uniform(0.0, 0.004) * scale, joints[..., :2].shape) / aspect
        joints[..., :2] += noise * visible[..., None]
        if 0.2 <= hidden < 0.6:
            joints = blur_fingers(joints, int(rng.integers(5, 25)))
        drop = rng.random(visible.shape) < rng.uniform(0.0, 0.03)  # single joints
        if rng.random() < 0.3:  # a hand lost for a stretch
            begin = int(rng.integers(0, len(joints)))
            drop[begin:begin + int(rng.integers(3, 45)), _HANDS[int(rng.integers(2))]] = True
        joints[drop] = 0.0
        return joints


def blur_fingers(joints: np.ndarray, frames: int) -> np.ndarray:
    """Each hand's joints relative to its wrist averaged over `frames` (the wrist itself untouched): the hand
    travels as before but its fingers only drift, as when a tracker does not follow them. Only frames that
    saw both the joint and its wrist take part; the others stay as they are."""
    for hand in _HANDS:
        part = joints[:, hand]
        seen = (part[..., 2] > 0) & (part[:, :1, 2] > 0)
        wrist = part[:, :1, :2]
        part[..., :2] = np.where(seen[..., None], wrist + _moving_average(part[..., :2] - wrist, seen, frames),
                                 part[..., :2])
    return joints


def hold_still(joints: np.ndarray, frames: int) -> np.ndarray:
    """Every joint's position averaged over `frames`: the performer's pose and slow travel stay, the strokes
    go - footage whose tracker shows none of the playing motion (a validation condition, calibration.py)."""
    seen = joints[..., 2] > 0
    joints[..., :2] = np.where(seen[..., None], _moving_average(joints[..., :2], seen, frames), joints[..., :2])
    return joints


def _moving_average(values: np.ndarray, seen: np.ndarray, frames: int) -> np.ndarray:
    """Mean of (T, ...) `values` over `frames` frames along time, counting only the frames marked `seen`."""
    weight = seen[..., None].astype(np.float32)
    total = uniform_filter1d(values * weight, frames, axis=0, mode="nearest")
    mean: np.ndarray = total / np.maximum(uniform_filter1d(weight, frames, axis=0, mode="nearest"), 1e-6)
    return mean


def collate(windows: list[Window], config: ModelConfig, max_tokens: int) -> Batch:
    """Stack windows; tokens are cut to `max_tokens` and padded with PAD (no loss on padding or prefix)."""
    ids = torch.tensor([(config.instruments.index(w.instrument.name), config.families.index(w.instrument.motion_family))
                        for w in windows], dtype=torch.long)
    length = min(max_tokens, max(len(w.tokens) for w in windows)) - 1
    inputs = torch.full((len(windows), length), PAD_TOKEN, dtype=torch.long)
    targets = torch.full((len(windows), length), PAD_TOKEN, dtype=torch.long)
    times = torch.zeros((len(windows), length), dtype=torch.long)
    for row, w in enumerate(windows):
        n = min(len(w.tokens) - 1, length)
        inputs[row, :n] = torch.tensor(w.tokens[:n])
        times[row, :n] = torch.tensor(w.times[:n])
        times[row, n:] = w.times[n - 1] if n else 0
        target = torch.tensor(w.tokens[1:n + 1])
        target[:max(0, w.prefix - 1)] = PAD_TOKEN  # tokens[1:prefix] are primed, not predicted
        targets[row, :n] = target
    features = torch.from_numpy(np.stack([w.features for w in windows]))
    mask = torch.from_numpy(np.stack([w.mask for w in windows]))
    onsets = torch.from_numpy(np.stack([w.onsets for w in windows]))
    return Batch(features, mask, ids, inputs, times, targets, onsets)
