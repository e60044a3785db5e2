"""Which clips get foley: the clip under the playhead, a whole video track, or the clips of one clip colour.

The engine gets the whole exported timeline with every other clip disabled, so nothing depends on clip
names (Resolve repeats them freely): each chosen item is found in the OTIO export by its video track and its
start frame, and a chosen item the export does not have stops the run before the engine starts. The export
is read as plain JSON because Resolve's Python may not have OpenTimelineIO.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import FoleyScriptError
from .engine import exact_rate

#: Resolve's clip colours, in the order of its Clip Color menu.
CLIP_COLORS = ("Orange", "Apricot", "Yellow", "Lime", "Olive", "Green", "Teal", "Navy", "Blue", "Purple",
               "Violet", "Pink", "Tan", "Beige", "Brown", "Chocolate")
SCOPES = ("playhead", "track", "color")


@dataclass(frozen=True)
class Scope:
    """What the user chose in the dialog or with flags."""

    kind: str  # one of SCOPES
    track: int = 0  # 1-based video track, for "track"
    color: str = ""  # a CLIP_COLORS name, for "color"

    def describe(self) -> str:
        if self.kind == "track":
            return f"the clips on video track V{self.track}"
        if self.kind == "color":
            return f"the {self.color} clips"
        return "the clip under the playhead"


@dataclass(frozen=True)
class Chosen:
    """One chosen timeline item, by the two things both Resolve and its OTIO export agree on."""

    track: int  # 1-based video track
    start: int  # record frame, timeline start included, as Resolve reports it
    name: str


def video_tracks(timeline: Any) -> List[List[Any]]:
    """The items of V1, V2, ... in timeline order (Resolve's tracks are 1-based; failures give None)."""
    count = timeline.GetTrackCount("video") or 0
    return [sorted(timeline.GetItemListInTrack("video", number) or [], key=lambda item: item.GetStart())
            for number in range(1, count + 1)]


def colors_in_use(tracks: List[List[Any]]) -> List[str]:
    used = {item.GetClipColor() or "" for items in tracks for item in items}
    return [color for color in CLIP_COLORS if color in used]


def _identity(item: Any) -> tuple:
    """What tells two proxies of one item apart from others: its unique id (18+), else its place and name."""
    method = getattr(item, "GetUniqueId", None)
    unique_id = method() if callable(method) else None
    return ("id", unique_id) if unique_id else ("place", item.GetStart(), item.GetEnd(), item.GetName())


def _chosen(number: int, item: Any) -> Chosen:
    return Chosen(number, int(item.GetStart()), item.GetName())


def choose(timeline: Any, scope: Scope) -> List[Chosen]:
    """The items the scope picks; a scope that picks nothing is an error saying what to do instead."""
    tracks = video_tracks(timeline)
    if scope.kind == "playhead":
        current = timeline.GetCurrentVideoItem()
        if current is None:
            raise FoleyScriptError("no video clip under the playhead: move the playhead onto a clip, or choose a "
                                   "video track or a clip colour")
        wanted = _identity(current)
        for number in range(len(tracks), 0, -1):  # Resolve reports the topmost clip at the playhead
            for item in tracks[number - 1]:
                if _identity(item) == wanted:
                    return [_chosen(number, item)]
        raise FoleyScriptError(f"the clip under the playhead ({current.GetName()}) is on no video track")
    if scope.kind == "track":
        if not 1 <= scope.track <= len(tracks):
            raise FoleyScriptError(f"there is no video track V{scope.track}: the timeline has {len(tracks)}")
        if not tracks[scope.track - 1]:
            raise FoleyScriptError(f"video track V{scope.track} has no clips")
        return [_chosen(scope.track, item) for item in tracks[scope.track - 1]]
    if scope.kind == "color":
        picked = [_chosen(number, item) for number, items in enumerate(tracks, 1) for item in items
                  if (item.GetClipColor() or "").lower() == scope.color.lower()]
        if not picked:
            used = colors_in_use(tracks)
            raise FoleyScriptError(f"no clip on the video tracks has the clip colour {scope.color} (in use: "
                                   f"{', '.join(used) if used else 'none'}); set it with right-click › Clip Color")
        return picked
    raise FoleyScriptError(f"unknown scope {scope.kind!r}; choose one of {', '.join(SCOPES)}")


def _schema(node: Dict[str, Any]) -> str:
    return str(node.get("OTIO_SCHEMA", "")).split(".")[0]


def _seconds(time: Dict[str, Any]) -> float:
    return float(time["value"]) / float(time["rate"])


def _duration(node: Dict[str, Any]) -> float:
    """An item's length in its track, in seconds: its source range, else what it holds (OTIO's rule)."""
    if node.get("source_range"):
        return _seconds(node["source_range"]["duration"])
    schema = _schema(node)
    if schema == "Clip":
        references = node.get("media_references") or {}
        reference = node.get("media_reference") or references.get(node.get("active_media_reference_key")) or {}
        available = reference.get("available_range")
        return _seconds(available["duration"]) if available else 0.0
    lengths = [_duration(child) for child in node.get("children", []) if _schema(child) != "Transition"]
    if schema == "Stack":
        return max(lengths, default=0.0)
    return sum(lengths)


def _items_by_start(track: Dict[str, Any], fps: float) -> Dict[int, Dict[str, Any]]:
    """Every clip and compound clip of an OTIO track by its start frame relative to the timeline start."""
    found, cursor, rate = {}, 0.0, float(exact_rate(fps))
    for child in track.get("children", []):
        schema = _schema(child)
        if schema == "Transition":  # transitions overlap their neighbours and take no time of their own
            continue
        if schema != "Gap":
            found[int(round(cursor * rate))] = child
        cursor += _duration(child)
    return found


def write_selection(export: Path, selection: Path, chosen: List[Chosen], start_frame: int, fps: float) -> None:
    """Copy Resolve's OTIO export to `selection` with every clip disabled except the chosen ones."""
    try:
        document = json.loads(Path(export).read_text(encoding="utf-8"))
        tracks = [track for track in document["tracks"]["children"]
                  if _schema(track) == "Track" and track.get("kind") == "Video"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FoleyScriptError(f"cannot read Resolve's OTIO export {export}: {error}") from None
    by_track = [_items_by_start(track, fps) for track in tracks]
    keep = set()
    for item in chosen:
        found: Optional[Dict[str, Any]] = None
        if item.track <= len(by_track):
            found = by_track[item.track - 1].get(item.start - start_frame)
        if found is None:
            raise FoleyScriptError(f"Resolve's OTIO export has no clip at the place of {item.name!r} "
                                   f"(V{item.track}, frame {item.start}); nothing was generated")
        keep.add(id(found))
    for items in by_track:
        for node in items.values():
            node["enabled"] = node.get("enabled", True) is not False and id(node) in keep
    Path(selection).write_text(json.dumps(document, indent=1), encoding="utf-8")
