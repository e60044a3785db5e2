"""Stems: one WAV per performer beside the mix, for `foley generate --stems` and `foley timeline --stems`.

Real FluidSynth and real OTIO; pose is replaced by random keypoints (the baseline plays notes from their
jitter) with as many performers as the clip's name says, so a duet and a solo run in a second or two: these
tests are about what is rendered and where it goes, not about tracking (tests/test_ensembles.py is).
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from media import make_video
from timelines import RT, TR, clip, gap, media, read_wav, timeline, video_track

from foley_engine import cli, pipeline
from foley_engine.instruments import get_instrument
from foley_engine.keypoints import Keypoints
from foley_engine.notes import Note, Performance
from foley_engine.options import GeneratorOptions
from foley_engine.synth import SAMPLE_RATE, render, render_stems
from foley_engine.timeline import foley_tracks, is_foley_track
from foley_engine.timeline.plan import ClipPlan, TimelineOptions

RATE = 24  # the timelines' frame rate


def _performers(path: str | Path) -> int:
    """How many players the fake pose sees: "duo" clips have two, any other one."""
    name = Path(path).name
    return 2 if "duo" in name else 1


@pytest.fixture
def pose_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pose replaced by random joints of the right length (different per performer); records each call."""
    calls: list[str] = []

    def extract(path: Path, start: float, end: float, *args: object, **kwargs: object) -> tuple[Keypoints, None]:
        calls.append(str(path))
        frames, count = round((end - start) * 30), _performers(path)
        rng = np.random.default_rng(count)
        return Keypoints(30.0, start, rng.random((count, frames, 25, 3), np.float32),
                         rng.random((count, frames, 2, 21, 3), np.float32), (320, 240)), None

    monkeypatch.setattr(pipeline, "extract", extract)
    return calls


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {name: make_video(folder / f"{name}.mp4", seconds=2.0, rate=30, size=(160, 120))
            for name in ("duo", "solo")}


def _peak(samples: np.ndarray) -> int:
    return int(np.abs(samples.astype(np.int32)).max(initial=0))


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def _assert_stems_add_up(mix: np.ndarray, stems: list[np.ndarray]) -> None:
    """Each stem as long as the mix, none silent, and together the mix: FluidSynth adds voices up, so the sum
    of the stems differs from the mix by a ten-thousandth of its level or so (a missing, doubled or wrongly
    voiced part would be a large fraction of it)."""
    assert all(stem.shape == mix.shape and stem.dtype == np.int16 for stem in stems)
    assert all(_peak(stem) > 300 for stem in stems)
    total = np.sum([stem.astype(np.int32) for stem in stems], axis=0)
    assert _rms(total - mix) < 0.002 * _rms(mix)


# --- the synthesizer -----------------------------------------------------------------------------------------

def test_a_stem_is_its_performer_alone_on_their_own_instrument_and_the_stems_add_up_to_the_mix() -> None:
    violin, guitar = get_instrument("violin"), get_instrument("guitar")
    first, second = [Note(0.1, 0.6, 67, 90)], [Note(1.0, 1.5, 48, 100), Note(1.1, 1.4, 52, 80)]
    duet = Performance(instrument=violin, duration=2.0, tracks=[first, second], track_instruments=[violin, guitar])
    stems = render_stems(duet)
    assert len(stems) == 2
    np.testing.assert_array_equal(stems[0], render(Performance(instrument=violin, duration=2.0, tracks=[first])))
    np.testing.assert_array_equal(stems[1], render(Performance(instrument=guitar, duration=2.0, tracks=[second])))
    _assert_stems_add_up(render(duet), stems)
    assert _peak(stems[0][:SAMPLE_RATE // 2]) > 300 and _peak(stems[1][:SAMPLE_RATE // 2]) == 0  # before its notes
    assert render_stems(Performance(instrument=violin, duration=1.0)) == []  # nobody: no stems


def test_generate_renders_stems_only_when_asked_and_reports_them_as_part_of_synthesis(
        videos: dict[str, Path], pose_calls: list[str]) -> None:
    events = []
    result = pipeline.generate(videos["duo"], "violin,guitar", options=GeneratorOptions(model="baseline"), stems=True,
                               progress=events.append)
    _assert_stems_add_up(result.audio, result.stems)
    synth = [event for event in events if event.stage == "synth"]
    fractions = [event.fraction for event in synth]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions.count(1.0) == 1
    assert any(event.message.startswith("performer 2: ") for event in synth)
    assert pipeline.generate(videos["duo"], "violin", options=GeneratorOptions(model="baseline")).stems == []


# --- foley generate --stems ------------------------------------------------------------------------------------

def _generate(capsys: pytest.CaptureFixture[str], video: Path, out: Path, *options: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = cli.main(["generate", str(video), "-o", str(out), "--model", "baseline", "--progress", "none", "--json",
                     *options])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else {}, captured.err


def test_generate_stems_writes_each_performer_beside_the_mix(videos: dict[str, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            pose_calls: list[str]) -> None:
    code, summary, err = _generate(capsys, videos["duo"], tmp_path, "--stems", "--instrument", "violin,guitar")
    assert code == 0, err
    outputs = summary["outputs"]
    assert outputs["wav_performer1"] == str(tmp_path / "duo.foley.performer1.wav")
    assert outputs["wav_performer2"] == str(tmp_path / "duo.foley.performer2.wav")
    mix, rate = read_wav(outputs["wav"])
    assert rate == SAMPLE_RATE and len(mix) == 2 * SAMPLE_RATE  # the clip's length, like the mix
    stems = [read_wav(outputs[f"wav_performer{p}"])[0] for p in (1, 2)]
    _assert_stems_add_up(mix, stems)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "duo.foley.mid", "duo.foley.performer1.wav", "duo.foley.performer2.wav", "duo.foley.wav",
        "duo.keypoints.npz"]

    code, summary, err = _generate(capsys, videos["duo"], tmp_path / "mix")
    assert code == 0, err
    assert not [kind for kind in summary["outputs"] if "performer" in kind]
    assert not list((tmp_path / "mix").glob("*performer*"))


def test_stems_are_refused_before_any_work_when_an_earlier_run_left_some(videos: dict[str, Path], tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         pose_calls: list[str]) -> None:
    earlier = tmp_path / "duo.foley.performer3.wav"  # an earlier run saw three players
    earlier.write_bytes(b"earlier")
    code, _, err = _generate(capsys, videos["duo"], tmp_path, "--stems")
    assert code == 5 and err.strip() == f"foley: error: output exists: {earlier} (use --force to overwrite)"
    assert pose_calls == [] and [path.name for path in tmp_path.iterdir()] == [earlier.name]
    code, summary, err = _generate(capsys, videos["duo"], tmp_path, "--stems", "--force")
    assert code == 0, err
    assert [kind for kind in summary["outputs"] if "performer" in kind] == ["wav_performer1", "wav_performer2"]


def test_a_stem_that_cannot_be_written_leaves_no_output_at_all(videos: dict[str, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                pose_calls: list[str]) -> None:
    """The stems are in the same all-or-nothing set as the mix, the MIDI and the keypoints."""
    write_wav = pipeline.write_wav

    def full_for_performer2(samples: np.ndarray, path: Path, **options: object) -> Path:
        if ".performer2." in Path(path).name:  # the temp file beside duo.foley.performer2.wav
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_wav(samples, path, **options)

    monkeypatch.setattr(pipeline, "write_wav", full_for_performer2)
    code, _, err = _generate(capsys, videos["duo"], tmp_path, "--stems")
    assert code == 5
    assert err.strip() == (f"foley: error: cannot write {tmp_path / 'duo.foley.performer2.wav'}: "
                           "No space left on device")
    assert list(tmp_path.iterdir()) == []


# --- foley timeline --stems ------------------------------------------------------------------------------------

def _band_edit(videos: dict[str, Path], folder: Path) -> Path:
    """V1: the duo (1 s), a gap, the solo (1 s); the duo plays violin and guitar, the solo cello."""
    edit = timeline("band", video_track("V1", gap(6, RATE), clip("duo", media(videos["duo"], seconds=2.0), 0.0,
                                                                   RATE, RATE),
                                        gap(12, RATE), clip("solo", media(videos["solo"], seconds=2.0), 0.5, RATE,
                                                            RATE)), rate=RATE)
    path = folder / "band.otio"
    otio.adapters.write_to_file(edit, str(path))
    (folder / "instruments.json").write_text(json.dumps({"duo": ["violin", "guitar"], "solo": "cello"}))
    return path


def _timeline(capsys: pytest.CaptureFixture[str], edit: Path, out: Path, *options: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = cli.main(["timeline", str(edit), "-o", str(out), "--jobs", "1", "--progress", "none", "--json",
                     "--instrument-map", str(edit.parent / "instruments.json"), *options])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else {}, captured.err


def _audio_tracks(path: Path) -> list[otio.schema.Track]:
    return list(otio.adapters.read_from_file(str(path)).audio_tracks())


def _items(track: otio.schema.Track) -> list[tuple[str, TR]]:
    """(clip name, or "gap"; its place on the track) for everything on it."""
    return [(item.name if isinstance(item, otio.schema.Clip) else "gap", item.range_in_parent()) for item in track]


def test_timeline_stems_put_each_performer_on_a_track_of_their_own(videos: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   pose_calls: list[str]) -> None:
    edit = _band_edit(videos, tmp_path)
    out = tmp_path / "band.foley.otio"
    code, summary, err = _timeline(capsys, edit, out, "--stems", "--track-name", "Music")
    assert code == 0, err
    assert summary["foley_tracks"] == ["Music · performer 1", "Music · performer 2"]
    first, second = _audio_tracks(out)
    duo_at, solo_at, second_long = TR(RT(6, RATE), RT(RATE, RATE)), TR(RT(42, RATE), RT(RATE, RATE)), RT(30, RATE)
    assert _items(first) == [("gap", TR(RT(0, RATE), RT(6, RATE))), ("duo (Foley · performer 1)", duo_at),
                             ("gap", TR(RT(30, RATE), RT(12, RATE))), ("solo (Foley · performer 1)", solo_at)]
    # the solo has no second performer: that track is empty (a gap) under it
    assert _items(second) == [("gap", TR(RT(0, RATE), RT(6, RATE))), ("duo (Foley · performer 2)", duo_at)]
    assert second.duration() == second_long
    assert [(t.name, t.metadata["foley"]["performer"]) for t in (first, second)] == [
        ("Music · performer 1", 1), ("Music · performer 2", 2)]
    played = {(c.metadata["foley"]["source_clip"]["name"], c.metadata["foley"]["performer"]):
              c.metadata["foley"]["instrument"] for t in (first, second) for c in t.find_clips()}
    assert played == {("duo", 1): "violin", ("duo", 2): "guitar", ("solo", 1): "cello"}

    rows = {row["name"]: row for row in summary["clips"]}
    assert rows["duo"]["stems"] == [str(tmp_path / f"band.foley.001.duo.foley.performer{p}.wav") for p in (1, 2)]
    assert rows["solo"]["stems"] == [str(tmp_path / "band.foley.002.solo.foley.performer1.wav")]
    assert summary["outputs"]["stems"] == rows["duo"]["stems"] + rows["solo"]["stems"]
    for track in (first, second):
        for item in track.find_clips():
            samples, rate = read_wav(otio.url_utils.filepath_from_url(item.media_reference.target_url))
            assert rate == SAMPLE_RATE and len(samples) == SAMPLE_RATE  # exactly the clip: 24 frames at 24 fps
    duo_mix = read_wav(rows["duo"]["wav"])[0]
    _assert_stems_add_up(duo_mix, [read_wav(stem)[0] for stem in rows["duo"]["stems"]])


def test_timeline_reruns_replace_stem_tracks_and_without_stems_nothing_changes(
        videos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], pose_calls: list[str]) -> None:
    edit = _band_edit(videos, tmp_path)
    stems, mix, again = tmp_path / "stems.otio", tmp_path / "mix.otio", tmp_path / "again.otio"
    assert _timeline(capsys, edit, stems, "--stems")[0] == 0
    code, summary, err = _timeline(capsys, stems, mix)  # the mix replaces both performers' tracks
    assert code == 0, err
    assert (summary["foley_tracks"], summary["replaced_tracks"]) == (["Foley"], 2)
    assert [track.name for track in _audio_tracks(mix)] == ["Foley"]
    assert "stems" not in summary["outputs"] and all("stems" not in row for row in summary["clips"])
    assert not list(tmp_path.glob("mix.*performer*"))
    code, summary, err = _timeline(capsys, mix, again, "--stems")  # and stems replace the mix again
    assert code == 0, err
    assert summary["foley_tracks"] == ["Foley · performer 1", "Foley · performer 2"]
    assert summary["replaced_tracks"] == 1
    assert [track.name for track in _audio_tracks(again)] == summary["foley_tracks"]


def test_timeline_stems_of_an_earlier_run_need_force(videos: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str], pose_calls: list[str]) -> None:
    edit = _band_edit(videos, tmp_path)
    earlier = tmp_path / "out.002.solo.foley.performer2.wav"
    earlier.write_bytes(b"earlier")
    code, _, err = _timeline(capsys, edit, tmp_path / "out.otio", "--stems")
    assert code == 5 and err.strip() == f"foley: error: output exists: {earlier} (use --force to overwrite)"
    assert pose_calls == []
    assert _timeline(capsys, edit, tmp_path / "out.otio", "--stems", "--force")[0] == 0


def _rendered(name: str, start: int, frames: int, performers: int, folder: Path, index: int) -> ClipPlan:
    """A clip plan as after a run with --stems: placed, rendered, with a stem per performer."""
    wav = folder / f"out.{index:03d}.{name}.foley.wav"
    return ClipPlan(index, name, "V1", otio.schema.Clip(name=name), "ok",
                    placement=TR(RT(start, RATE), RT(frames, RATE)), wav=wav, samples=frames * 2000,
                    stems=[wav.with_name(f"out.{index:03d}.{name}.foley.performer{p}.wav")
                           for p in range(1, performers + 1)])


def test_overlapping_clips_get_a_set_of_performer_tracks_each(tmp_path: Path) -> None:
    plans = [_rendered("wide", 0, 48, 2, tmp_path, 1), _rendered("close", 24, 24, 3, tmp_path, 2)]
    tracks = foley_tracks(plans, TimelineOptions(track_name="FX", stems=True))
    assert [track.name for track in tracks] == ["FX · performer 1", "FX · performer 2", "FX 2 · performer 1",
                                                "FX 2 · performer 2", "FX 2 · performer 3"]
    assert [[c.name for c in track.find_clips()] for track in tracks] == [
        ["wide (Foley · performer 1)"], ["wide (Foley · performer 2)"], ["close (Foley · performer 1)"],
        ["close (Foley · performer 2)"], ["close (Foley · performer 3)"]]
    assert [track.name for track in foley_tracks(plans, TimelineOptions(track_name="FX"))] == ["FX", "FX 2"]
    nobody = [_rendered("empty", 0, 24, 0, tmp_path, 1)]  # --allow-silence with no performer: still one track
    assert [track.name for track in foley_tracks(nobody, TimelineOptions(stems=True))] == ["Foley"]


def test_a_stem_track_is_recognised_by_its_files_where_a_format_drops_metadata(tmp_path: Path) -> None:
    (track,) = foley_tracks([_rendered("duo", 0, 24, 1, tmp_path, 1)], TimelineOptions(stems=True))
    track.metadata.pop("foley")  # as after FCP XML, which keeps neither metadata nor track names
    track.name = ""
    assert is_foley_track(track)
    track.append(otio.schema.Clip(name="music", media_reference=otio.schema.ExternalReference(
        target_url=(tmp_path / "music.performer1.wav").as_uri())))
    assert not is_foley_track(track)


def test_generate_renders_every_take(videos: dict[str, Path], pose_calls: list[str]) -> None:
    """The learned model's variations each come with their own audio, the first being `audio`: a caller (the
    panel) never renders takes itself."""
    result = pipeline.generate(videos["duo"], "violin", options=GeneratorOptions(model="default", seed=4, variations=2))
    assert len(result.takes) == len(result.take_audio) == 2
    assert result.take_audio[0] is result.audio
    for take, audio in zip(result.takes, result.take_audio, strict=True):
        assert audio.shape == result.audio.shape
        np.testing.assert_array_equal(audio, render(take, num_samples=len(result.audio)))
