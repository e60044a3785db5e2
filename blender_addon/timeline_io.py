"""Selected movie strips -> the OTIO timeline `foley timeline` reads.

Plain Python and opentimelineio (bundled as a wheel), no bpy: the tests run it outside Blender too.
Every strip gets its own video track, so strips that overlap on the timeline never collide in OTIO, and each
clip is named after its strip, the name the engine's summary reports its foley under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@dataclass(frozen=True)
class StripSource:
    """One movie strip as the engine needs it: which seconds of which file, shown over which frames."""

    name: str  # unique within the scene
    filepath: Path  # absolute
    channel: int
    start: int  # first visible scene frame (may be < 1)
    duration: int  # visible frames
    media_start: float  # seconds into the movie of the first visible frame
    speed: float = 1.0  # media seconds per scene second: 1 unless the movie plays frame by frame at another fps


def write_timeline(sources: list[StripSource], rate: float, path: Path, name: str) -> None:
    """The strips as an OTIO timeline at the scene's rate, starting at the earliest strip's first frame.

    Each clip spans its strip's visible frames from the first second of media they show. A movie that plays
    slower or faster than real time (speed != 1) carries a LinearTimeWarp, which in OTIO keeps the clip's
    length and runs its media that much faster: the engine plays the notes of that media at the picture's
    tempo, and its WAV is already as long as the strip.
    """
    origin = min(source.start for source in sources)
    timeline = otio.schema.Timeline(name=name, global_start_time=RT(origin, rate))
    for source in sorted(sources, key=lambda source: (source.start, source.channel)):
        track = otio.schema.Track(name=source.name, kind=otio.schema.TrackKind.Video)
        if source.start > origin:
            track.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(source.start - origin, rate))))
        track.append(otio.schema.Clip(
            name=source.name,
            media_reference=otio.schema.ExternalReference(target_url=source.filepath.as_uri()),
            source_range=TR(RT(source.media_start * rate, rate), RT(source.duration, rate)),
            effects=[otio.schema.LinearTimeWarp(time_scalar=source.speed)] if source.speed != 1 else []))
        timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))


def slug(text: str) -> str:
    """A file-name-safe version of a strip name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "strip"
