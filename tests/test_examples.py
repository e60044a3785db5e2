"""Example shards round-trip; the synthetic dataset is resumable, reproducible and held out by piece."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foley_engine.data.performers import perform
from foley_engine.data.shards import Example, build_synthetic_dataset, read_shard, write_shard
from foley_engine.errors import InputError
from foley_engine.instruments import get_instrument
from foley_engine.notes import Note


def example(performers: int, seed: int, split: str = "train") -> Example:
    rng = np.random.default_rng(seed)
    tracks = [[Note(0.2 + 0.4 * i, 0.5 + 0.4 * i, 60 + i + 5 * p, 70 + i) for i in range(6)] for p in range(performers)]
    keypoints = perform(tracks, get_instrument("cello"), 3.0, rng)
    return Example(keypoints, tracks, "cello", f"synthetic:bowed:generated/melody-{seed:08x}", split)


def test_shard_round_trip(tmp_path: Path) -> None:
    examples = [example(1, 1), example(2, 2, "val")]
    path = tmp_path / "shard.npz"
    write_shard(examples, path)
    back = read_shard(path)
    assert [p.name for p in tmp_path.iterdir()] == ["shard.npz"]  # no temporary file left behind
    assert len(back) == 2
    for before, after in zip(examples, back, strict=True):
        assert (after.instrument, after.source, after.split) == (before.instrument, before.source, before.split)
        assert after.tracks == before.tracks
        assert after.keypoints.body.shape == before.keypoints.body.shape
        assert after.keypoints.hands.dtype == np.float32
        assert np.allclose(after.keypoints.body, before.keypoints.body, atol=2e-3)
        assert np.allclose(after.keypoints.hands, before.keypoints.hands, atol=2e-3)
        assert np.array_equal(after.keypoints.hands[..., 2] == 0, before.keypoints.hands[..., 2] == 0)
        assert after.keypoints.frame_size == before.keypoints.frame_size
        assert after.keypoints.rate == before.keypoints.rate


def test_reading_something_else_is_an_input_error(tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InputError):
        read_shard(other)


def test_synthetic_dataset_resumes_and_is_reproducible(tmp_path: Path) -> None:
    settings = {"hours": 0.012, "seed": 9, "instruments": ["piano", "violin", "flute"], "clip_seconds": (2, 4)}
    manifest = build_synthetic_dataset(tmp_path / "a", **settings)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "manifest.json" in files and any(f.startswith("val-") for f in files)
    assert manifest["complete"] and json.loads((tmp_path / "a" / "manifest.json").read_text()) == manifest
    total = sum(sum(c.values()) for c in manifest["counts"].values())
    assert total == sum(s["examples"] for s in manifest["shards"]) >= 14
    assert set(manifest["counts"]["train"]) <= {"piano", "violin", "flute"}

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.npz")}
    assert build_synthetic_dataset(tmp_path / "a", **settings) == manifest  # resumed: nothing redone
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.npz")}

    first = sorted((tmp_path / "a").glob("*.npz"))[0]
    first.unlink()  # as if interrupted before this shard
    assert build_synthetic_dataset(tmp_path / "a", **settings) == manifest  # redone identically

    build_synthetic_dataset(tmp_path / "b", **settings, workers=2)
    for name in (p.name for p in (tmp_path / "a").glob("*.npz")):
        a, b = read_shard(tmp_path / "a" / name), read_shard(tmp_path / "b" / name)
        assert [e.source for e in a] == [e.source for e in b]
        assert all(np.array_equal(x.keypoints.body, y.keypoints.body) for x, y in zip(a, b, strict=True))

    pieces = {split: set() for split in ("train", "val", "test")}
    for shard in (tmp_path / "a").glob("*.npz"):
        for item in read_shard(shard):
            assert shard.name.startswith(item.split)
            pieces[item.split].add(item.source.split(":", 2)[2])
    assert not (pieces["train"] & pieces["val"]) and not (pieces["train"] & pieces["test"])

    with pytest.raises(InputError):
        build_synthetic_dataset(tmp_path / "a", **{**settings, "seed": 10})
