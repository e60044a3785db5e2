"""The Foley audio tracks `foley timeline` adds: the mix of each clip on one track, or a track per performer.

Each Foley clip sits at its video clip's place with the same RationalTimes, gaps between, so nothing drifts.
The mix is the default: one Foley track per lane keeps an editor's timeline simple, and the ensemble plays
balanced as the synthesizer rendered it. With `--stems` every performer gets a track of their own
("Foley · performer 1", ...), to mix or mute players separately; a clip with fewer performers leaves the
higher performers' tracks empty (a gap) there. Earlier Foley tracks of either kind are found again by their
`foley` metadata (or, where a format drops it, by their `.foley.wav` / `.foley.performerN.wav` files) and
replaced.
"""

from __future__ import annotations

from collections.abc import Mapping

import opentimelineio as otio

from .. import __version__
from ..outputs import FOLEY_WAV
from ..synth import SAMPLE_RATE
from .plan import FOLEY, ClipPlan, TimelineOptions


def is_foley_track(track: otio.core.Composable) -> bool:
    """Ours if tagged in metadata; formats that drop metadata and names (FCP XML) keep the `.foley.wav` files."""
    if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Audio:
        return False
    tag = track.metadata.get(FOLEY)
    if isinstance(tag, Mapping) and tag.get("role") == "track":
        return True
    clips = list(track.find_clips(shallow_search=True))
    return bool(clips) and all(FOLEY_WAV.search(getattr(clip.media_reference, "target_url", "") or "")
                               for clip in clips)


def _lanes(plans: list[ClipPlan]) -> list[list[ClipPlan]]:
    """Clips on as few audio tracks as possible: only clips that overlap (several video tracks) need another."""
    lanes: list[list[ClipPlan]] = []
    for plan in sorted(plans, key=lambda plan: (plan.placed.start_time, plan.index)):
        for lane in lanes:
            if lane[-1].placed.end_time_exclusive() <= plan.placed.start_time:
                lane.append(plan)
                break
        else:
            lanes.append([plan])
    return lanes


def _foley_clip(plan: ClipPlan, options: TimelineOptions, performer: int = 0) -> otio.schema.Clip:
    """Clip `plan`'s mix (performer 0), or performer `performer`'s (1-based) stem with their instrument and notes."""
    duration = plan.placed.duration
    media_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, duration.rate), duration)
    metadata = {"engine_version": __version__, "instrument": plan.instrument, **options.generator.record(),
                "generator": plan.result.get("generator", ""),
                "notes": plan.result.get("notes", 0), "sample_rate": SAMPLE_RATE, "samples": plan.samples,
                "source_clip": {"name": plan.name, "track": plan.track, "index": plan.index,
                                "media": str(plan.media), "start": plan.start, "end": plan.end,
                                **({"speed": plan.speed} if plan.speed != 1 else {})}}
    wav, name = plan.target_wav, f"{plan.name} (Foley)"
    if performer:
        wav, name = plan.stems[performer - 1], f"{plan.name} (Foley · performer {performer})"
        player = plan.performers()[performer - 1]
        metadata |= {"performer": performer, "instrument": player["instrument"], "notes": player["notes"]}
    return otio.schema.Clip(
        name=name, source_range=media_range, metadata={FOLEY: metadata},
        media_reference=otio.schema.ExternalReference(target_url=wav.resolve().as_uri(), available_range=media_range))


def _track(name: str, plans: list[ClipPlan], options: TimelineOptions, performer: int = 0) -> otio.schema.Track:
    """One Foley track: `plans`' mixes (performer 0) or their stems of `performer`, gaps between them."""
    tag = {"role": "track", "engine_version": __version__, "instrument": options.instrument,
           **options.generator.record()}
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio,
                              metadata={FOLEY: tag | ({"performer": performer} if performer else {})})
    cursor = otio.opentime.RationalTime(0, plans[0].placed.start_time.rate) if plans else None
    for plan in plans:
        gap = plan.placed.start_time - cursor
        if gap.value > 0:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, gap.rate), gap)))
        track.append(_foley_clip(plan, options, performer))
        cursor = plan.placed.end_time_exclusive()
    return track


def foley_tracks(plans: list[ClipPlan], options: TimelineOptions) -> list[otio.schema.Track]:
    """Audio tracks with each rendered clip at its video clip's place, gaps between; one track if none overlap.

    With `options.stems`, each lane becomes one track per performer instead, left to right (`Foley · performer
    1`, ..., and `Foley 2 · performer 1`, ... for overlapping clips); with no performer anywhere, one empty
    Foley track still replaces an earlier run's."""
    tracks = []
    for number, lane in enumerate(_lanes([plan for plan in plans if plan.status == "ok"]) or [[]], 1):
        name = options.track_name if number == 1 else f"{options.track_name} {number}"
        if not options.stems:
            tracks.append(_track(name, lane, options))
            continue
        for performer in range(1, max((len(plan.stems) for plan in lane), default=0) + 1):
            tracks.append(_track(f"{name} · performer {performer}",
                                 [plan for plan in lane if len(plan.stems) >= performer], options, performer))
    return tracks or [_track(options.track_name, [], options)]


def replace_foley_tracks(timeline: otio.schema.Timeline, tracks: list[otio.schema.Track]) -> int:
    """Swap earlier Foley tracks for `tracks` at the first one's position (else on top); returns how many went."""
    old = [index for index, track in enumerate(timeline.tracks) if is_foley_track(track)]
    for index in reversed(old):
        del timeline.tracks[index]
    position = old[0] if old else len(timeline.tracks)
    for offset, track in enumerate(tracks):
        timeline.tracks.insert(position + offset, track)
    return len(old)
