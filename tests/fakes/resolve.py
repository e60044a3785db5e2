"""A fake of the documented DaVinci Resolve scripting API subset that Generate Foley uses, modelling Resolve's state.

Method names, arguments and return conventions follow Resolve's Developer/Scripting/README.txt: failures come
back as None or False (not exceptions), tracks are 1-based, item frames are timeline frames with the start
timecode included, GetEnd() is the frame after the last one, clip properties are strings. The model: a
project with a timeline (video/audio tracks of items with record and source frames, clip colours, enabled
flags, a playhead) and a media pool (folders of clips made from files). `Export(path, EXPORT_OTIO)` writes a
real OTIO file from that state the way Resolve 18.5+ does: global_start_time at the start timecode, one track
per Resolve track (V1 first), gaps between items, each clip with a source range at the timeline rate and an
ExternalReference to the plain file path whose available range starts at the media's start timecode.

Set-up helpers for tests are snake_case (`add_media`, `add_clip`, ...), so they are never mistaken for API.
"""

from __future__ import annotations

import itertools
import math
import os
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
NTSC = {"23.976": Fraction(24000, 1001), "29.97": Fraction(30000, 1001), "59.94": Fraction(60000, 1001)}
AUDIO_SUB_TYPES = ("mono", "stereo", "5.1", "5.1film", "7.1", "7.1film") + tuple(f"adaptive{n}" for n in range(1, 25))
_ids = itertools.count(1)


def exact_rate(fps: str | float) -> Fraction:
    return NTSC.get(str(fps), Fraction(str(fps)))


def to_timecode(frame: int, fps: str | float) -> str:
    """Non-drop-frame timecode, counted at the nominal rate (30 for 29.97), as Resolve shows it by default."""
    nominal = round(exact_rate(fps))
    seconds, frames = divmod(int(frame), nominal)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{frames:02d}"


def from_timecode(timecode: str, fps: str | float) -> int | None:
    try:
        hours, minutes, seconds, frames = (int(part) for part in timecode.replace(";", ":").split(":"))
    except ValueError:
        return None
    return ((hours * 60 + minutes) * 60 + seconds) * round(exact_rate(fps)) + frames


class MediaPoolItem:
    """A clip in the media pool: one file with its frame rate, length and start timecode (in its own frames)."""

    def __init__(self, path: str, kind: str, fps: str | float, frames: int, start_frame: int = 0):
        self.path, self.kind, self.fps, self.frames, self.start_frame = str(path), kind, str(fps), frames, start_frame
        self._id = f"mpi-{next(_ids)}"

    def GetName(self) -> str:
        return os.path.basename(self.path)

    def GetMediaId(self) -> str:
        return self._id

    def GetUniqueId(self) -> str:
        return self._id

    def GetClipProperty(self, propertyName: str | None = None) -> str | dict:
        properties = {"File Path": self.path, "File Name": self.GetName(), "Clip Name": self.GetName(),
                      "Type": self.kind, "FPS": self.fps, "Frames": str(self.frames),
                      "Start TC": to_timecode(self.start_frame, self.fps),
                      "Duration": to_timecode(self.frames, self.fps)}
        return properties if propertyName is None else properties.get(propertyName, "")


class Folder:
    def __init__(self, name: str):
        self.name, self.clips, self.subfolders = name, [], []
        self._id = f"folder-{next(_ids)}"

    def GetName(self) -> str:
        return self.name

    def GetClipList(self) -> list:
        return list(self.clips)

    def GetSubFolderList(self) -> list:
        return list(self.subfolders)

    def GetUniqueId(self) -> str:
        return self._id

    def walk(self):
        yield self
        for folder in self.subfolders:
            yield from folder.walk()


class TimelineItem:
    def __init__(self, timeline: Timeline, media: MediaPoolItem, start: int, duration: int, source_start: int,
                 name: str | None = None, color: str = "", enabled: bool = True):
        self.timeline, self.media, self.start, self.duration = timeline, media, start, duration
        self.source_start, self.name, self.color, self.enabled = source_start, name or media.GetName(), color, enabled
        self._id = f"item-{next(_ids)}"

    def GetName(self) -> str:
        return self.name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self.start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self.start + self.duration

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self.duration

    def GetSourceStartFrame(self) -> int:
        return self.source_start

    def GetMediaPoolItem(self) -> MediaPoolItem:
        return self.media

    def GetClipColor(self) -> str:
        return self.color

    def SetClipColor(self, colorName: str) -> bool:
        self.color = colorName
        return True

    def GetClipEnabled(self) -> bool:
        return self.enabled

    def GetUniqueId(self) -> str:
        return self._id

    def source_seconds(self) -> Fraction:
        return Fraction(self.media.start_frame + self.source_start) / exact_rate(self.media.fps)


class Track:
    def __init__(self, name: str, sub_type: str = ""):
        self.name, self.sub_type, self.enabled, self.items = name, sub_type, True, []


class Timeline:
    def __init__(self, project: Project, name: str, fps: str, start_timecode: str = "01:00:00:00"):
        self.project, self.name, self.fps = project, name, str(fps)
        self.start_frame = from_timecode(start_timecode, fps)
        self.tracks: dict[str, list[Track]] = {"video": [Track("Video 1")], "audio": [Track("Audio 1", "stereo")],
                                               "subtitle": []}
        self.playhead = self.start_frame
        self._id = f"timeline-{next(_ids)}"

    # --- set-up for tests ---
    def add_track(self, kind: str, name: str | None = None) -> int:
        self.AddTrack(kind, "stereo" if kind == "audio" else None)
        if name:
            self.tracks[kind][-1].name = name
        return len(self.tracks[kind])

    def add_clip(self, track: int, media: MediaPoolItem, source_start: float, frames: int, record: int | None = None,
                 name: str | None = None, color: str = "", enabled: bool = True) -> TimelineItem:
        """A video item showing `frames` timeline frames from `source_start` seconds into the media."""
        items = self.tracks["video"][track - 1].items
        record = record if record is not None else max([self.start_frame] + [i.GetEnd() for i in items])
        item = TimelineItem(self, media, record, frames, round(source_start * exact_rate(media.fps)), name, color,
                            enabled)
        assert not any(self._overlap(item.start, item.GetEnd(), other) for other in items), "items overlap"
        items.append(item)
        return item

    @staticmethod
    def _overlap(start: int, end: int, other: TimelineItem) -> bool:
        return start < other.GetEnd() and other.GetStart() < end

    def _track(self, trackType: str, index: int) -> Track | None:
        tracks = self.tracks.get(trackType)
        if tracks is None or not isinstance(index, int) or not 1 <= index <= len(tracks):
            return None
        return tracks[index - 1]

    # --- Resolve API ---
    def GetName(self) -> str:
        return self.name

    def GetUniqueId(self) -> str:
        return self._id

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetEndFrame(self) -> int:
        ends = [item.GetEnd() for tracks in self.tracks.values() for track in tracks for item in track.items]
        return max(ends, default=self.start_frame)

    def GetStartTimecode(self) -> str:
        return to_timecode(self.start_frame, self.fps)

    def GetSetting(self, settingName: str = "") -> str:
        return {"timelineFrameRate": self.fps}.get(settingName, "")

    def GetTrackCount(self, trackType: str) -> int:
        return len(self.tracks.get(trackType, []))

    def AddTrack(self, trackType: str, subTrackType: Any = None) -> bool:
        if trackType not in self.tracks:
            return False
        if trackType == "audio":
            options = subTrackType if isinstance(subTrackType, dict) else {"audioType": subTrackType or "mono"}
            if options.get("audioType") not in AUDIO_SUB_TYPES:
                return False
            sub_type = options["audioType"]
        else:
            sub_type = ""
        label = {"video": "Video", "audio": "Audio", "subtitle": "Subtitle"}[trackType]
        self.tracks[trackType].append(Track(f"{label} {len(self.tracks[trackType]) + 1}", sub_type))
        return True

    def DeleteTrack(self, trackType: str, trackIndex: int) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        self.tracks[trackType].remove(track)
        return True

    def GetTrackName(self, trackType: str, trackIndex: int) -> str | None:
        track = self._track(trackType, trackIndex)
        return None if track is None else track.name

    def SetTrackName(self, trackType: str, trackIndex: int, name: str) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None or not isinstance(name, str):
            return False
        track.name = name
        return True

    def GetTrackSubType(self, trackType: str, trackIndex: int) -> str:
        track = self._track(trackType, trackIndex)
        return "" if track is None else track.sub_type

    def GetIsTrackEnabled(self, trackType: str, trackIndex: int) -> bool:
        track = self._track(trackType, trackIndex)
        return bool(track and track.enabled)

    def SetTrackEnable(self, trackType: str, trackIndex: int, enabled: bool) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        track.enabled = bool(enabled)
        return True

    def GetItemListInTrack(self, trackType: str, index: int) -> list | None:
        track = self._track(trackType, index)
        return None if track is None else sorted(track.items, key=lambda item: item.start)

    def DeleteClips(self, timelineItems: list, ripple: bool = False) -> bool:
        """Deletes the items (all must be on this timeline); ripple closes the gaps, which nothing here uses."""
        tracks = [track for tracks in self.tracks.values() for track in tracks]
        owners = [next((track for track in tracks if item in track.items), None) for item in timelineItems or []]
        if not timelineItems or None in owners or ripple:
            return False
        for item, track in zip(timelineItems, owners, strict=True):
            track.items.remove(item)
        return True

    def GetCurrentTimecode(self) -> str:
        return to_timecode(self.playhead, self.fps)

    def SetCurrentTimecode(self, timecode: str) -> bool:
        frame = from_timecode(timecode, self.fps)
        if frame is None or frame < self.start_frame:
            return False
        self.playhead = frame
        return True

    def GetCurrentVideoItem(self) -> TimelineItem | None:
        """The item at the playhead on the topmost enabled video track that has one."""
        for track in reversed(self.tracks["video"]):
            for item in track.items if track.enabled else []:
                if item.GetStart() <= self.playhead < item.GetEnd():
                    return item
        return None

    def Export(self, fileName: str, exportType: int, exportSubtype: int | None = None) -> bool:
        if exportType != Resolve.EXPORT_OTIO or not os.path.isdir(os.path.dirname(os.path.abspath(fileName))):
            return False
        otio.adapters.write_to_file(self.to_otio(), fileName, adapter_name="otio_json")
        return True

    def to_otio(self) -> otio.schema.Timeline:
        rate = float(exact_rate(self.fps))
        result = otio.schema.Timeline(self.name, global_start_time=RT(self.start_frame, rate),
                                      metadata={"Resolve_OTIO": {"Resolve OTIO Meta Version": "1.0"}})
        for kind, otio_kind in (("video", otio.schema.TrackKind.Video), ("audio", otio.schema.TrackKind.Audio)):
            for track in self.tracks[kind]:
                metadata = {"Locked": False} | ({"Audio Type": track.sub_type.capitalize()} if kind == "audio" else {})
                lane = otio.schema.Track(track.name, kind=otio_kind, metadata={"Resolve_OTIO": metadata})
                lane.enabled = track.enabled
                cursor = self.start_frame
                for item in sorted(track.items, key=lambda item: item.start):
                    if item.start > cursor:
                        lane.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(item.start - cursor, rate))))
                    lane.append(self._otio_clip(item, rate))
                    cursor = item.GetEnd()
                result.tracks.append(lane)
        return result

    @staticmethod
    def _otio_clip(item: TimelineItem, rate: float) -> otio.schema.Clip:
        media = item.media
        media_rate = float(exact_rate(media.fps))
        reference = otio.schema.ExternalReference(
            target_url=media.path, available_range=TR(RT(media.start_frame, media_rate), RT(media.frames, media_rate)))
        clip = otio.schema.Clip(name=item.name, media_reference=reference,
                                source_range=TR(RT(float(item.source_seconds() * Fraction(rate)), rate),
                                                RT(item.duration, rate)),
                                metadata={"Resolve_OTIO": {"Link Group ID": 0}})
        clip.enabled = item.enabled
        return clip


class MediaPool:
    def __init__(self, project: Project, end_frame_inclusive: bool = True):
        self.project, self.root = project, Folder("Master")
        self.current = self.root
        self.end_frame_inclusive = end_frame_inclusive  # False models the 21.x report of an exclusive endFrame

    # --- set-up for tests ---
    def add_media(self, path: str | Path, fps: str | float, frames: int, start_frame: int = 0) -> MediaPoolItem:
        """A video clip as Resolve would list it after importing `path` (tests give what Resolve would probe)."""
        item = MediaPoolItem(str(path), "Video", fps, frames, start_frame)
        self.root.clips.append(item)
        return item

    def all_clips(self) -> list[MediaPoolItem]:
        return [clip for folder in self.root.walk() for clip in folder.clips]

    # --- Resolve API ---
    def GetRootFolder(self) -> Folder:
        return self.root

    def GetCurrentFolder(self) -> Folder:
        return self.current

    def SetCurrentFolder(self, folder: Folder) -> bool:
        if folder not in list(self.root.walk()):
            return False
        self.current = folder
        return True

    def AddSubFolder(self, folder: Folder, name: str) -> Folder | None:
        if folder not in list(self.root.walk()) or not name:
            return None
        child = Folder(name)
        folder.subfolders.append(child)
        return child

    def ImportMedia(self, items: list) -> list:
        """Imports readable WAV files into the current folder, in the project's frame rate; skips the rest."""
        imported = []
        fps = self.project.timeline.fps if self.project.timeline else "24"
        for path in items or []:
            try:
                with wave.open(str(path)) as audio:
                    seconds = Fraction(audio.getnframes(), audio.getframerate())
            except (OSError, wave.Error, EOFError):
                continue
            clip = MediaPoolItem(os.path.abspath(path), "Audio", fps, math.ceil(seconds * exact_rate(fps)))
            self.current.clips.append(clip)
            imported.append(clip)
        return imported

    def AppendToTimeline(self, clips: list) -> list:
        """The clipInfo form: each dict placed at its recordFrame on trackIndex; invalid entries are left out.

        Resolve's README leaves overwriting undocumented, so an entry that would overlap an item is refused.
        """
        timeline = self.project.timeline
        appended = []
        for info in clips or []:
            item = self._append_one(timeline, info) if isinstance(info, dict) and timeline else None
            if item is not None:
                appended.append(item)
        return appended

    def _append_one(self, timeline: Timeline, info: dict) -> TimelineItem | None:
        media = info.get("mediaPoolItem")
        if media not in self.all_clips():
            return None
        first, last = info.get("startFrame", 0), info.get("endFrame", media.frames - 1)
        frames = last - first + (1 if self.end_frame_inclusive else 0)
        if not (0 <= first and frames > 0 and first + frames <= media.frames):
            return None
        kind = "audio" if info.get("mediaType", 2 if media.kind == "Audio" else 1) == 2 else "video"
        if (kind == "audio") != (media.kind == "Audio"):
            return None
        track = timeline._track(kind, info.get("trackIndex", 1))
        if track is None:
            return None
        record = info.get("recordFrame", max([timeline.start_frame] + [i.GetEnd() for i in track.items]))
        if record < timeline.start_frame or any(timeline._overlap(record, record + frames, i) for i in track.items):
            return None
        item = TimelineItem(timeline, media, int(record), int(frames), int(first))
        track.items.append(item)
        return item


class Project:
    def __init__(self, name: str, timeline_fps: str = "24", start_timecode: str = "01:00:00:00",
                 end_frame_inclusive: bool = True):
        self.name = name
        self.media_pool = MediaPool(self, end_frame_inclusive)
        self.timeline: Timeline | None = Timeline(self, "Timeline 1", timeline_fps, start_timecode)

    def GetName(self) -> str:
        return self.name

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool

    def GetCurrentTimeline(self) -> Timeline | None:
        return self.timeline

    def GetSetting(self, settingName: str = "") -> str:
        return {"timelineFrameRate": self.timeline.fps if self.timeline else "24"}.get(settingName, "")


class ProjectManager:
    def __init__(self, project: Project | None):
        self.project = project

    def GetCurrentProject(self) -> Project | None:
        return self.project


class Fusion:
    def __init__(self, ui: Any = None):
        self.UIManager = ui


class Resolve:
    """The `resolve` object. Like Resolve's, it answers an unknown attribute with None instead of raising."""

    EXPORT_AAF, EXPORT_DRT, EXPORT_EDL, EXPORT_FCP_7_XML, EXPORT_OTIO = 0, 1, 2, 3, 17
    EXPORT_NONE = 0

    def __init__(self, project: Project | None, version: tuple = (19, 1, 4, 11, ""), ui: Any = None):
        self.project_manager = ProjectManager(project)
        self.version = list(version)
        self.fusion = Fusion(ui)
        if tuple(version[:2]) < (18, 5):
            self.EXPORT_OTIO = None  # the constant came with OTIO export in 18.5

    def __getattr__(self, name: str) -> Any:
        return None

    def GetProjectManager(self) -> ProjectManager:
        return self.project_manager

    def GetProductName(self) -> str:
        return "DaVinci Resolve Studio"

    def GetVersion(self) -> list:
        return list(self.version)

    def GetVersionString(self) -> str:
        return ".".join(str(field) for field in self.version[:4])

    def Fusion(self) -> Fusion:
        return self.fusion
