"""Training: a tiny model learns on a few synthetic examples, resumes where it stopped, and runs under DDP."""

from __future__ import annotations

import csv
import os
import socket
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from model_fixtures import TINY

from foley_engine.cli import build_parser
from foley_engine.data.shards import build_synthetic_dataset
from foley_engine.errors import InputError
from foley_engine.model import load_checkpoint
from foley_engine.training.loop import TrainConfig, train

CONFIG = TrainConfig(steps=30, batch_size=4, learning_rate=3e-3, warmup_steps=3, eval_every=30, eval_windows=4,
                     eval_clips=1, log_every=5, max_tokens=160, seed=1,
                     model={k: v for k, v in asdict(TINY).items() if k not in ("instruments", "families")})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    build_synthetic_dataset(out, hours=0.02, seed=3, instruments=["piano", "violin"], clip_seconds=(4, 6))
    return out


def _losses(run: Path) -> list[float]:
    with (run / "metrics.csv").open() as handle:
        return [float(row["train_loss"]) for row in csv.DictReader(handle) if row["train_loss"]]


def test_tiny_model_loss_falls_and_the_run_is_complete(dataset, tmp_path):
    run = tmp_path / "run"
    metrics = train([dataset], run, CONFIG, log=lambda line: None)
    losses = _losses(run)
    assert losses[-1] < losses[0] - 0.5, losses
    assert {"val_loss", "val_onset_f1"} <= set(metrics) and metrics["step"] == 30
    assert (run / "loss.png").stat().st_size > 1000
    loaded = load_checkpoint(run / "checkpoint.pt")
    config = loaded.model.config
    assert replace(config, onset_threshold=TINY.onset_threshold, motion_floor_scale={}) == TINY
    scales = config.motion_floor_scale  # onsets per motion strike, per instrument, chosen on validation data
    assert set(scales) <= {"piano", "violin"} and scales and all(0 < v <= 1 for v in scales.values())
    assert loaded.info["training"]["seed"] == 1 and loaded.info["training"]["steps_done"] == 30
    assert loaded.info["data"]["datasets"][0]["config"]["seed"] == 3  # provenance: the dataset's manifest
    assert loaded.info["metrics"]["val_loss"] == metrics["val_loss"]
    threshold = loaded.model.config.onset_threshold  # chosen on the validation split, used by generation
    scores = metrics["onset_threshold_f1"]
    assert threshold == metrics["onset_threshold"] and scores[f"{threshold:.2f}"] == max(scores.values())


def test_resume_continues_where_the_run_stopped(dataset, tmp_path):
    run = tmp_path / "run"
    train([dataset], run, replace(CONFIG, steps=6, eval_every=100), log=lambda line: None)
    with pytest.raises(InputError, match="--resume"):
        train([dataset], run, replace(CONFIG, steps=6), log=lambda line: None)
    metrics = train([dataset], run, replace(CONFIG, steps=10, eval_every=100), resume=True, log=lambda line: None)
    assert metrics["step"] == 10
    with (run / "metrics.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [5, 6, 10]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, dataset: str, run: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    train([dataset], run, replace(CONFIG, steps=2, eval_every=100), log=lambda line: None)
    torch.distributed.destroy_process_group()


def test_two_process_ddp_on_cpu(dataset, tmp_path):
    run = tmp_path / "run"
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(dataset), str(run)), nprocs=2, join=True)
    info = load_checkpoint(run / "checkpoint.pt").info
    assert info["training"]["world_size"] == 2 and info["training"]["steps_done"] == 2


def test_cli_registers_train_and_sampling_options():
    args = build_parser().parse_args(["train", "--data", "a", "--data", "b", "--out", "r", "--steps", "5"])
    assert args.data == [Path("a"), Path("b")] and args.steps == 5
