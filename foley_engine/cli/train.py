"""`foley train` on the command line, kept apart from training.py so that building the CLI parser does not
import torch (every other command would pay a second for it)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import InputError


def add_train_command(commands: argparse._SubParsersAction) -> None:
    """Register `foley train` on the CLI's subcommands."""
    parser = commands.add_parser("train", help="train the note model on example shards (see docs/model.md)")
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="dataset folder with SPLIT-NNNNN.npz shards; repeat to combine datasets")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, metrics, loss curves)")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of TrainConfig fields")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget (default 57)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (fine-tuning, e.g. on real pairs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    # Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU spinning threads that wait for
    # a descheduled sibling made training steps 3-4x slower (measured). Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ..training.loop import TrainConfig, train

    config = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    for name, value in (("steps", args.steps), ("max_minutes", args.minutes), ("batch_size", args.batch_size),
                        ("seed", args.seed)):
        if value is not None:
            setattr(config, name, value)
    if args.resume and args.init:
        raise InputError("--resume continues a run with its own weights; drop --init")
    metrics = train(args.data, args.out, config, resume=args.resume, init=args.init,
                    log=lambda line: print(line, flush=True))
    print(json.dumps(metrics))
    return 0
