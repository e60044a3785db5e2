"""Laying the WAVs on the timeline: a "Foley" bin, "Foley" audio tracks, and reruns that replace, not stack.

What the script added earlier is recognised with documented calls only: audio tracks named "Foley" ("Foley 2",
... when the chosen clips overlap in time), or "Foley · performer 1", "Foley · performer 2", ... when each
performer got a track of their own (stems), and on them items whose media pool clip is a `.foley.wav` (or a
stem's `.foley.performerN.wav`) file. A rerun deletes those that overlap the clips being placed, mix or stems,
and keeps the others, so each clip can have its own instrument. Nothing else on the timeline is touched.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import FoleyScriptError
from .engine import FoleyClip

FOLEY_BIN = "Foley"
TRACK_NAME = "Foley"
AUDIO_ONLY = 2  # AppendToTimeline's mediaType


@dataclass(frozen=True)
class Placement:
    placed: List[Tuple[FoleyClip, int]]  # each clip with its 1-based audio track
    replaced: int  # Foley clips of earlier runs deleted because the new ones cover them
    track_names: Dict[int, str]


#: "Foley", "Foley 2", ...; "Foley · performer 1", "Foley 2 · performer 1", ... (group 2: the performer)
_TRACK = re.compile(re.escape(TRACK_NAME) + r"(?: (\d+))?(?: · performer (\d+))?")
#: The engine's WAVs: the mix NAME.foley.wav, a performer's stem NAME.foley.performerN.wav.
_WAV = re.compile(r"\.foley(\.performer\d+)?\.wav$")


def track_performer(name: str) -> Optional[int]:
    """Whose sound a Foley track carries: 0 for the mix ("Foley", "Foley 2"), P for "Foley · performer P" (and
    "Foley 2 · performer P"); None for a track that is not ours."""
    match = _TRACK.fullmatch(name or "")
    return None if match is None else int(match.group(2) or 0)


def is_ours(item: Any) -> bool:
    media = item.GetMediaPoolItem()
    return media is not None and _WAV.search(str(media.GetClipProperty("File Path") or "")) is not None


def _key(path: Any) -> str:
    return os.path.normcase(os.path.realpath(str(path)))


def foley_bin(pool: Any) -> Any:
    root = pool.GetRootFolder()
    for folder in root.GetSubFolderList() or []:
        if folder.GetName() == FOLEY_BIN:
            return folder
    folder = pool.AddSubFolder(root, FOLEY_BIN)
    if folder is None:
        raise FoleyScriptError(f"Resolve did not create the media pool bin {FOLEY_BIN!r}")
    return folder


def import_wavs(pool: Any, clips: List[FoleyClip]) -> Dict[str, Any]:
    """Each WAV's media pool clip (by path), imported into the Foley bin; the user's current bin is restored."""
    previous = pool.GetCurrentFolder()
    if not pool.SetCurrentFolder(foley_bin(pool)):
        raise FoleyScriptError(f"Resolve did not open the media pool bin {FOLEY_BIN!r}")
    try:
        imported = pool.ImportMedia([str(clip.wav) for clip in clips]) or []
    finally:
        if previous is not None:
            pool.SetCurrentFolder(previous)
    by_path = {_key(item.GetClipProperty("File Path")): item for item in imported}
    missing = [clip.wav.name for clip in clips if _key(clip.wav) not in by_path]
    if missing:
        raise FoleyScriptError(f"Resolve did not import {', '.join(missing)}; the timeline was not changed")
    return by_path


def _overlaps(clip: FoleyClip, start: int, end: int) -> bool:
    return clip.record < end and start < clip.end


def _items(timeline: Any, track: int) -> List[Any]:
    return timeline.GetItemListInTrack("audio", track) or []


def _new_track(timeline: Any, names: Dict[int, str], performer: int) -> int:
    """A stereo audio track below the others, named "Foley" or the next free "Foley N" (for a performer's
    stems "Foley · performer P", "Foley N · performer P")."""
    suffix = f" · performer {performer}" if performer else ""
    candidates = [f"{TRACK_NAME}{suffix}"] + [f"{TRACK_NAME} {n}{suffix}" for n in range(2, 100)]
    name = next(candidate for candidate in candidates if candidate not in names.values())
    if not timeline.AddTrack("audio", "stereo"):
        raise FoleyScriptError("Resolve did not add an audio track for the Foley clips")
    track = timeline.GetTrackCount("audio")
    if not timeline.SetTrackName("audio", track, name):
        raise FoleyScriptError(f"Resolve did not name the new audio track A{track} {name!r}")
    names[track] = name
    return track


def _append(pool: Any, timeline: Any, plan: List[Tuple[FoleyClip, int]], media: Dict[str, Any],
            replacing: int) -> None:
    """AppendToTimeline with each clip's record frame, checked by reading the items back.

    endFrame is inclusive in Resolve's README, but one report has it exclusive in 21.x: a placement that comes
    back exactly one frame short everywhere is redone with the exclusive convention.
    """
    for exclusive in (False, True):
        infos = [{"mediaPoolItem": media[_key(clip.wav)], "startFrame": 0,
                  "endFrame": clip.frames if exclusive else clip.frames - 1, "mediaType": AUDIO_ONLY,
                  "trackIndex": track, "recordFrame": clip.record} for clip, track in plan]
        items = pool.AppendToTimeline(infos) or []
        placed = len(items) == len(plan) and all(int(item.GetStart()) == clip.record
                                                  for item, (clip, _) in zip(items, plan))
        short = [clip.frames - int(item.GetDuration()) for item, (clip, _) in zip(items, plan)]
        if placed and not any(short):
            return
        if items:
            timeline.DeleteClips(items, False)
        if exclusive or not placed or set(short) != {1}:
            break
    lost = (f"; the {replacing} Foley clip(s) of an earlier run they were to replace are already deleted (their "
            "WAVs are still in the Foley bin)") if replacing else ""
    raise FoleyScriptError("Resolve did not put the Foley clips at their video clips' frames, so they were removed "
                           "again" + lost)


def place(project: Any, timeline: Any, clips: List[FoleyClip]) -> Placement:
    """Import the WAVs, remove the earlier Foley clips they replace, and append them at their record frames."""
    pool = project.GetMediaPool()
    media = import_wavs(pool, clips)
    audio_tracks = range(1, (timeline.GetTrackCount("audio") or 0) + 1)
    names = {track: timeline.GetTrackName("audio", track) for track in audio_tracks}
    names = {track: name for track, name in names.items() if track_performer(name) is not None}
    old = [item for track in names for item in _items(timeline, track)
           if is_ours(item) and any(_overlaps(clip, item.GetStart(), item.GetEnd()) for clip in clips)]
    if old and not timeline.DeleteClips(old, False):
        raise FoleyScriptError("Resolve did not delete the Foley clips of the earlier run; nothing was added")
    busy = {track: [(item.GetStart(), item.GetEnd()) for item in _items(timeline, track)] for track in names}
    plan, created = [], []
    # the engine's lane rule: each clip on the first free track of its performer's (0: the mix's), else a new one
    for clip in sorted(clips, key=lambda clip: (clip.record, clip.performer)):
        track = next((track for track in sorted(busy) if track_performer(names[track]) == clip.performer
                      and not any(_overlaps(clip, *span) for span in busy[track])), None)
        if track is None:
            track = _new_track(timeline, names, clip.performer)
            busy[track] = []
            created.append(track)
        busy[track].append((clip.record, clip.end))
        plan.append((clip, track))
    try:
        _append(pool, timeline, plan, media, len(old))
    except FoleyScriptError:
        for track in reversed(created):
            timeline.DeleteTrack("audio", track)
        raise
    return Placement(plan, len(old), names)
