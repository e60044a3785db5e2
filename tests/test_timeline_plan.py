"""Planning and placing foley on OTIO timelines, on real (small, generated) media, without running the engine."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from media import make_video
from timelines import FILM, NTSC, RT, TR, clip, expected_samples, gap, media, timeline, video_track

from foley_engine.errors import InputError
from foley_engine.timeline import foley_tracks, is_foley_track, replace_foley_tracks
from foley_engine.timeline.plan import ClipPlan, TimelineOptions, plan_clips, resolve_media

SECONDS = 4.0


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "small.mp4", seconds=SECONDS, rate=30, size=(160, 120))


def plan(tl: otio.schema.Timeline, tmp_path: Path, **options) -> list[ClipPlan]:
    return plan_clips(tl, TimelineOptions(**options), tmp_path, tmp_path, "out")


def rendered(plans: list[ClipPlan]) -> list[ClipPlan]:
    """Pretend the engine ran: what `foley_tracks` sees after a run."""
    for item in plans:
        if item.status == "render":
            item.status = "ok"
    return plans


def audio_clips(tracks: list[otio.schema.Track]) -> dict[str, otio.schema.Clip]:
    return {c.metadata["foley"]["source_clip"]["name"]: c for t in tracks for c in t.find_clips()}


@pytest.mark.parametrize("rate", [24, 25, 30, 60, FILM, NTSC], ids=["24", "25", "30", "60", "23.976", "29.97"])
def test_foley_clips_sit_exactly_where_their_video_clips_are(small_video: Path, tmp_path: Path, rate: float) -> None:
    ref = media(small_video)
    tl = timeline("edit", video_track(
        "V1", gap(7, rate), clip("a", ref, 0.5, round(1.5 * rate), rate), clip("b", ref, 1.0, 17, rate),
        otio.schema.Transition(in_offset=RT(3, rate), out_offset=RT(3, rate)),
        clip("c", ref, 2.0, round(rate), rate), gap(11, rate), clip("d", ref, 0.0, 5, rate)), rate=rate)
    plans = rendered(plan(tl, tmp_path))
    assert [p.status for p in plans] == ["ok"] * 4
    videos = {c.name: c for c in tl.find_clips()}
    for item in plans:
        assert item.placement == videos[item.name].range_in_parent()
        assert item.samples == expected_samples(item.placement.duration)
    assert plans[1].start == pytest.approx(round(1.0 * rate) / rate)

    (track,) = foley_tracks(plans, TimelineOptions())
    tl.tracks.append(track)
    for name, audio in audio_clips([track]).items():
        assert audio.range_in_parent() == videos[name].range_in_parent()
        assert audio.media_reference.available_range.duration == audio.source_range.duration
    assert track.duration() == tl.tracks[0].duration()


def test_an_hour_of_ntsc_clips_does_not_drift(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    items = []
    for index in range(1200):  # 1200 x (90 + 1) frames at 29.97 = 1 h 0 min 43 s
        items += [clip(f"c{index}", ref, 0.0, 90, NTSC), gap(1, NTSC)]
    tl = timeline("hour", video_track("V1", *items), rate=NTSC)
    plans = rendered(plan(tl, tmp_path))
    (track,) = foley_tracks(plans, TimelineOptions())
    tl.tracks.append(track)
    last_video, last_audio = list(tl.tracks[0].find_clips())[-1], list(track.find_clips())[-1]
    assert last_audio.range_in_parent() == last_video.range_in_parent()
    start = last_audio.range_in_parent().start_time
    assert start.value == 1199 * 91
    assert Fraction(start.to_seconds()).limit_denominator(30000) == Fraction(1199 * 91 * 1001, 30000)
    assert {p.samples for p in plans} == {round(Fraction(90 * 1001, 30000) * 48000)}


def test_engine_range_honours_start_timecode_and_media_rate(small_video: Path, tmp_path: Path) -> None:
    one_hour = media(small_video, rate=24, start_frame=86400)  # 01:00:00:00 at 24 fps, like AAF and FCP XML
    tl = timeline("tc", video_track("V1", clip("tc", one_hour, 1.5, 24, 24),
                                    clip("ntsc-on-30", media(small_video), 2.0, 30, NTSC)), rate=24)
    tc, ntsc = plan(tl, tmp_path)
    assert (tc.start, tc.end) == (pytest.approx(1.5), pytest.approx(2.5))
    assert ntsc.start == pytest.approx(60 / NTSC) and ntsc.samples == expected_samples(RT(30, NTSC))


def test_source_range_past_the_media_end_is_padded_not_refused(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    tl = timeline("long", video_track("V1", clip("over", ref, 3.5, 24, 24), clip("after", ref, 5.0, 24, 24)))
    over, after = plan(tl, tmp_path)
    assert over.status == "render" and over.end == pytest.approx(SECONDS, abs=0.05)
    assert over.samples == 48000
    assert after.status == "skipped" and "after the media's end" in after.reason


def test_compound_clips_map_through_their_trims(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    inner = video_track("inner", clip("hidden", ref, 0.0, 12, 24), clip("half", ref, 1.0, 24, 24),
                        clip("whole", ref, 2.0, 24, 24))
    compound = otio.schema.Stack(name="compound", source_range=TR(RT(24, 24), RT(36, 24)))
    compound.append(inner)
    tl = timeline("nested", video_track("V1", gap(10, 24), compound))
    hidden, half, whole = plan(tl, tmp_path)
    assert hidden.status == "skipped" and "trim" in hidden.reason
    assert half.track == "V1/compound"
    assert half.placement == TR(RT(10, 24), RT(12, 24))  # its second half shows at the compound's start
    assert half.start == pytest.approx(1.5) and half.samples == 24000
    assert whole.placement == TR(RT(22, 24), RT(24, 24)) and whole.start == pytest.approx(2.0)


def test_clips_that_cannot_be_rendered_are_skipped_with_a_reason(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    still = tmp_path / "title.png"
    still.write_bytes(b"\x89PNG\r\n\x1a\n")
    frozen, still_warp, backwards, ramp = (clip(name, ref, 1.0, 12, 24) for name in ("frozen", "still", "back", "ramp"))
    frozen.effects.append(otio.schema.FreezeFrame())
    still_warp.effects.append(otio.schema.LinearTimeWarp(time_scalar=0.0))
    backwards.effects.extend([otio.schema.LinearTimeWarp(time_scalar=2.0), otio.schema.LinearTimeWarp(time_scalar=-1)])
    ramp.effects.append(otio.schema.TimeEffect(name="ramp", effect_name="SpeedRamp"))
    muted = video_track("V2", clip("on-muted-track", ref, 0.0, 12, 24))
    muted.enabled = False
    tl = timeline("reasons", video_track(
        "V1", clip("off", ref, 0.0, 12, 24, enabled=False),
        otio.schema.Clip(name="bars", media_reference=otio.schema.GeneratorReference(generator_kind="SMPTEBars"),
                         source_range=TR(RT(0, 24), RT(12, 24))),
        otio.schema.Clip(name="title", media_reference=media(still, url=still.as_uri()),
                         source_range=TR(RT(0, 24), RT(12, 24))),
        otio.schema.Clip(name="frames", media_reference=otio.schema.ImageSequenceReference(
            target_url_base=tmp_path.as_uri() + "/", name_prefix="f.", name_suffix=".exr", rate=24,
            available_range=TR(RT(0, 24), RT(12, 24))), source_range=TR(RT(0, 24), RT(12, 24))),
        otio.schema.Clip(name="offline", media_reference=otio.schema.MissingReference(),
                         source_range=TR(RT(0, 24), RT(12, 24))),
        clip("gone", media(tmp_path / "gone.mp4"), 0.0, 12, 24),
        clip("web", media(small_video, url="https://example.com/v.mp4"), 0.0, 12, 24),
        frozen, still_warp, backwards, ramp, clip("other", ref, 0.0, 12, 24)), muted)
    selected = ("off", "bars", "title", "frames", "offline", "gone", "web", "frozen", "still", "back", "ramp", "on-.*")
    plans = plan(tl, tmp_path, clips=selected)
    reasons = {p.name: (p.status, p.reason) for p in plans}
    assert {p.name for p in plans if p.summary()["code"] == "speed_change"} == {"frozen", "still", "back", "ramp"}
    assert reasons == {
        "off": ("skipped", "disabled"),
        "bars": ("skipped", "generator clip (SMPTEBars)"),
        "title": ("skipped", "still image"),
        "frames": ("skipped", "image sequence"),
        "offline": ("missing", "offline: the timeline has no media for it"),
        "gone": ("missing", f"media not found: {(tmp_path / 'gone.mp4').resolve()}"),
        "web": ("missing", "not a local file: https://example.com/v.mp4"),
        "frozen": ("skipped", "freeze frame (FreezeFrame) is not supported"),
        "still": ("skipped", "freeze frame (LinearTimeWarp 0) is not supported"),
        "back": ("skipped", "reverse playback (LinearTimeWarp -1) is not supported"),
        "ramp": ("skipped", "time effect SpeedRamp is not supported, only a constant speed (LinearTimeWarp)"),
        "other": ("skipped", "not selected by --clips"),
        "on-muted-track": ("skipped", "disabled"),
    }


def test_a_retimed_clip_shows_its_length_times_its_speed_of_media(small_video: Path, tmp_path: Path) -> None:
    """OTIO's LinearTimeWarp: the source range's duration is the clip's length on the timeline, and the media runs
    time_scalar times as fast under it, from the source range's start; warps multiply. The WAV keeps the clip's
    timeline length; the engine reads the media range and the speed, and a dry run's row says the speed."""
    ref = media(small_video)

    def warped(name: str, start: float, frames: int, *scalars: float) -> otio.schema.Clip:
        item = clip(name, ref, start, frames, 24)
        item.effects.extend(otio.schema.LinearTimeWarp(time_scalar=scalar) for scalar in scalars)
        return item

    inner = video_track("inner", warped("half-hidden", 1.0, 24, 2.0))
    compound = otio.schema.Stack(name="compound", source_range=TR(RT(12, 24), RT(12, 24)))
    compound.append(inner)
    tl = timeline("retimed", video_track(
        "V1", warped("fast", 1.0, 24, 2.0), warped("slow", 1.0, 24, 0.5), warped("chained", 1.0, 30, 2.0, 0.4),
        warped("unit", 1.0, 24, 1.0), warped("over", 3.0, 24, 2.0), compound))
    plans = {p.name: p for p in plan(tl, tmp_path)}
    expected = {"fast": (2.0, 1.0, 3.0, 48000), "slow": (0.5, 1.0, 1.5, 48000), "chained": (0.8, 1.0, 2.0, 60000),
                "unit": (1.0, 1.0, 2.0, 48000), "over": (2.0, 3.0, SECONDS, 48000),
                "half-hidden": (2.0, 2.0, 3.0, 24000)}  # its first 12 frames (0.5 s) hidden: 1 s of media
    for name, (speed, start, end, samples) in expected.items():
        item = plans[name]
        assert item.status == "render", (name, item.reason)
        assert (item.speed, item.start, item.end, item.samples) == (
            pytest.approx(speed), pytest.approx(start), pytest.approx(end, abs=0.05 if name == "over" else 1e-9),
            samples), name
        row = item.summary()
        assert row.get("speed") == (None if speed == 1 else pytest.approx(speed)), name
        assert row["timeline"]["duration_seconds"] == pytest.approx(samples / 48000), name
    assert plans["slow"].placement == TR(RT(24, 24), RT(24, 24))  # "fast" before it keeps its source duration


def test_video_track_and_clip_selection(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    tl = timeline("two", video_track("V1", clip("wide", ref, 0, 24, 24)),
                  video_track("V2", clip("close", ref, 1, 24, 24)))
    assert [(p.name, p.track) for p in plan(tl, tmp_path, video_track=2)] == [("close", "V2")]
    with pytest.raises(InputError, match="has 2 video track"):
        plan(tl, tmp_path, video_track=3)
    with pytest.raises(InputError, match="--clips 'medium' matches no video clip; clips are: close, wide"):
        plan(tl, tmp_path, clips=("medium",))
    with pytest.raises(InputError, match="no video clips"):
        plan(timeline("empty", otio.schema.Track("A1", kind=otio.schema.TrackKind.Audio)), tmp_path)


def test_instrument_map_beats_clip_metadata_beats_default(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    tl = timeline("band", video_track(
        "V1", clip("Cello take 2", ref, 0, 12, 24, metadata={"foley": {"instrument": "cello"}}),
        clip("Cello take 3", ref, 0, 12, 24, metadata={"foley": {"instrument": "cello"}}),
        clip("keys", ref, 0, 12, 24)))
    plans = plan(tl, tmp_path, instrument="organ", instrument_map={"Cello take 3": "viola"})
    assert [p.instrument for p in plans] == ["cello", "viola", "organ"]
    tl.tracks[0][2].metadata["foley"] = {"instrument": "kazoo"}
    with pytest.raises(InputError, match="clip 'keys': unknown instrument 'kazoo'"):
        plan(tl, tmp_path)


def test_media_paths_resolve_urls_relative_paths_and_moved_roots(tmp_path: Path) -> None:
    assert resolve_media("file:///media/a%20b.mp4", tmp_path) == (Path("/media/a b.mp4"), False)
    assert resolve_media("shots/a.mp4", tmp_path) == (tmp_path / "shots/a.mp4", False)
    moved = (("/Volumes/Shoot", "/mnt/shoot"), ("C:\\Media", "/srv/media"))
    assert resolve_media("file:///Volumes/Shoot/day1/a.mov", tmp_path, moved) == (Path("/mnt/shoot/day1/a.mov"), True)
    assert resolve_media("C:\\Media\\day1\\a.mov", tmp_path, moved) == (Path("/srv/media/day1/a.mov"), True)
    assert resolve_media("file:///Volumes/Shooting/a.mov", tmp_path, moved) == (Path("/Volumes/Shooting/a.mov"), False)
    assert resolve_media("s3://bucket/a.mov", tmp_path) == (None, False)


def test_overlapping_clips_get_a_second_foley_track(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    tl = timeline("two", video_track("V1", clip("wide", ref, 0, 48, 24), clip("wide 2", ref, 2, 24, 24)),
                  video_track("V2", gap(24, 24), clip("close", ref, 1, 36, 24)))
    tracks = foley_tracks(rendered(plan(tl, tmp_path)), TimelineOptions(track_name="FX"))
    assert [t.name for t in tracks] == ["FX", "FX 2"]
    assert [c.name for c in tracks[0].find_clips()] == ["wide (Foley)", "wide 2 (Foley)"]
    assert [c.name for c in tracks[1].find_clips()] == ["close (Foley)"]
    assert tracks[1].range_of_child_at_index(1) == TR(RT(24, 24), RT(36, 24))


def test_rerun_replaces_the_foley_track_where_it_was(small_video: Path, tmp_path: Path) -> None:
    ref = media(small_video)
    tl = timeline("edit", video_track("V1", clip("a", ref, 0, 24, 24)),
                  otio.schema.Track("Dialogue", kind=otio.schema.TrackKind.Audio))
    plans = rendered(plan(tl, tmp_path))
    assert replace_foley_tracks(tl, foley_tracks(plans, TimelineOptions())) == 0
    tl.tracks.append(otio.schema.Track("Music", kind=otio.schema.TrackKind.Audio))
    assert replace_foley_tracks(tl, foley_tracks(plans, TimelineOptions())) == 1
    assert [t.name for t in tl.tracks] == ["V1", "Dialogue", "Foley", "Music"]
    untagged = tl.tracks[2]
    untagged.metadata.pop("foley")  # as after FCP XML, which keeps neither metadata nor track names
    untagged.name = ""
    assert is_foley_track(untagged) and not is_foley_track(tl.tracks[1])
    assert replace_foley_tracks(tl, foley_tracks(plans, TimelineOptions())) == 1
    assert [t.name for t in tl.tracks] == ["V1", "Dialogue", "Foley", "Music"]
