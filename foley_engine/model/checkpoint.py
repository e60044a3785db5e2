"""Checkpoint files: the weights plus everything needed to trust and reproduce them.

A checkpoint is a plain dict saved with torch.save and read with torch.load(weights_only=True), so opening
a file never runs code from it. Besides the weights it carries the model config, the vocabulary, the training
config, the data provenance and the metrics, and a format name and version: a file from another program, a
newer format or a damaged download fails with one sentence (ModelError), never with a traceback.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import ModelError
from ..outputs import atomic_path, write_json
from .network import FoleyModel, ModelConfig

FORMAT = "foley-checkpoint"
VERSION = 1


@dataclass
class LoadedModel:
    model: FoleyModel
    info: dict  # everything in the file except the weights
    path: Path
    digest: str  # first 12 hex digits of the file's sha256, names the model in outputs

    @property
    def name(self) -> str:
        return f"model:{self.path.stem}-{self.digest}"


def checkpoint_dict(model: FoleyModel, *, training: dict | None = None, data: dict | None = None,
                    metrics: dict | None = None, half: bool = False) -> dict:
    """The dict a checkpoint file holds; `half` stores float weights as float16 (half the size)."""
    state = {name: (t.detach().half() if half and t.is_floating_point() else t.detach()).clone()
             for name, t in model.state_dict().items()}
    vocabulary = model.config.vocabulary
    return {"format": FORMAT, "version": VERSION, "engine_version": __version__,
            "model_config": model.config.to_dict(),
            "vocabulary": {"steps_per_second": vocabulary.steps_per_second,
                           "max_shift_steps": vocabulary.max_shift_steps,
                           "velocity_bins": vocabulary.velocity_bins, "size": vocabulary.size},
            "training": training or {}, "data": data or {}, "metrics": metrics or {}, "state_dict": state}


def save_checkpoint(path: str | Path, model: FoleyModel, **content: Any) -> Path:
    """Write a checkpoint atomically (see checkpoint_dict for the keyword arguments)."""
    return atomic_save(checkpoint_dict(model, **content), path)


def atomic_save(content: dict, path: str | Path) -> Path:
    """torch.save into a temporary file renamed into place, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        torch.save(content, temp)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict of a file, checked for format and version; anything else raises ModelError."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model checkpoint not found: {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            AttributeError, TypeError, KeyError) as exc:
        raise ModelError(f"{path} is not a Foley model checkpoint, or it is corrupt") from exc
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelError(f"{path} is not a Foley model checkpoint")
    version = content.get("version")
    if version != VERSION:
        raise ModelError(f"{path} is a Foley checkpoint of format version {version}; this Foley "
                         f"({__version__}) reads version {VERSION}")
    return content


def load_checkpoint(path: str | Path) -> LoadedModel:
    """The model of a checkpoint file, in eval mode with float32 weights."""
    path = Path(path)
    content = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(content["model_config"])
        model = FoleyModel(config)
        state = {name: t.float() if t.is_floating_point() else t for name, t in content["state_dict"].items()}
        model.load_state_dict(state)
    except ModelError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelError(f"{path} is a Foley checkpoint whose weights do not fit its model config; "
                         "it is corrupt or from an incompatible Foley") from exc
    model.eval()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    info = {key: value for key, value in content.items() if key != "state_dict"}
    return LoadedModel(model, info, path, digest)


def export_checkpoint(source: str | Path, destination: str | Path, card: dict) -> dict:
    """Ship a trained checkpoint: float16 weights at `destination` and a JSON card beside it (.json).

    The card repeats what the checkpoint records (config, data, training, metrics) plus whatever the caller
    adds (the command, evaluation results), readable without torch."""
    content = read_checkpoint(source)
    content["state_dict"] = {name: t.half() if t.is_floating_point() else t
                             for name, t in content["state_dict"].items()}
    destination = atomic_save(content, destination)
    parameters = sum(t.numel() for t in content["state_dict"].values())
    card = {key: value for key, value in content.items() if key != "state_dict"} | {
        "parameters": parameters, "file": destination.name, "size_bytes": destination.stat().st_size,
        "sha256": hashlib.sha256(destination.read_bytes()).hexdigest()} | card
    write_json(destination.with_suffix(".json"), card)
    return card
