"""Foley: silent video of musicians -> MIDI notes with velocity -> audio aligned to the clip.

The public API. Everything an editor adapter, the panel or a script needs is here (or in the `foley`
command, which mirrors it); the modules behind it may change shape between releases.

    import foley_engine as foley
    result = foley.generate("clip.mp4", "piano", options=foley.GeneratorOptions(source="auto", seed=0))
    result.performance.notes, result.audio

Names are loaded on first use, so `import foley_engine` stays cheap (no torch, MediaPipe or FluidSynth) for
the command line's start-up and for adapters that only need the errors or the instrument list.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    # running the engine
    "generate": "foley_engine.pipeline",
    "generate_files": "foley_engine.pipeline",
    "FoleyResult": "foley_engine.pipeline",
    "foley_timeline": "foley_engine.timeline",
    "TimelineOptions": "foley_engine.timeline.plan",
    "GeneratorOptions": "foley_engine.options",
    "PoseSettings": "foley_engine.pose.extract",
    # working on one clip's takes yourself (the panel): look at the video, hear a take, write it or place it
    "probe": "foley_engine.video",
    "iter_frames": "foley_engine.video",
    "render": "foley_engine.synth",
    "write_wav": "foley_engine.synth",
    "write_take": "foley_engine.timeline.place",
    "timeline_clips": "foley_engine.timeline.place",
    "place_take": "foley_engine.timeline.place",
    # what it passes around
    "Note": "foley_engine.notes",
    "Performance": "foley_engine.notes",
    "Keypoints": "foley_engine.keypoints",
    "skeleton": "foley_engine.skeleton",
    "VideoInfo": "foley_engine.video",
    "Instrument": "foley_engine.instruments",
    "INSTRUMENTS": "foley_engine.instruments",
    "instruments": "foley_engine.instruments",
    "ProgressEvent": "foley_engine.progress",
    # the errors, each with its exit code
    "FoleyError": "foley_engine.errors",
    "InputError": "foley_engine.errors",
    "OutputError": "foley_engine.errors",
    "ModelError": "foley_engine.errors",
    "NoPerformerError": "foley_engine.errors",
    "Cancelled": "foley_engine.errors",
}

#: the same names as _EXPORTS, written out so tools see them (tests/test_layout.py keeps them equal)
__all__ = ["__version__", "generate", "generate_files", "FoleyResult", "foley_timeline", "TimelineOptions",
           "GeneratorOptions", "PoseSettings", "probe", "iter_frames", "render", "write_wav", "write_take",
           "timeline_clips", "place_take", "Note", "Performance", "Keypoints", "skeleton", "VideoInfo", "Instrument",
           "INSTRUMENTS", "instruments", "ProgressEvent", "FoleyError", "InputError", "OutputError", "ModelError",
           "NoPerformerError", "Cancelled"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'foley_engine' has no attribute {name!r}")
    if name in ("instruments", "skeleton"):  # modules themselves
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from . import instruments, skeleton
    from .errors import Cancelled, FoleyError, InputError, ModelError, NoPerformerError, OutputError
    from .instruments import INSTRUMENTS, Instrument
    from .keypoints import Keypoints
    from .notes import Note, Performance
    from .options import GeneratorOptions
    from .pipeline import FoleyResult, generate, generate_files
    from .pose.extract import PoseSettings
    from .progress import ProgressEvent
    from .synth import render, write_wav
    from .timeline import foley_timeline
    from .timeline.place import place_take, timeline_clips, write_take
    from .timeline.plan import TimelineOptions
    from .video import VideoInfo, iter_frames, probe
