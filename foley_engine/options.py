"""The note generator's options, shared by `foley generate` and `foley timeline`: one definition, one check.

Cheap to import (argparse and the error classes, no torch or MediaPipe), so building the CLI's parser stays
fast. `check_generator` refuses what the notes stage would refuse without loading a model: a dry run or a
timeline's planning fails on a bad --model path before any work; loading and checking the checkpoint itself
is `pipeline.check_note_generator`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .errors import InputError, ModelError

#: Named note generators; any other --model value is a path to a checkpoint made by `foley train`.
#: "default" is the shipped learned model (checkpoints/default.pt); "baseline" the deterministic motion-onset rules.
MODELS = ("default", "baseline")
DEFAULT_MODEL = "default"
#: Where notes come from: "keys" reads them off a keyboard seen in the frame; "model" is the --model generator,
#: which reads the performers' motion; "auto" (the default) reads the keys whenever a keyboard is found and
#: otherwise lets the model play.
SOURCES = ("auto", "keys", "model")
DEFAULT_SOURCE = "auto"
#: The largest --seed: torch's generator and OTIO's metadata (where `foley timeline` records it) hold a signed
#: 64-bit integer, and a larger one used to fail deep in the model as an internal error.
MAX_SEED = 2**63 - 1


def seed_value(text: str) -> int:
    """argparse type of --seed: a whole number from 0 to MAX_SEED, refused with the command line's other errors."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_SEED}, got {text!r}")
    return seed


def finite_float(text: str) -> float:
    """argparse type of seconds and sampling options: float() also takes 'nan' and 'inf', which every check
    downstream lets through (nan < 0 is False) until something fails or silently misbehaves."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_generator_args(parser: argparse.ArgumentParser, *, seed_default: int | None = None,
                       seed_help: str = "makes generation reproducible", variations: bool = True) -> None:
    """--seed, --model, --temperature, --top-k, --top-p and (unless `variations` is False) --variations."""
    parser.add_argument("--seed", type=seed_value, default=seed_default, help=seed_help)
    parser.add_argument("--source", choices=SOURCES, default=DEFAULT_SOURCE,
                        help="where notes come from: keys (read off a keyboard in the frame), model (the --model "
                             "generator, from the performers' motion) or auto: keys when a keyboard is found, "
                             f"else the model (default: {DEFAULT_SOURCE})")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="note generator: default (the shipped learned model), baseline (deterministic "
                             "motion-onset rules) or the PATH of a checkpoint from `foley train` "
                             f"(default: --model {DEFAULT_MODEL})")
    parser.add_argument("--temperature", type=finite_float, default=None,
                        help="learned model: sampling temperature, 0 = greedy (default 0.8)")
    parser.add_argument("--top-k", type=int, default=None, help="learned model: sample among the k likeliest (0 = all)")
    parser.add_argument("--top-p", type=finite_float, default=None,
                        help="learned model: nucleus sampling mass (default 0.95)")
    if variations:
        parser.add_argument("--variations", type=int, default=1,
                            help="learned model: N takes; the first is NAME.foley.mid/.wav, the others "
                            "NAME.foley.takeK.mid")


def model_path(model: str) -> Path | None:
    """The checkpoint file a --model value names; None for the named generators."""
    return None if model in MODELS else Path(model).expanduser()


def check_generator(model: str = DEFAULT_MODEL, temperature: float | None = None, top_k: int | None = None,
                    top_p: float | None = None, variations: int = 1) -> None:
    """Refuse, without loading anything, options the notes stage would refuse (InputError, ModelError)."""
    if variations < 1:
        raise InputError(f"--variations must be at least 1, got {variations}")
    if model == "baseline":
        if variations > 1 or any(v is not None for v in (temperature, top_k, top_p)):
            raise InputError("the baseline is deterministic: --variations, --temperature, --top-k and --top-p "
                             "need the learned model (--model default)")
        return
    path = model_path(model)
    if path is not None and not path.is_file():
        raise ModelError(f"model checkpoint not found: {path} (use --model default, baseline or a .pt file)")
    if temperature is not None and not (math.isfinite(temperature) and temperature >= 0):
        raise InputError(f"--temperature must be >= 0 and finite, got {temperature}")
    if top_k is not None and top_k < 0:
        raise InputError(f"--top-k must be >= 0, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:  # nan is not in there either
        raise InputError(f"--top-p must be in (0, 1], got {top_p}")
