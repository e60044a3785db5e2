"""Selected movie strips -> the OTIO timeline `foley timeline` reads, and its answer -> one result per strip.

Plain Python and opentimelineio (bundled as a wheel), no bpy: the tests run it outside Blender too.
Every strip gets its own video track, so strips that overlap on the timeline never collide in OTIO, and the
Foley clips that come back name their source strip in `foley.source_clip.name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

#: Metadata namespace the engine writes on Foley tracks and clips.
FOLEY = "foley"


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

    @property
    def media_frames(self) -> float:
        """The movie the visible frames show, measured in scene frames (`duration` when speed is 1)."""
        return self.duration * self.speed


@dataclass(frozen=True)
class FoleyClip:
    """One Foley clip of the engine's output timeline."""

    strip: str  # the movie strip it was generated for
    wav: Path
    start: int  # scene frame, from the clip's range in its track
    duration: int  # scene frames the engine rendered (the media's, for strips with speed != 1)
    metadata: dict

    @property
    def performer(self) -> int:
        """Whose sound it is with `foley timeline --stems`: 1 for the leftmost performer; 0 for the mix of all."""
        return int(self.metadata.get("performer", 0))


def write_timeline(sources: list[StripSource], rate: float, path: Path, name: str) -> None:
    """The strips as an OTIO timeline at the scene's rate, starting at the earliest strip's first frame.

    Each clip covers exactly the seconds of media the strip shows; a strip whose movie plays slower or faster
    than real time (speed != 1) is sent with its media's length and time-scaled afterwards, because the
    engine renders every clip in real time.
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
            source_range=TR(RT(source.media_start * rate, rate), RT(source.media_frames, rate))))
        timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))


def read_foley_clips(path: Path) -> list[FoleyClip]:
    """Every clip on the engine's Foley tracks, placed in scene frames (the timeline's own rate)."""
    timeline = otio.adapters.read_from_file(str(path))
    origin = timeline.global_start_time
    clips = []
    for track in timeline.tracks:
        tag = track.metadata.get(FOLEY)
        if track.kind != otio.schema.TrackKind.Audio or not (hasattr(tag, "get") and tag.get("role") == "track"):
            continue
        for clip in track.find_clips(shallow_search=True):
            metadata = dict(clip.metadata.get(FOLEY, {}))
            placed = clip.range_in_parent()
            rate = origin.rate if origin is not None else placed.start_time.rate
            first = origin.value if origin is not None else 0
            clips.append(FoleyClip(
                strip=str(dict(metadata.get("source_clip", {})).get("name", "")),
                wav=Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url)),
                start=round(first + placed.start_time.rescaled_to(rate).value),
                duration=round(placed.duration.rescaled_to(rate).value), metadata=metadata))
    return clips


def slug(text: str) -> str:
    """A file-name-safe version of a strip name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "strip"
