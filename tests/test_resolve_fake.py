"""The fake Resolve keeps Resolve's documented conventions, and its OTIO export reads back as Resolve's does."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from fakes.media import silent_wav
from fakes.resolve import Project, Resolve

RT = otio.opentime.RationalTime


def test_failures_are_none_or_false_and_tracks_are_one_based() -> None:
    project = Project("p", "25")
    timeline = project.timeline
    assert timeline.GetTrackCount("video") == 1 and timeline.GetTrackName("video", 1) == "Video 1"
    assert timeline.GetItemListInTrack("video", 0) is None and timeline.GetItemListInTrack("video", 2) is None
    assert timeline.GetTrackName("audio", 2) is None and timeline.SetTrackName("audio", 2, "x") is False
    assert timeline.AddTrack("audio", "quadraphonic") is False and timeline.AddTrack("audio", "stereo") is True
    assert timeline.GetTrackName("audio", 2) == "Audio 2" and timeline.GetTrackSubType("audio", 2) == "stereo"
    assert timeline.AddTrack("audio") is True and timeline.GetTrackSubType("audio", 3) == "mono"
    assert timeline.DeleteClips([], False) is False
    assert timeline.GetCurrentVideoItem() is None
    assert timeline.SetCurrentTimecode("00:59:59:24") is False  # before the start
    pool = project.GetMediaPool()
    assert pool.SetCurrentFolder(object()) is False and pool.AddSubFolder(object(), "x") is None
    assert pool.ImportMedia(["/nonexistent.wav"]) == [] and pool.AppendToTimeline([{"mediaPoolItem": None}]) == []
    assert timeline.Export("/nonexistent/dir/x.otio", Resolve.EXPORT_OTIO, Resolve.EXPORT_NONE) is False
    assert Resolve(project).NoSuchThing is None  # Resolve answers unknown attributes with None
    assert Resolve(project, version=(18, 1, 4)).EXPORT_OTIO is None


def test_start_timecode_and_playhead_pick_the_topmost_clip() -> None:
    project = Project("p", "29.97", start_timecode="01:00:00:00")
    timeline = project.timeline
    assert timeline.GetStartFrame() == 108000 and timeline.GetStartTimecode() == "01:00:00:00"
    media = project.media_pool.add_media("/m/a.mov", "29.97", 3000)
    low = timeline.add_clip(1, media, 0.0, 60)
    timeline.add_track("video")
    high = timeline.add_clip(2, media, 1.0, 30, record=108010)
    assert timeline.SetCurrentTimecode("01:00:00:05") and timeline.GetCurrentVideoItem() is low
    assert timeline.SetCurrentTimecode("01:00:00:15") and timeline.GetCurrentVideoItem() is high
    assert timeline.GetCurrentTimecode() == "01:00:00:15"


@pytest.mark.parametrize("inclusive", [True, False], ids=["endFrame-inclusive", "endFrame-exclusive-21.x"])
def test_import_and_append_audio_at_a_record_frame(tmp_path: Path, inclusive: bool) -> None:
    project = Project("p", "24", end_frame_inclusive=inclusive)
    pool, timeline = project.GetMediaPool(), project.timeline
    bin_ = pool.AddSubFolder(pool.GetRootFolder(), "Foley")
    assert pool.SetCurrentFolder(bin_)
    [clip] = pool.ImportMedia([str(silent_wav(tmp_path / "a.wav", 2.0))])
    assert bin_.GetClipList() == [clip] and clip.GetClipProperty("Frames") == "48"
    assert clip.GetClipProperty("File Path") == str(tmp_path / "a.wav") and clip.GetName() == "a.wav"
    end = 48 if not inclusive else 47
    info = {"mediaPoolItem": clip, "startFrame": 0, "endFrame": end, "mediaType": 2, "trackIndex": 1,
            "recordFrame": 86410}
    [item] = pool.AppendToTimeline([info])
    assert (item.GetStart(), item.GetEnd(), item.GetDuration()) == (86410, 86458, 48)
    assert pool.AppendToTimeline([info]) == []  # would overlap the first one
    assert pool.AppendToTimeline([info | {"endFrame": end + 1, "recordFrame": 90000}]) == []  # past the media
    assert pool.AppendToTimeline([info | {"trackIndex": 2, "recordFrame": 90000}]) == []  # no such track
    assert timeline.DeleteClips([item], False) and timeline.GetItemListInTrack("audio", 1) == []


def test_export_writes_otio_the_way_resolve_does(tmp_path: Path) -> None:
    project = Project("p", "24")
    timeline = project.timeline
    camera = project.media_pool.add_media("/shoot/cam A.mov", 25, 2500, start_frame=25 * 3600 * 10)  # 10:00:00:00
    timeline.add_clip(1, camera, 4.0, 48, record=86400 + 24, name="take")
    timeline.add_clip(1, camera, 10.0, 24, name="take", enabled=False)
    timeline.add_track("video", "B cam")
    timeline.add_clip(2, camera, 0.0, 12, record=86400 + 30)
    path = tmp_path / "edit.otio"
    assert timeline.Export(str(path), Resolve.EXPORT_OTIO, Resolve.EXPORT_NONE)
    result = otio.adapters.read_from_file(str(path))
    assert result.global_start_time == RT(86400, 24)
    assert [track.name for track in result.video_tracks()] == ["Video 1", "B cam"]
    assert [track.name for track in result.audio_tracks()] == ["Audio 1"]
    v1 = result.video_tracks()[0]
    assert [type(item).__name__ for item in v1] == ["Gap", "Clip", "Clip"]
    first, second = v1.find_clips()
    assert first.range_in_parent() == otio.opentime.TimeRange(RT(24, 24), RT(48, 24))
    assert first.media_reference.target_url == "/shoot/cam A.mov"  # a plain path, as Resolve writes it
    assert first.media_reference.available_range.start_time == RT(900000, 25)
    assert (first.source_range.start_time - first.media_reference.available_range.start_time).to_seconds() == 4.0
    assert second.range_in_parent().start_time == RT(72, 24) and second.enabled is False
    assert result.video_tracks()[1].find_clips()[0].range_in_parent().start_time == RT(30, 24)
