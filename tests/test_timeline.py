"""`foley timeline` end to end on real footage: OTIO built with the API and files of every adapter format.

Every clip reuses a few stretches of the shared piano clip, so the keypoint cache makes reruns cheap; each
test re-reads OUT and checks every Foley clip against its video clip: same place, exact length, not silent.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from conftest import require_module
from media import make_video
from timelines import (
    FILM,
    NTSC,
    PLAYING,
    RT,
    TR,
    clip,
    expected_samples,
    gap,
    media,
    read_wav,
    require_adapter,
    run_foley,
    shown_range,
    summary_of,
    timeline,
    video_track,
    wav_path,
)

from foley_engine.cli import main
from foley_engine.notes import Note, Performance
from foley_engine.pipeline import generate
from foley_engine.synth import render, render_stems

pytestmark = pytest.mark.real_media


def check_foley(out: Path, wav_base: Path | None = None, silent: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Re-read OUT: every Foley clip sits where its video clip shows and its WAV is exactly as long."""
    result = otio.adapters.read_from_file(str(out))
    videos = {c.name: c for t in result.video_tracks() for c in t.find_clips()}
    audio = {}
    for track in result.audio_tracks():
        for item in track.find_clips():
            if not item.media_reference.target_url.endswith(".foley.wav"):
                continue
            name = item.name.removesuffix(" (Foley)")
            assert item.range_in_parent() == shown_range(videos[name], result), name
            samples, rate = read_wav(wav_path(item.media_reference, wav_base))
            assert rate == 48000 and samples.shape == (expected_samples(item.duration()), 2), name
            peak = int(np.abs(samples.astype(np.int32)).max())
            assert (peak == 0) if name in silent else (peak > 300), (name, peak)
            audio[name] = samples
    return audio


@pytest.fixture(scope="module")
def no_performer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("empty") / "empty-stage.mp4", seconds=1.0, rate=30, size=(320, 240))


def test_round_trip_with_gaps_transitions_compounds_and_reruns(piano_video: Path, no_performer: Path,
                                                              tmp_path: Path) -> None:
    ref, r = media(piano_video), 24
    compound = otio.schema.Stack(name="Compound", source_range=TR(RT(12, r), RT(24, r)))
    compound.append(video_track("inner", clip("E", ref, 12.0, 48, r)))
    edit = timeline("concert", video_track(
        "V1", gap(6, r), clip("A", ref, 12.0, 48, r), gap(12, r), clip("B", ref, 12.0, 36, r),
        otio.schema.Transition(transition_type="SMPTE_Dissolve", in_offset=RT(6, r), out_offset=RT(6, r)),
        clip("C", ref, 13.0, 24, r), clip("D", ref, 20.0, 24, r, enabled=False),
        otio.schema.Clip(name="Slate", media_reference=otio.schema.GeneratorReference(generator_kind="SolidColor"),
                         source_range=TR(RT(0, r), RT(12, r))),
        clip("Audience", media(no_performer), 0.0, 24, r), compound),
        video_track("V2", gap(18, r), clip("F", ref, 12.0, 24, r)), rate=r)
    source = tmp_path / "concert.otio"
    otio.adapters.write_to_file(edit, str(source))
    before = source.read_bytes()

    out = tmp_path / "out" / "concert.foley.otio"
    proc = run_foley("timeline", source, "-o", out, "--json", "--progress", "json",
                     "--preview", tmp_path / "roundtrip.png")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert source.read_bytes() == before
    summary = summary_of(proc)
    stages = {json.loads(line)["stage"] for line in proc.stdout.splitlines() if '"progress"' in line}
    assert stages == {"read", "clips", "write"}
    status = {c["name"]: (c["status"], c.get("reason", "")) for c in summary["clips"]}
    assert {name for name, (state, _) in status.items() if state == "ok"} == {"A", "B", "C", "E", "F"}
    assert status["D"] == ("skipped", "disabled") and status["Slate"] == ("skipped", "generator clip (SolidColor)")
    assert status["Audience"][0] == "skipped" and "no performer visible" in status["Audience"][1]
    assert summary["foley_tracks"] == ["Foley", "Foley 2"] and summary["counts"]["rendered"] == 5
    assert (tmp_path / "roundtrip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = check_foley(out)
    assert set(first) == {"A", "B", "C", "E", "F"}

    again = tmp_path / "again.otio"
    proc = run_foley("timeline", out, "-o", again, "--json", "--media-dir", tmp_path / "wavs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary_of(proc)["replaced_tracks"] == 2
    result = otio.adapters.read_from_file(str(again))
    assert [t.name for t in result.audio_tracks()] == ["Foley", "Foley 2"]
    second = check_foley(again)
    assert all(np.array_equal(first[name], second[name]) for name in first)  # seed 0: reproducible


@pytest.mark.parametrize("rate, source_suffix, out_suffix", [(NTSC, ".otio", ".otioz"), (FILM, ".otiod", ".otio")],
                         ids=["29.97-to-otioz", "23.976-from-otiod"])
def test_ntsc_rates_and_bundles(piano_video: Path, tmp_path: Path, rate: float, source_suffix: str,
                                out_suffix: str) -> None:
    ref = media(piano_video)
    edit = timeline("ntsc", video_track("V1", gap(5, rate), clip("A", ref, 12.0, 47, rate), gap(3, rate),
                                        clip("B", ref, 12.0, 47, rate)), rate=rate)
    source = tmp_path / f"ntsc{source_suffix}"
    otio.adapters.write_to_file(edit, str(source))
    out = tmp_path / f"out{out_suffix}"
    proc = run_foley("timeline", source, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = [c["samples"] for c in summary_of(proc)["clips"]]
    assert samples == [expected_samples(RT(47, rate))] * 2
    if out_suffix == ".otioz":
        unpacked = tmp_path / "unpacked"
        unpacked.mkdir()
        zipfile.ZipFile(out).extractall(unpacked)
        check_foley(unpacked / "content.otio", wav_base=unpacked)
    else:
        check_foley(out)


@pytest.mark.parametrize("suffix, rate", [(".xml", 24), (".fcpxml", 25), (".kdenlive", 24), (".aaf", NTSC)])
def test_editor_formats_round_trip(piano_video: Path, tmp_path: Path, suffix: str, rate: float) -> None:
    """FCP 7 XML, FCPX XML, Kdenlive and AAF files written by their adapters, read, extended and written back."""
    require_adapter(suffix)
    start_timecode = round(3600 * rate)  # AAF media starts at 01:00:00:00, the usual start timecode
    ref = media(piano_video, rate=rate, start_frame=start_timecode if suffix == ".aaf" else 0)
    frames = 47 if rate == NTSC else round(2 * rate)  # the NTSC test's range: the keypoint cache has it
    edit = timeline("editor", video_track("V1", gap(round(rate), rate), clip("A", ref, 12.0, frames, rate)),
                    rate=rate)
    source = tmp_path / f"edit{suffix}"
    otio.adapters.write_to_file(edit, str(source), **({"use_empty_mob_ids": True} if suffix == ".aaf" else {}))
    out = tmp_path / f"edit.foley{suffix}"
    proc = run_foley("timeline", source, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary_of(proc)["clips"][0]["source"]["start"] == pytest.approx(12.0, abs=1 / rate)
    assert set(check_foley(out)) == {"A"}
    again = tmp_path / f"again{suffix}"
    assert run_foley("timeline", out, "-o", again, "--force").returncode == 0
    result = otio.adapters.read_from_file(str(again))
    assert len(result.audio_tracks()) == 1, "the rerun must replace the Foley track, not add one"


def test_moved_media_project_is_fixed_with_a_root_map(piano_video: Path, tmp_path: Path) -> None:
    old_root = Path("/Volumes/Concert/media")
    ref = media(piano_video, url=(old_root / piano_video.parent.name / piano_video.name).as_uri())
    edit = timeline("moved", video_track("V1", clip("A", ref, 12.0, 48, 24)))
    source = tmp_path / "moved.otio"
    otio.adapters.write_to_file(edit, str(source))
    out = tmp_path / "fixed.otio"
    assert run_foley("timeline", source, "-o", out).returncode == 3
    proc = run_foley("timeline", source, "-o", out, "--json", "--media-root-map",
                     f"{old_root}={piano_video.parent.parent}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_foley(out)
    (video,) = otio.adapters.read_from_file(str(out)).video_tracks()[0].find_clips()
    assert video.media_reference.target_url == piano_video.resolve().as_uri()


def test_silence_instead_of_skipping_clips_without_a_performer(no_performer: Path, piano_video: Path,
                                                              tmp_path: Path) -> None:
    source = tmp_path / "stage.otio"
    edit = timeline("stage", video_track("V1", clip("Audience", media(no_performer), 0.0, 24, 24),
                                         clip("A", media(piano_video), 12.0, 48, 24)))
    otio.adapters.write_to_file(edit, str(source))
    proc = run_foley("timeline", source, "-o", tmp_path / "out.otio", "--allow-silence", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(check_foley(tmp_path / "out.otio", silent=("Audience",))) == {"Audience", "A"}


def at_speed(performance: Performance, speed: float) -> Performance:
    """The notes of `performance` played `speed` times as fast: every time divided by it, pitches kept."""
    return replace(performance, duration=performance.duration / speed, tracks=[
        [Note(note.start / speed, note.end / speed, note.pitch, note.velocity) for note in track]
        for track in performance.tracks])


def test_a_retimed_clip_plays_its_medias_notes_at_the_pictures_tempo(piano_video: Path, tmp_path: Path) -> None:
    """Three clips show the same two seconds of media: as shot, at double speed (LinearTimeWarp 2.0, one second
    on the timeline) and at half speed (0.5, four seconds). Each WAV (and stem) is its clip's timeline length and
    is exactly the speed-1 notes with their times divided by the speed, synthesised: tempo follows the picture,
    pitches stay (a tape-style stretch would shift them)."""
    ref = media(piano_video)
    shown = {"real": (1.0, 48), "fast": (2.0, 24), "slow": (0.5, 96)}  # name: (speed, frames at 24 fps)
    clips = {name: clip(name, ref, PLAYING[0], frames, 24) for name, (_, frames) in shown.items()}
    for name, (speed, _) in shown.items():
        if speed != 1:
            clips[name].effects.append(otio.schema.LinearTimeWarp(time_scalar=speed))
    source = tmp_path / "retimed.otio"
    otio.adapters.write_to_file(timeline("retimed", video_track("V1", *clips.values())), str(source))
    proc = run_foley("timeline", source, "-o", tmp_path / "out.otio", "--json", "--jobs", "1", "--stems")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {row["name"]: row for row in summary_of(proc)["clips"]}
    # the same media range: its keypoints come from the cache the run filled, so these are the run's notes
    played = generate(piano_video, start=PLAYING[0], end=PLAYING[1]).performance
    assert played.notes and {row["notes"] for row in rows.values()} == {len(played.notes)}
    for name, (speed, frames) in shown.items():
        row, samples = rows[name], frames * 48000 // 24
        assert row["status"] == "ok" and row["source"] == {"start": PLAYING[0], "end": PLAYING[1]}, row
        assert row.get("speed") == (None if speed == 1 else speed) and row["samples"] == samples
        retimed = at_speed(played, speed)
        mix, rate = read_wav(row["wav"])
        assert rate == 48000 and np.array_equal(mix, render(retimed, num_samples=samples)), name
        stems = [read_wav(stem)[0] for stem in row["stems"]]
        expected = render_stems(retimed, num_samples=samples)
        assert len(stems) == len(expected) and all(map(np.array_equal, stems, expected)), name


def run_in_process(capsys: pytest.CaptureFixture, piano_video: Path, out: Path, *options: str) -> dict:
    """Three clips (two of them sharing a stretch) through `main` in this process; returns the JSON summary."""
    ref = media(piano_video)
    edit = timeline("parallel", video_track("V1", clip("A", ref, 12.0, 48, 24), gap(12, 24),
                                            clip("B", ref, 12.0, 36, 24), clip("C", ref, 13.0, 24, 24)))
    source = out.with_suffix(".in.otio")
    otio.adapters.write_to_file(edit, str(source))
    code = main(["timeline", str(source), "-o", str(out), "--json", *options])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr[-3000:]
    return json.loads(stdout.splitlines()[-1])


def test_local_processes_give_the_same_audio_as_one(piano_video: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    # The model's notes, not the keys': two local processes give each clip's pose one worker instead of two,
    # and tracking restarts at a chunk border, which moves a few fingertips; the keys source's fingertip gate
    # can see that (the same worker count gives the same notes, in tests/test_keyboard_source.py's runs too).
    one = run_in_process(capsys, piano_video, tmp_path / "one.otio", "--jobs", "1", "--source", "model")
    two = run_in_process(capsys, piano_video, tmp_path / "two.otio", "--jobs", "2", "--source", "model")
    assert (one["workers"], two["workers"], two["backend"]) == (1, 2, "local")
    first, second = check_foley(tmp_path / "one.otio"), check_foley(tmp_path / "two.otio")
    assert set(first) == {"A", "B", "C"} and all(np.array_equal(first[n], second[n]) for n in first)


def tiny_checkpoint(folder: Path) -> str:
    """An untrained tiny model: sampled hot, it plays notes, and each seed others."""
    pytest.importorskip("torch")
    from model_fixtures import tiny_model

    from foley_engine.model import save_checkpoint

    return str(save_checkpoint(folder / "tiny.pt", tiny_model()))


def test_generator_options_reach_every_local_process(piano_video: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """--model, --seed and --temperature reach each clip in spawned workers: another seed gives other audio."""
    sampled = ("--source", "model", "--model", tiny_checkpoint(tmp_path), "--temperature", "1.5", "--jobs", "2")
    outs = [tmp_path / f"seed{seed}-{number}.otio" for number, seed in enumerate((1, 2, 1))]
    for out, seed in zip(outs, (1, 2, 1), strict=True):
        summary = run_in_process(capsys, piano_video, out, *sampled, "--seed", str(seed))
        assert (summary["seed"], summary["temperature"], summary["workers"]) == (seed, 1.5, 2)
        assert all(clip["generator"].startswith("model:tiny-") for clip in summary["clips"])
    first, other, again = (check_foley(out) for out in outs)
    assert set(first) == {"A", "B", "C"} and all(np.array_equal(first[n], again[n]) for n in first)
    assert not any(np.array_equal(first[n], other[n]) for n in first)


def test_a_ray_cluster_gives_the_same_audio(piano_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """With a model given as a checkpoint path, which Ray tasks in other folders must find too."""
    ray = require_module("ray", reason="Ray is the optional [cluster] extra (pip install 'foley[cluster]')")
    sampled = ("--source", "model", "--model", tiny_checkpoint(tmp_path), "--temperature", "1.5", "--seed", "4")
    run_in_process(capsys, piano_video, tmp_path / "local.otio", *sampled)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_in_process(capsys, piano_video, tmp_path / "ray.otio", "--ray", "auto", *sampled)
    finally:
        ray.shutdown()
    assert (summary["backend"], summary["workers"]) == ("ray", 2)
    assert all(clip["generator"].startswith("model:tiny-") for clip in summary["clips"])
    local, remote = check_foley(tmp_path / "local.otio"), check_foley(tmp_path / "ray.otio")
    assert set(remote) == {"A", "B", "C"} and all(np.array_equal(local[n], remote[n]) for n in local)
