"""Training examples (keypoints + the notes they play) and their on-disk shards, incl. the synthetic dataset.

A shard is one compressed .npz holding many examples: coordinates as float16 (half a pixel at 1080p is far
below tracker noise), notes as one table, metadata as JSON. Shards are written atomically, so a shard that
exists is complete; that is what makes `build_synthetic_dataset` resumable after a crash or Ctrl-C. Every
shard's content depends only on (seed, split, shard index), so a dataset is the same whatever the number of
workers or interruptions.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..instruments import INSTRUMENTS, get_instrument
from ..keypoints import Keypoints
from ..notes import Note
from ..outputs import atomic_output, write_json
from .phrases import draw_phrase
from .splits import HELD_OUT_PERCENT, SPLITS

SHARD_FORMAT = "foley-examples"
SHARD_VERSION = 1
DATASET_FORMAT = "foley-synthetic-dataset"
DATASET_VERSION = 1
SHARD_SIZE = 64  # examples per shard
MANIFEST = "manifest.json"


@dataclass
class Example:
    """One clip to learn from: what the tracker saw and the notes each performer played."""

    keypoints: Keypoints
    tracks: list[list[Note]]
    instrument: str
    source: str  # provenance, e.g. "synthetic:keys:bach/bwv66.6" or "video:NAME"
    split: str  # "train", "val" or "test"

    @property
    def duration(self) -> float:
        return self.keypoints.num_frames / self.keypoints.rate


def write_shard(examples: list[Example], path: str | Path) -> None:
    """Write examples to one .npz, atomically (a temporary file renamed into place)."""
    path = Path(path)
    meta, bodies, hands, notes, owners = [], [], [], [], []
    for index, example in enumerate(examples):
        kp = example.keypoints
        performers, frames = kp.body.shape[:2]
        meta.append({"instrument": example.instrument, "source": example.source, "split": example.split,
                     "rate": kp.rate, "start": kp.start, "frame_size": list(kp.frame_size),
                     "performers": performers, "frames": frames, "tracks": len(example.tracks)})
        bodies.append(kp.body.reshape(performers * frames, *kp.body.shape[2:]))
        hands.append(kp.hands.reshape(performers * frames, *kp.hands.shape[2:]))
        for track_index, track in enumerate(example.tracks):
            notes += [(n.start, n.end, n.pitch, n.velocity) for n in track]
            owners += [(index, track_index)] * len(track)
    arrays = {
        "format": np.array(f"{SHARD_FORMAT}/{SHARD_VERSION}"),
        "meta": np.array(json.dumps(meta)),
        "body": np.concatenate(bodies).astype(np.float16) if bodies else np.zeros((0, 25, 3), np.float16),
        "hands": np.concatenate(hands).astype(np.float16) if hands else np.zeros((0, 2, 21, 3), np.float16),
        "notes": np.array(notes, dtype=np.float64).reshape(-1, 4),
        "note_owner": np.array(owners, dtype=np.int32).reshape(-1, 2),
    }
    with atomic_output(path, "shard", parents=True) as temp, open(temp, "wb") as stream:  # savez adds no ".npz"
        np.savez_compressed(stream, **arrays)
        stream.flush()
        os.fsync(stream.fileno())


def _open(path: Path) -> np.lib.npyio.NpzFile:
    try:
        data: np.lib.npyio.NpzFile = np.load(path, allow_pickle=False)
        stamp = str(data["format"])
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path} is not a readable example shard: {exc}") from exc
    if stamp != f"{SHARD_FORMAT}/{SHARD_VERSION}":
        raise InputError(f"{path} is a {stamp!r} file, expected {SHARD_FORMAT}/{SHARD_VERSION}")
    return data


def read_shard_meta(path: str | Path) -> list[dict]:
    """Per-example metadata of a shard without loading its keypoints."""
    with _open(Path(path)) as data:
        meta: list[dict] = json.loads(str(data["meta"]))
    return meta


def read_shard(path: str | Path) -> list[Example]:
    """All examples of a shard, keypoints back as float32."""
    with _open(Path(path)) as data:
        meta = json.loads(str(data["meta"]))
        body, hands = data["body"].astype(np.float32), data["hands"].astype(np.float32)
        notes, owners = data["notes"], data["note_owner"]
    examples, row = [], 0
    for index, info in enumerate(meta):
        rows = info["performers"] * info["frames"]
        shape = (info["performers"], info["frames"])
        keypoints = Keypoints(rate=info["rate"], start=info["start"], body=body[row:row + rows].reshape(*shape, 25, 3),
                              hands=hands[row:row + rows].reshape(*shape, 2, 21, 3),
                              frame_size=tuple(info["frame_size"]))
        row += rows
        tracks: list[list[Note]] = [[] for _ in range(info["tracks"])]
        for (start, end, pitch, velocity), (_, track) in zip(notes[owners[:, 0] == index],
                                                              owners[owners[:, 0] == index], strict=True):
            tracks[track].append(Note(float(start), float(end), int(pitch), int(velocity)))
        examples.append(Example(keypoints, tracks, info["instrument"], info["source"], info["split"]))
    return examples


# ------------------------------------------------------------------------------------ synthetic dataset


@dataclass(frozen=True)
class _ShardJob:
    path: Path
    split: str
    index: int
    size: int
    seed: int
    instruments: tuple[str, ...]
    clip_seconds: tuple[float, float]


def _make_shard(job: _ShardJob) -> Path:
    """Render one shard; its randomness comes only from (seed, split, index)."""
    from .performers import CameraView, perform  # the renderer is only needed to build, not to read

    rng = np.random.default_rng([job.seed, SPLITS.index(job.split), job.index])
    examples = []
    for _ in range(job.size):
        instrument = get_instrument(job.instruments[rng.integers(len(job.instruments))])
        duration = float(rng.uniform(*job.clip_seconds))
        phrase = draw_phrase(instrument, duration, rng, "mixed", split=job.split)
        view = CameraView.random(rng, instrument.family)
        keypoints = perform(phrase.tracks, instrument, duration, rng, view=view)
        examples.append(Example(keypoints, phrase.tracks, instrument.name,
                                f"synthetic:{instrument.family}:{phrase.piece}", job.split))
    write_shard(examples, job.path)
    return job.path


def _plan(out_dir: Path, hours: float, seed: int, instruments: tuple[str, ...],
          clip_seconds: tuple[float, float]) -> list[_ShardJob]:
    """Shards per split: val and test get their share of the examples, held out by piece (see phrases)."""
    total = max(1, math.ceil(hours * 3600.0 / (sum(clip_seconds) / 2.0)))
    counts = {split: math.ceil(total * HELD_OUT_PERCENT[split] / 100) for split in ("val", "test")}
    counts["train"] = max(total - counts["val"] - counts["test"], 1)
    jobs = []
    for split in SPLITS:
        remaining, index = counts[split], 0
        while remaining > 0:
            size = min(SHARD_SIZE, remaining)
            jobs.append(_ShardJob(out_dir / f"{split}-{index:05d}.npz", split, index, size, seed, instruments,
                                  clip_seconds))
            remaining -= size
            index += 1
    return jobs


def build_synthetic_dataset(out_dir: str | Path, hours: float, seed: int, instruments: list[str] | None = None,
                            clip_seconds: tuple[float, float] = (8, 20), workers: int = 1) -> dict:
    """Write `hours` of synthetic performances as shards plus manifest.json into `out_dir`; returns the manifest.

    Re-running with the same arguments skips the shards already written; other arguments in a folder that
    holds a dataset are refused rather than mixing two datasets."""
    out = Path(out_dir)
    names = tuple(get_instrument(n).name for n in (instruments or list(INSTRUMENTS)))
    low, high = (float(s) for s in clip_seconds)
    if not (hours > 0 and 1.0 <= low <= high):
        raise InputError(f"need hours > 0 and 1 <= shortest <= longest clip, got {hours} h, {clip_seconds} s")
    config = {"hours": hours, "seed": seed, "instruments": list(names), "clip_seconds": [low, high],
              "shard_size": SHARD_SIZE}
    manifest_path = out / MANIFEST
    if manifest_path.exists():
        existing = json.loads(manifest_path.read_text())
        if existing.get("config") != config:
            raise InputError(f"{out} already holds a dataset built with {existing.get('config')}; "
                             "use another folder or the same settings to resume")
    out.mkdir(parents=True, exist_ok=True)
    write_json(manifest_path, {"format": DATASET_FORMAT, "version": DATASET_VERSION, "config": config,
                                "complete": False})
    jobs = _plan(out, hours, seed, names, (low, high))
    pending = [job for job in jobs if not job.path.exists()]
    if workers > 1 and len(pending) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_make_shard, pending))
    else:
        for job in pending:
            _make_shard(job)
    manifest = _summarise(jobs, config)
    write_json(manifest_path, manifest)
    return manifest


def _summarise(jobs: list[_ShardJob], config: dict) -> dict:
    """Counts per split and instrument, seconds, sources and the corpus pieces each split used."""
    shards: list[dict] = []
    counts: dict[str, Counter[str]] = {}
    seconds: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = {}
    pieces: dict[str, set[str]] = {}
    for job in jobs:
        meta = read_shard_meta(job.path)
        per_instrument = Counter(m["instrument"] for m in meta)
        shard_seconds = sum(m["frames"] / m["rate"] for m in meta)
        shards.append({"file": job.path.name, "split": job.split, "examples": len(meta),
                       "seconds": round(shard_seconds, 2), "instruments": dict(per_instrument)})
        counts.setdefault(job.split, Counter()).update(per_instrument)
        seconds[job.split] += shard_seconds
        for m in meta:
            piece = m["source"].split(":", 2)[2]
            kind = "generated" if piece.startswith("generated/") else "corpus"
            sources.setdefault(job.split, Counter())[kind] += 1
            if kind == "corpus":
                pieces.setdefault(job.split, set()).add(piece)
    return {"format": DATASET_FORMAT, "version": DATASET_VERSION, "config": config, "complete": True,
            "shards": shards, "counts": {s: dict(c) for s, c in counts.items()},
            "seconds": {s: round(v, 2) for s, v in seconds.items()},
            "sources": {s: dict(c) for s, c in sources.items()},
            "corpus_pieces": {s: sorted(p) for s, p in pieces.items()}}
