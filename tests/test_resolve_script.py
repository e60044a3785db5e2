"""Generate Foley against the fake Resolve, with the real engine: what lands on the timeline, and where.

Each run really exports OTIO from the fake timeline and runs `foley timeline` on 2-second stretches of the
shared piano clip (the keypoint cache makes repeats cheap), then checks every Foley clip against its video
clip in Resolve's own frames: same record frame (timeline start included), same length, a WAV exactly that
long, and not silent.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from fakes.media import silent_wav
from fakes.resolve import Project, Resolve, exact_rate, to_timecode
from fakes.ui import Bmd, UIManager
from timelines import read_wav

from resolve_script import FoleyScriptError
from resolve_script.app import build_parser, generator_options, main
from resolve_script.engine import FoleyClip, foley_clips
from resolve_script.place import place
from resolve_script.selection import Scope, choose, write_selection

ENGINE = Path(sys.executable).with_name("foley")
PIANO_FRAMES = 1320  # the shared clip: 44 s at 30 fps


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The engine of this environment, and WAVs under tmp_path."""
    monkeypatch.setenv("FOLEY_ENGINE", str(ENGINE))
    monkeypatch.setenv("FOLEY_RESOLVE_MEDIA", str(tmp_path / "media"))
    return ENGINE


def studio(video: Path, fps: str = "24", inclusive: bool = True) -> tuple:
    """A project whose timeline starts at 01:00:00:00, with the video in its media pool."""
    project = Project("Concert", fps, "01:00:00:00", end_frame_inclusive=inclusive)
    return project, project.timeline, project.media_pool.add_media(video, 30, PIANO_FRAMES)


def foley_items(timeline) -> list:
    return [(track, item) for track in range(1, timeline.GetTrackCount("audio") + 1)
            if timeline.GetTrackName("audio", track).startswith("Foley")
            for item in timeline.GetItemListInTrack("audio", track)]


def assert_aligned(timeline, videos: list) -> None:
    """One Foley clip per video clip, at its record frame and as long; each WAV exactly that long, not silent."""
    placed = [item for _, item in foley_items(timeline)]
    assert sorted((item.GetStart(), item.GetDuration()) for item in placed) == \
        sorted((video.GetStart(), video.GetDuration()) for video in videos)
    for item in placed:
        samples, rate = read_wav(item.GetMediaPoolItem().GetClipProperty("File Path"))
        assert rate == 48000 and len(samples) == round(Fraction(item.GetDuration()) / exact_rate(timeline.fps) * 48000)
        assert int(np.abs(samples.astype(np.int32)).max()) > 300


def state(project: Project) -> tuple:
    """Everything a run may change: tracks with their items, and the media pool's bins with their clips."""
    timeline = project.timeline
    tracks = [(kind, timeline.GetTrackName(kind, number),
               [(item.GetName(), item.GetStart(), item.GetEnd()) for item in timeline.GetItemListInTrack(kind, number)])
              for kind in ("video", "audio") for number in range(1, timeline.GetTrackCount(kind) + 1)]
    bins = [(folder.GetName(), [clip.GetName() for clip in folder.GetClipList()])
            for folder in project.media_pool.root.walk()]
    return tracks, bins


def generate(resolve: Resolve, *flags: str, bmd: Bmd | None = None) -> int:
    return main(list(flags), resolve=resolve, bmd=bmd)


@pytest.mark.real_media
def test_clip_under_the_playhead(piano_video: Path, engine: Path, capsys: pytest.CaptureFixture) -> None:
    project, timeline, piano = studio(piano_video)
    start = timeline.GetStartFrame()
    timeline.add_clip(1, piano, 12.0, 48, record=start, name="piano")
    chosen = timeline.add_clip(1, piano, 12.0, 48, record=start + 72, name="piano")  # the same name
    timeline.add_track("video")
    timeline.add_clip(2, piano, 12.0, 48, record=start + 100, name="piano")
    videos_before = state(project)[0][:2]
    assert timeline.SetCurrentTimecode(to_timecode(start + 80, "24"))
    assert generate(Resolve(project), "--playhead") == 0
    assert_aligned(timeline, [chosen])
    assert foley_items(timeline)[0][1].GetStart() == 86400 + 72
    assert timeline.GetTrackCount("audio") == 2 and timeline.GetTrackName("audio", 2) == "Foley"
    assert state(project)[0][:2] == videos_before  # the video tracks are as they were
    pool = project.media_pool
    [foley_bin] = pool.GetRootFolder().GetSubFolderList()
    assert foley_bin.GetName() == "Foley" and len(foley_bin.GetClipList()) == 1
    assert pool.GetCurrentFolder() is pool.GetRootFolder()  # the user's bin is selected again
    assert "Placed 1 Foley clip (piano) for the clip under the playhead on A2 'Foley'" in capsys.readouterr().out


@pytest.mark.real_media
@pytest.mark.parametrize("fps, inclusive", [("24", True), ("25", True), ("29.97", False)],
                         ids=["24", "25", "29.97-endFrame-exclusive"])
def test_whole_track_lands_on_the_record_frames(piano_video: Path, engine: Path, fps: str, inclusive: bool) -> None:
    project, timeline, piano = studio(piano_video, fps, inclusive)
    start, frames = timeline.GetStartFrame(), round(2 * exact_rate(fps))
    assert start == {"24": 86400, "25": 90000, "29.97": 108000}[fps]
    first = timeline.add_clip(1, piano, 12.0, frames, record=start + 7, name="take")
    second = timeline.add_clip(1, piano, 12.0, frames, record=start + 7 + frames + 13, name="take")
    timeline.add_track("video")
    timeline.add_clip(2, piano, 12.0, frames, record=start + 7, name="take")  # another track: not chosen
    assert generate(Resolve(project), "--track", "1") == 0
    assert_aligned(timeline, [first, second])


@pytest.mark.real_media
def test_clip_colour_chosen_in_the_dialog(piano_video: Path, engine: Path) -> None:
    project, timeline, piano = studio(piano_video)
    start = timeline.GetStartFrame()
    orange = [timeline.add_clip(1, piano, 12.0, 48, record=start, color="Orange"),
              timeline.add_clip(1, piano, 12.0, 48, record=start + 120, color="Orange")]
    timeline.add_clip(1, piano, 12.0, 48, record=start + 60, color="Blue")
    timeline.add_track("video")
    orange.append(timeline.add_clip(2, piano, 12.0, 48, record=start + 24, color="Orange"))  # overlaps V1's first

    def choose_orange(window) -> None:
        assert window.GetItems()["Color"].entries == ["Orange", "Blue"]  # the colours in use
        window.pick("Scope", "Clips with a clip colour")
        window.pick("Color", "Orange")
        window.pick("Instrument", "cello")
        window.click("Generate")

    bmd = Bmd(choose_orange, lambda window: window.click("OK"))
    assert generate(Resolve(project, ui=UIManager()), bmd=bmd) == 0
    assert_aligned(timeline, orange)
    assert [timeline.GetTrackName("audio", track) for track in (2, 3)] == ["Foley", "Foley 2"]
    assert sorted({track for track, _ in foley_items(timeline)}) == [2, 3]  # overlapping clips on two tracks
    assert "Placed 3 Foley clips (cello) for the Orange clips on A2 'Foley', A3 'Foley 2'" in bmd.shown[1].text()


@pytest.mark.real_media
def test_rerun_replaces_the_earlier_foley_instead_of_stacking(piano_video: Path, engine: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    project, timeline, piano = studio(piano_video, "25")
    start = timeline.GetStartFrame()
    clips = [timeline.add_clip(1, piano, 12.0, 50, record=start + 10, name="a"),
             timeline.add_clip(1, piano, 12.0, 50, record=start + 100, name="b")]
    resolve = Resolve(project)
    assert timeline.SetCurrentTimecode(to_timecode(start + 20, "25"))
    assert generate(resolve, "--playhead") == 0
    assert_aligned(timeline, clips[:1])
    first_wav = foley_items(timeline)[0][1].GetMediaPoolItem().GetClipProperty("File Path")
    for replaced in (1, 2):
        capsys.readouterr()
        assert generate(resolve, "--track", "1") == 0
        assert_aligned(timeline, clips)
        assert f"Replaced {replaced} Foley clip" in capsys.readouterr().out
    assert timeline.GetTrackCount("audio") == 2 and len(foley_items(timeline)) == 2
    assert Path(first_wav).is_file()  # earlier runs' WAVs stay: Resolve may still use them elsewhere


@pytest.mark.real_media
def test_per_performer_puts_each_players_foley_on_a_track_of_their_own(duet_video: Path, engine: Path) -> None:
    """A real duet: ticked in the dialog, each performer's WAV goes on their own track at the clip's frames; run
    again without it, the mix on "Foley" replaces both."""
    project = Project("Concert", "24")
    timeline, start = project.timeline, project.timeline.GetStartFrame()
    duet = timeline.add_clip(1, project.media_pool.add_media(duet_video, 30, 60), 0.0, 48, record=start + 10,
                             name="duet")

    def per_performer(window) -> None:
        assert window.GetItems()["Stems"].Checked is False  # the mix unless asked
        window.pick("Scope", "All clips on a video track")
        window.pick("Instrument", "violin")
        window.tick("Stems")
        window.click("Generate")

    bmd = Bmd(per_performer, lambda window: window.click("OK"))
    assert generate(Resolve(project, ui=UIManager()), bmd=bmd) == 0
    assert [timeline.GetTrackName("audio", track) for track in (2, 3)] == ["Foley · performer 1",
                                                                          "Foley · performer 2"]
    stems = foley_items(timeline)
    assert [(track, item.GetStart(), item.GetDuration()) for track, item in stems] == [
        (2, duet.GetStart(), 48), (3, duet.GetStart(), 48)]
    paths = [item.GetMediaPoolItem().GetClipProperty("File Path") for _, item in stems]
    assert [Path(path).name.rsplit(".", 2)[-2] for path in paths] == ["performer1", "performer2"]
    assert_aligned(timeline, [duet, duet])
    assert ("Placed 2 Foley clips (violin), one per performer, for the clips on video track V1 on "
            "A2 'Foley · performer 1', A3 'Foley · performer 2', aligned to its video clip.") in bmd.shown[1].text()

    assert generate(Resolve(project), "--track", "1", "--instrument", "violin") == 0
    [(track, mix)] = foley_items(timeline)
    assert timeline.GetTrackName("audio", track) == "Foley" and (mix.GetStart(), mix.GetDuration()) == (
        duet.GetStart(), 48)


def test_stems_go_to_their_performers_tracks_and_a_clip_with_fewer_leaves_a_track_empty(tmp_path: Path) -> None:
    """The engine's summary with --stems becomes one clip per performer; each performer's clips share a track."""
    project = Project("Concert", "24")
    timeline, start = project.timeline, project.timeline.GetStartFrame()
    for name in ("a.foley.performer1.wav", "a.foley.performer2.wav", "b.foley.performer1.wav"):
        silent_wav(tmp_path / name, 2)
    summary = {"clips": [
        {"status": "ok", "timeline": {"start": 0, "duration": 48, "rate": 24}, "wav": "a.foley.wav",
         "stems": ["a.foley.performer1.wav", "a.foley.performer2.wav"]},
        {"status": "ok", "timeline": {"start": 60, "duration": 48, "rate": 24}, "wav": "b.foley.wav",
         "stems": ["b.foley.performer1.wav"]}]}
    clips = foley_clips(summary, start, 24.0, tmp_path)
    assert [(clip.wav.name, clip.record, clip.frames, clip.performer) for clip in clips] == [
        ("a.foley.performer1.wav", start, 48, 1), ("a.foley.performer2.wav", start, 48, 2),
        ("b.foley.performer1.wav", start + 60, 48, 1)]
    placement = place(project, timeline, clips)
    assert [track for _, track in placement.placed] == [2, 3, 2]
    assert [(timeline.GetTrackName("audio", track), [item.GetStart() for item in timeline.GetItemListInTrack(
        "audio", track)]) for track in (2, 3)] == [("Foley · performer 1", [start, start + 60]),
                                                   ("Foley · performer 2", [start])]
    again = place(project, timeline, clips)  # a rerun replaces them all, on the same tracks
    assert again.replaced == 3 and timeline.GetTrackCount("audio") == 3


def test_engine_failure_leaves_the_timeline_untouched_and_says_why(engine: Path, tmp_path: Path) -> None:
    project = Project("Concert", "24")
    gone = project.media_pool.add_media(tmp_path / "gone.mp4", 30, 300)  # offline: the file is not there
    timeline = project.timeline
    timeline.add_clip(1, gone, 1.0, 48, record=timeline.GetStartFrame() + 5)
    assert timeline.SetCurrentTimecode("01:00:00:10")
    before = state(project)
    bmd = Bmd(lambda window: window.click("Generate"), lambda window: window.click("OK"))
    assert generate(Resolve(project, ui=UIManager()), bmd=bmd) == 1
    assert state(project) == before
    message = bmd.shown[-1].text()
    assert message.startswith("Stopped: the Foley engine failed: media missing for 1 clip(s)")
    assert "nothing was changed in Resolve" in message


def test_note_generator_flags_reach_the_engine(engine: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine checks them before any work; a checkpoint path is made absolute (the engine runs elsewhere)."""
    project = Project("Concert", "24")
    project.timeline.add_clip(1, project.media_pool.add_media(tmp_path / "take.mp4", 30, 300), 0.0, 48)
    before = state(project)
    monkeypatch.chdir(tmp_path)
    assert generate(Resolve(project), "--track", "1", "--model", "nope.pt", "--seed", "3") == 1
    assert f"model checkpoint not found: {tmp_path / 'nope.pt'}" in capsys.readouterr().err
    assert generate(Resolve(project), "--track", "1", "--model", "baseline", "--temperature", "0.5") == 1
    assert "the baseline is deterministic" in capsys.readouterr().err
    # no --model: the engine's, the shipped model
    assert generator_options(build_parser().parse_args([]), ["default", "baseline"]) == []
    assert state(project) == before


def test_cancel_in_the_dialog_changes_nothing(engine: Path, tmp_path: Path) -> None:
    project = Project("Concert", "24")
    project.timeline.add_clip(1, project.media_pool.add_media(tmp_path / "take.mp4", 30, 300), 0.0, 48)
    before = state(project)

    def cancel(window) -> None:
        assert window.GetItems()["Instrument"].CurrentText == "piano"  # the default, from the engine's list
        window.click("Cancel")

    bmd = Bmd(cancel)
    assert generate(Resolve(project, ui=UIManager()), bmd=bmd) == 0
    assert state(project) == before and [window.ID for window in bmd.shown] == ["FoleyDialog"]
    assert not (tmp_path / "media").exists()  # no run folder either


def test_missing_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    project = Project("Concert", "24")
    monkeypatch.delenv("FOLEY_ENGINE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    before = state(project)
    assert generate(Resolve(project), "--track", "1") == 1
    assert "cannot find the Foley engine (not on PATH): run `foley install-resolve-script`" in capsys.readouterr().err
    monkeypatch.setenv("FOLEY_ENGINE", str(tmp_path / "foley"))
    assert generate(Resolve(project), "--track", "1") == 1
    assert f"FOLEY_ENGINE={tmp_path / 'foley'} is not an executable" in capsys.readouterr().err
    assert state(project) == before


@pytest.mark.parametrize("resolve, words", [
    (Resolve(None), "no project is open"),
    (Resolve(Project("p")), "no timeline"),
    (Resolve(Project("p"), version=(18, 1, 4, 6, "")), "needs DaVinci Resolve 18.5 or later"),
], ids=["no-project", "no-timeline", "resolve-18.1"])
def test_what_resolve_must_have_open(resolve: Resolve, words: str, capsys: pytest.CaptureFixture) -> None:
    if words == "no timeline":
        resolve.GetProjectManager().GetCurrentProject().timeline = None
    assert generate(resolve, "--playhead") == 1
    assert words in capsys.readouterr().err


def test_selection_goes_by_place_not_by_name(tmp_path: Path) -> None:
    """Three clips called "take": only the one under the playhead stays enabled in what the engine gets."""
    project = Project("Concert", "29.97")
    timeline = project.timeline
    media = project.media_pool.add_media("/shoot/take.mov", 30, 3000)
    start = timeline.GetStartFrame()
    for record in (start + 3, start + 63, start + 200):
        timeline.add_clip(1, media, 5.0, 60, record=record, name="take")
    assert timeline.SetCurrentTimecode(to_timecode(start + 70, "29.97"))
    export, selection = tmp_path / "export.otio", tmp_path / "selection.otio"
    assert timeline.Export(str(export), Resolve.EXPORT_OTIO)
    chosen = choose(timeline, Scope("playhead"))
    write_selection(export, selection, chosen, start, 29.97)
    clips = otio.adapters.read_from_file(str(selection)).video_tracks()[0].find_clips()
    assert [(clip.name, clip.enabled) for clip in clips] == [("take", False), ("take", True), ("take", False)]
    with pytest.raises(FoleyScriptError, match="has no clip at the place of 'take' .V1, frame 108004"):
        write_selection(export, selection, [chosen[0].__class__(1, start + 4, "take")], start, 29.97)


@pytest.mark.parametrize("scope, words", [
    (Scope("playhead"), "no video clip under the playhead"),
    (Scope("track", track=3), "there is no video track V3: the timeline has 1"),
    (Scope("color", color="Teal"), "no clip on the video tracks has the clip colour Teal (in use: Orange)"),
])
def test_a_scope_that_picks_nothing_says_what_to_do(scope: Scope, words: str) -> None:
    project = Project("Concert", "24")
    project.timeline.add_clip(1, project.media_pool.add_media("/m.mov", 24, 100), 0.0, 24, color="Orange")
    assert project.timeline.SetCurrentTimecode("01:00:10:00")
    with pytest.raises(FoleyScriptError) as error:
        choose(project.timeline, scope)
    assert words in str(error.value)


def test_foley_never_covers_the_users_own_audio(tmp_path: Path) -> None:
    """A track the user named "Foley" keeps their clip; the new Foley clip that would cover it gets "Foley 2"."""
    project = Project("Concert", "24")
    timeline, pool = project.timeline, project.media_pool
    start = timeline.GetStartFrame()
    [music] = pool.ImportMedia([str(silent_wav(tmp_path / "music.wav", 2))])
    timeline.add_track("audio", "Foley")
    [mine] = pool.AppendToTimeline([{"mediaPoolItem": music, "startFrame": 0, "endFrame": 47, "trackIndex": 2,
                                     "recordFrame": start}])
    clip = FoleyClip(silent_wav(tmp_path / "a.foley.wav", 2), start + 24, 48)
    placement = place(project, timeline, [clip])
    assert placement.replaced == 0 and placement.placed == [(clip, 3)]
    assert timeline.GetItemListInTrack("audio", 2) == [mine] and timeline.GetTrackName("audio", 3) == "Foley 2"


def test_a_placement_resolve_gets_wrong_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clips that come back off their frames are deleted again, with the track made for them."""
    project = Project("Concert", "24")
    timeline, pool = project.timeline, project.media_pool
    append = pool.AppendToTimeline
    monkeypatch.setattr(pool, "AppendToTimeline",
                        lambda infos: append([info | {"recordFrame": info["recordFrame"] + 1} for info in infos]))
    tracks_before = state(project)[0]
    clip = FoleyClip(silent_wav(tmp_path / "a.foley.wav", 2), timeline.GetStartFrame() + 24, 48)
    with pytest.raises(FoleyScriptError, match="did not put the Foley clips at their video clips' frames, so they "
                                               "were removed again$"):
        place(project, timeline, [clip])
    assert state(project)[0] == tracks_before
