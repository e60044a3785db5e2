"""What the panel opened: a video, or a timeline whose video clips the engine's timeline planner lists.

A timeline clip becomes a video and a range exactly as the timeline stage computes them, so generating in
the panel and exporting the timeline later hit the same keypoint cache entry and give the same audio.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from foley_engine import InputError, VideoInfo, probe, timeline_clips


def timeline_suffixes() -> set[str]:
    """Extensions an installed OpenTimelineIO adapter reads (.otio, .otioz, and with [formats] .xml, .aaf...)."""
    import opentimelineio as otio

    return {f".{suffix.lower()}" for suffix in otio.adapters.suffixes_with_defined_adapters(read=True)}


def is_timeline(path: Path) -> bool:
    return path.suffix.lower() in timeline_suffixes()


@dataclass
class Clip:
    """One video clip of a timeline, as the timeline stage plans it."""

    index: int  # 1-based, as the engine numbers a timeline's clips
    name: str
    track: str
    usable: bool
    reason: str
    media: Path | None
    start: float
    end: float

    def label(self) -> str:
        where = f"{self.start:.2f}–{self.end:.2f} s" if self.usable else self.reason
        return f"{self.track}  {self.name}  ·  {where}"


@dataclass
class Timeline:
    path: Path
    clips: list[Clip]
    scratch: tempfile.TemporaryDirectory = field(repr=False)  # holds an .otioz's unpacked media while open

    def find(self, name: str) -> int:
        """Index of the first usable clip called `name`; InputError listing the clips when there is none."""
        for index, clip in enumerate(self.clips):
            if clip.name == name and clip.usable:
                return index
        names = ", ".join(sorted({clip.name for clip in self.clips if clip.usable}))
        raise InputError(f"no usable video clip named {name!r} in {self.path.name}; clips are: {names}"[:300])

    def first_usable(self) -> int | None:
        return next((index for index, clip in enumerate(self.clips) if clip.usable), None)


def open_video(path: Path) -> VideoInfo:
    """Probe the file: a missing, corrupt or non-video file fails here with the engine's one-line reason."""
    return probe(path)


def open_timeline(path: Path) -> Timeline:
    scratch = tempfile.TemporaryDirectory(prefix="foley-panel-")
    plans = timeline_clips(path, scratch.name)
    clips = [Clip(plan.index, plan.name, plan.track, plan.status == "render", plan.reason, plan.media, plan.start,
                  plan.end) for plan in plans]
    return Timeline(path, clips, scratch)
