"""The note generator's options, shared by `foley generate` and `foley timeline`: one definition, one check.

Cheap to import (argparse and the error classes, no torch or MediaPipe), so building the CLI's parser stays
fast. `GeneratorOptions` refuses what the notes stage would refuse without loading a model: a dry run or a
timeline's planning fails on a bad --model path before any work; loading and checking the checkpoint itself
is `sources.open_sources`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import InputError, ModelError

#: Named note generators; any other --model value is a path to a checkpoint made by `foley train`.
#: "default" is the shipped learned model (checkpoints/default.pt); "baseline" the deterministic motion-onset rules.
MODELS = ("default", "baseline")
DEFAULT_MODEL = "default"
#: Where notes come from: "keys" reads them off a keyboard seen in the frame; "model" is the --model generator,
#: which reads the performers' motion; "strikes" plays percussion and foley from the limbs' impacts; "auto"
#: (the default) reads the keys whenever a keyboard is found (never for percussion) and otherwise lets the model
#: play (sources.PERCUSSION_SOURCE says which plays percussion).
Source = Literal["auto", "keys", "model", "strikes"]
SOURCES: tuple[Source, ...] = ("auto", "keys", "model", "strikes")
DEFAULT_SOURCE: Source = "auto"
#: The largest --seed: torch's generator and OTIO's metadata (where `foley timeline` records it) hold a signed
#: 64-bit integer, and a larger one used to fail deep in the model as an internal error.
MAX_SEED = 2**63 - 1
#: How the learned model samples when --temperature, --top-k or --top-p is not given (model.generate.Sampling's
#: defaults): here, where `foley info` and the help read them without loading torch.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 0
DEFAULT_TOP_P = 0.95


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
                             "generator, from the performers' motion), strikes (percussion and foley from the "
                             "limbs' impacts) or auto: keys when a keyboard is found (not for percussion), else "
                             f"the model (default: {DEFAULT_SOURCE})")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="note generator: default (the shipped learned model), baseline (deterministic "
                             "motion-onset rules) or the PATH of a checkpoint from `foley train` "
                             f"(default: --model {DEFAULT_MODEL})")
    parser.add_argument("--temperature", type=finite_float, default=None,
                        help=f"learned model: sampling temperature, 0 = greedy (default {DEFAULT_TEMPERATURE})")
    parser.add_argument("--top-k", type=int, default=None, help="learned model: sample among the k likeliest (0 = all)")
    parser.add_argument("--top-p", type=finite_float, default=None,
                        help=f"learned model: nucleus sampling mass (default {DEFAULT_TOP_P})")
    if variations:
        parser.add_argument("--variations", type=int, default=1,
                            help="learned model: N takes; the first is NAME.foley.mid/.wav, the others "
                            "NAME.foley.takeK.mid")


def model_path(model: str) -> Path | None:
    """The checkpoint file a --model value names; None for the named generators."""
    return None if model in MODELS else Path(model).expanduser()


@dataclass(frozen=True)
class GeneratorOptions:
    """How the notes are made, checked once when made: the one object every caller passes (the CLI, timelines
    and their workers, the panel, the adapters through the CLI, evaluation).

    `source` picks where notes come from (SOURCES); `model` is the generator that plays from the performers'
    motion ("default", "baseline" or a checkpoint path); the rest tune the learned model's sampling. None means
    "the model's own default" (model.generate.Sampling), so a recorded option set stays what the user asked.
    A bad value is an InputError (a missing checkpoint a ModelError) here, before any work is done; loading
    and checking the checkpoint's content is the note source's job (sources.open_sources).
    """

    source: Source = DEFAULT_SOURCE
    model: str = DEFAULT_MODEL
    seed: int | None = 0  # None: a new take every run
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    variations: int = 1

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise InputError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED):
            raise InputError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")
        if self.variations < 1:
            raise InputError(f"--variations must be at least 1, got {self.variations}")
        if self.model == "baseline":
            if self.variations > 1 or self.samples:
                raise InputError("the baseline is deterministic: --variations, --temperature, --top-k and --top-p "
                                 "need the learned model (--model default)")
            return
        path = model_path(self.model)
        if path is not None and not path.is_file():
            raise ModelError(f"model checkpoint not found: {path} (use --model default, baseline or a .pt file)")
        if self.temperature is not None and not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise InputError(f"--temperature must be >= 0 and finite, got {self.temperature}")
        if self.top_k is not None and self.top_k < 0:
            raise InputError(f"--top-k must be >= 0, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:  # nan is not in there either
            raise InputError(f"--top-p must be in (0, 1], got {self.top_p}")

    @property
    def samples(self) -> bool:
        """Whether any sampling option was set (the baseline refuses them)."""
        return any(value is not None for value in (self.temperature, self.top_k, self.top_p))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> GeneratorOptions:
        """The options `add_generator_args` put on a parsed command line."""
        return cls(source=args.source, model=args.model, seed=args.seed, temperature=args.temperature,
                   top_k=args.top_k, top_p=args.top_p, variations=getattr(args, "variations", 1))

    def portable(self) -> GeneratorOptions:
        """The same options with a checkpoint named by its absolute path, for workers with another cwd."""
        path = model_path(self.model)
        return self if path is None else dataclasses.replace(self, model=str(path.resolve()))

    def record(self) -> dict[str, object]:
        """What decides the notes besides the video range and the instrument, as recorded with every Foley
        clip and summary (so audio made with other options is never taken for this run's)."""
        return {"model": self.portable().model, "seed": self.seed, "temperature": self.temperature,
                "top_k": self.top_k, "top_p": self.top_p, "source": self.source}
