"""The learned note generator (Foley Music's Graph-Transformer): pose sequence -> MIDI events.

`generate_performances` is what the pipeline calls; `load_model` resolves "default" (the checkpoint shipped
in foley_engine/checkpoints/) or a path to a user's checkpoint, once per process.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning (set before torch loads, if it has not been loaded yet): on a
# busy CPU spinning threads waiting for a descheduled sibling made generation 2-3x slower (measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402 - after the environment above
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import ModelError
from ..instruments import Instrument, get_instrument
from ..notes import Performance
from .checkpoint import LoadedModel, load_checkpoint, save_checkpoint
from .features import performer_joints
from .generate import Sampling, generate_tracks
from .network import FoleyModel, ModelConfig

if TYPE_CHECKING:
    from ..keypoints import Keypoints

__all__ = ["DEFAULT_CHECKPOINT", "FoleyModel", "LoadedModel", "ModelConfig", "Sampling", "generate_performances",
           "generate_tracks", "load_checkpoint", "load_model", "save_checkpoint", "warm_up"]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "default.pt"
_LOADED: dict[tuple[str, int, int], LoadedModel] = {}


def load_model(spec: str | Path = "default") -> LoadedModel:
    """"default" or a checkpoint path -> the loaded model, cached while the file is unchanged."""
    if str(spec) == "default":
        path = DEFAULT_CHECKPOINT
        if not path.is_file():
            raise ModelError(f"the default model is not installed ({path} is missing); reinstall Foley or use "
                             "--model baseline")
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ModelError(f"model checkpoint not found: {path} (use --model default, baseline or a .pt file)")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        _LOADED.clear()  # one model at a time is plenty for a CLI or an editor session
        _LOADED[key] = load_checkpoint(path)
    return _LOADED[key]


def generate_performances(keypoints: Keypoints, instrument: Instrument, *, model: str | Path = "default",
                          duration: float | None = None, seed: int | None = None,
                          sampling: Sampling = Sampling(), variations: int = 1) -> list[Performance]:
    """`variations` takes of one note track per performer, each a Performance of exactly `duration` s."""
    loaded = load_model(model)
    if duration is None:
        duration = keypoints.num_frames / keypoints.rate
    joints = [performer_joints(keypoints.body[p], keypoints.hands[p]) for p in range(keypoints.num_performers)]
    takes = generate_tracks(loaded.model, joints, keypoints.rate, keypoints.frame_size, instrument, duration,
                            sampling=sampling, seed=seed, variations=variations)
    return [Performance(instrument=instrument, duration=duration, tracks=tracks, generator=loaded.name)
            for tracks in takes]


def warm_up() -> None:
    """Make generation's compiled code (kernels.py: the token step and the sampler) ready in this process:
    compiled into numba's cache beside it if not there yet (~4 s), else loaded from it (~0.25 s), which the
    first token does otherwise. It generates a second with a tiny untrained model: what is compiled depends on
    the arrays' types, not their sizes. `make venv` runs it once after installing, so that no clip compiles;
    bench/model_bench.py before timing generation. Torch's global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        tiny = FoleyModel(ModelConfig(d_model=8, heads=2, layers=1, ffn=8, encoder_channels=4, encoder_blocks=1,
                                      frame_layers=1, window=1.0, overlap=0.5))
    generate_tracks(tiny, [np.zeros((30, 67, 3), np.float32)], 30.0, (640, 360), get_instrument("piano"), 1.0, seed=0)
