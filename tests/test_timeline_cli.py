"""`foley timeline` refuses bad input with one clear line and the documented exit code, before any work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import opentimelineio as otio
import pytest
from conftest import require_module
from media import make_video
from timelines import assert_one_line_error, clip, media, run_foley, timeline, video_track

from foley_engine.cli import main


@pytest.fixture(scope="module")
def edit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("edit")
    video = make_video(folder / "take.mp4", seconds=2.0, rate=30, size=(160, 120))
    path = folder / "edit.otio"
    otio.adapters.write_to_file(timeline("edit", video_track("V1", clip("take", media(video), 0.0, 24, 24))), str(path))
    return path


def foley(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main(["timeline", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str]:
    code, _, err = foley(capsys, *args)
    return code, err


def one_line(code: int, err: str, expected_code: int, *words: str) -> None:
    assert code == expected_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foley: error: "), err
    for word in words:
        assert word in lines[0], lines[0]


def test_not_a_timeline(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    path = tmp_path / "clip.otio"
    otio.adapters.write_to_file(otio.schema.Clip(name="lonely"), str(path))
    one_line(*fails(capsys, path, "-o", tmp_path / "out.otio"), 3, "clip.otio holds a Clip, not a timeline")


def test_corrupt_json(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    path = tmp_path / "broken.otio"
    path.write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": ')
    one_line(*fails(capsys, path, "-o", tmp_path / "out.otio"), 3, "cannot read broken.otio as otio_json")


def test_unknown_adapter_for_input_and_output(capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path) -> None:
    path = tmp_path / "cut.edl2"
    path.write_text("TITLE: nope\n")
    one_line(*fails(capsys, path, "-o", tmp_path / "out.otio"), 3, "no OpenTimelineIO adapter reads .edl2")
    one_line(*fails(capsys, edit, "-o", tmp_path / "out.mov"), 3, "no OpenTimelineIO adapter writes .mov")
    video = edit.parent / "take.mp4"
    one_line(*fails(capsys, video, "-o", tmp_path / "out.otio"), 3, "for a video use `foley generate`")


def test_missing_input_and_timelines_without_video(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    one_line(*fails(capsys, tmp_path / "nope.otio", "-o", tmp_path / "out.otio"), 3, "timeline not found")
    path = tmp_path / "audio-only.otio"
    otio.adapters.write_to_file(timeline("radio", otio.schema.Track("A1", kind="Audio")), str(path))
    one_line(*fails(capsys, path, "-o", tmp_path / "out.otio"), 3, "no video clips in timeline 'radio'")
    two = otio.schema.SerializableCollection(name="bin", children=[timeline("a"), timeline("b")])
    otio.adapters.write_to_file(two, str(tmp_path / "bin.otio"))
    one_line(*fails(capsys, tmp_path / "bin.otio", "-o", tmp_path / "out.otio"), 3, "holds 2 timelines: 'a', 'b'")


def test_existing_output_needs_force_and_input_is_never_the_output(capsys: pytest.CaptureFixture,
                                                                  tmp_path: Path, edit: Path) -> None:
    out = tmp_path / "out.otio"
    out.write_text("keep me")
    one_line(*fails(capsys, edit, "-o", out), 5, f"output exists: {out} (use --force")
    assert out.read_text() == "keep me"
    before = edit.read_bytes()
    one_line(*fails(capsys, edit, "-o", edit, "--force"), 3, "OUT must differ from IN")
    assert edit.read_bytes() == before


def test_bad_options(capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path) -> None:
    out = tmp_path / "out.otio"
    one_line(*fails(capsys, edit, "-o", out, "--media-root-map", "/old"), 3, "wants OLD=NEW")
    bad = tmp_path / "instruments.json"
    bad.write_text("{'take': 'cello'}")
    one_line(*fails(capsys, edit, "-o", out, "--instrument-map", bad), 3, "is not valid JSON")
    one_line(*fails(capsys, edit, "-o", out, "--instrument", "kazoo"), 3, "clip 'take': unknown instrument")
    one_line(*fails(capsys, edit, "-o", out, "--jobs", "0"), 3, "--jobs must be at least 1")
    one_line(*fails(capsys, edit, "-o", out, "--preview", tmp_path / "p.jpg"), 3, "--preview must end in .png")
    assert not out.exists()


def test_missing_media_is_listed_and_fails_unless_allowed(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    path = tmp_path / "moved.otio"
    ref = media(Path("/old/disk/take.mp4"))
    otio.adapters.write_to_file(timeline("moved", video_track("V1", clip("take", ref, 0, 24, 24))), str(path))
    code, out, err = foley(capsys, path, "-o", tmp_path / "out.otio", "--json")
    one_line(code, err, 3, "media missing for 1 clip(s): take (media not found: /old/disk/take.mp4)",
             "--media-root-map", "--allow-missing")
    summary = json.loads(out)
    assert summary["status"] == "missing" and summary["counts"]["missing"] == 1
    assert summary["clips"][0]["reason"] == "media not found: /old/disk/take.mp4"
    assert not (tmp_path / "out.otio").exists()
    code, _, err = foley(capsys, path, "-o", tmp_path / "out.otio", "--allow-missing")
    one_line(code, err, 3, "no video clip to render in moved.otio: media not found")


def test_dry_run_plans_without_writing(capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path) -> None:
    code, out, err = foley(capsys, edit, "-o", tmp_path / "out.otio", "--dry-run", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "dry-run" and summary["counts"]["planned"] == 1
    assert summary["clips"][0]["samples"] == 48000 and summary["clips"][0]["wav"].endswith("out.001.take.foley.wav")
    assert list(tmp_path.iterdir()) == []


def test_errors_are_one_line_from_a_fresh_process(tmp_path: Path) -> None:
    path = tmp_path / "broken.otio"
    path.write_text("not json at all")
    assert_one_line_error(run_foley("timeline", path, "-o", tmp_path / "out.otio"), 3, "cannot read broken.otio")
    help_text = run_foley("timeline", "--help").stdout
    assert "--media-root-map" in help_text and "--ray" in help_text


def test_ray_without_a_cluster(capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    require_module("ray", reason="Ray is the optional [cluster] extra")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    one_line(*fails(capsys, edit, "-o", tmp_path / "out.otio", "--ray", "auto"), 3,
             "cannot join the Ray cluster at auto: Could not find any running Ray instance")
    assert not (tmp_path / "out.otio").exists()


def test_cancel_leaves_nothing_behind(tmp_path: Path, edit: Path) -> None:
    from foley_engine.errors import Cancelled
    from foley_engine.timeline import foley_timeline

    with pytest.raises(Cancelled):
        foley_timeline(edit, tmp_path / "out.otio", should_cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_a_stop_the_moment_a_staging_folder_is_made_leaves_nothing_behind(
        tmp_path: Path, edit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancelled timeline is stopped by SIGTERM or Ctrl-C wherever it is. The clips' WAVs and the timeline
    itself are staged in hidden folders beside their destinations; landing after such a folder was made
    (tempfile.mkdtemp) and before the block that removes it had begun, a stop left it in the user's media
    folder. Each staging folder is counted as the run's before it exists now."""
    from foley_engine.timeline import foley_timeline, read_timeline, write_timeline

    real_mkdir = os.mkdir

    def mkdir_then_stop(path: str | os.PathLike[str], mode: int = 0o777) -> None:
        real_mkdir(path, mode)
        if str(path).endswith(".part"):
            raise KeyboardInterrupt

    timeline, _ = read_timeline(edit, tmp_path / "scratch")
    out = tmp_path / "out"
    out.mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(os, "mkdir", mkdir_then_stop)
        with pytest.raises(KeyboardInterrupt):
            foley_timeline(edit, out / "edit.otio")  # the clips' staging folder, in the media folder
        with pytest.raises(KeyboardInterrupt):
            write_timeline(timeline, out / "edit.otio", "otio_json")  # the timeline's own, beside it
    assert list(out.iterdir()) == []


def test_bad_generator_options_fail_before_any_work(capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("foley_engine.timeline.run_local", lambda *_, **__: pytest.fail("clips were rendered"))
    out = tmp_path / "out.otio"
    for dry_run in ((), ("--dry-run",)):
        one_line(*fails(capsys, edit, "-o", out, "--model", tmp_path / "nope.pt", *dry_run), 7,
                 f"model checkpoint not found: {tmp_path / 'nope.pt'} (use --model default, baseline or a .pt file)")
    one_line(*fails(capsys, edit, "-o", out, "--model", "baseline", "--temperature", "0.5"), 3,
             "the baseline is deterministic")
    one_line(*fails(capsys, edit, "-o", out, "--model", "default", "--top-p", "2"), 3, "--top-p must be in (0, 1]")
    one_line(*fails(capsys, edit, "-o", out, "--model", "default", "--temperature", "-1"), 3,
             "--temperature must be >= 0")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 broken")
    one_line(*fails(capsys, edit, "-o", out, "--model", broken), 7, "broken.pt is not a Foley model checkpoint")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.pt"]
    proc = run_foley("timeline", edit, "-o", out, "--model", "nope.pt")  # exit code and one line from a process
    assert_one_line_error(proc, 7, "model checkpoint not found")


def test_generator_options_reach_each_clip_and_are_recorded_with_its_audio(
        capsys: pytest.CaptureFixture, tmp_path: Path, edit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `foley generate` takes reaches the engine for every clip, and every Foley clip records it: audio
    made with another model, seed or sampling is told apart from this run's."""
    import inspect
    from types import SimpleNamespace

    import numpy as np
    from model_fixtures import tiny_model

    from foley_engine import pipeline
    from foley_engine.model import save_checkpoint
    from foley_engine.options import GeneratorOptions
    from foley_engine.timeline import _jobs, foley_timeline
    from foley_engine.timeline.plan import TimelineOptions

    checkpoint = save_checkpoint(tmp_path / "tiny.pt", tiny_model())
    real, calls = pipeline.generate, []

    def generate(video: str, instrument: str, **options: object) -> SimpleNamespace:
        inspect.signature(real).bind(video, instrument, **options)  # the engine takes every option it is given
        calls.append(options)
        samples = round((options["end"] - options["start"]) * 48000)
        return SimpleNamespace(audio=np.full((samples, 2), 100, np.int16), stems=[],
                               summary=lambda: {"generator": "fake", "notes": 1})

    monkeypatch.setattr(pipeline, "generate", generate)  # render_clip imports it from the pipeline when it runs
    monkeypatch.chdir(tmp_path)  # --model relative to the current folder; workers get its absolute path

    keys = ("model", "seed", "temperature", "top_k", "top_p")

    def run(*options: str) -> tuple[dict, dict]:
        code, out, err = foley(capsys, edit, "-o", tmp_path / "out.otio", "--jobs", "1", "--json", "--force",
                               *options)
        assert code == 0, err
        result = otio.adapters.read_from_file(str(tmp_path / "out.otio"))
        (foley_clip,) = [c for t in result.audio_tracks() for c in t.find_clips()]
        return json.loads(out), {key: foley_clip.metadata["foley"][key] for key in keys}

    sampled = ("--model", "tiny.pt", "--seed", "7", "--temperature", "1.2", "--top-k", "5", "--top-p", "0.9")
    summary, first = run(*sampled)
    generator = {"model": str(checkpoint.resolve()), "seed": 7, "temperature": 1.2, "top_k": 5, "top_p": 0.9}
    assert {key: getattr(calls[-1]["options"], key) for key in generator} == generator
    assert {key: summary[key] for key in generator} == generator
    assert first == generator
    assert run(*sampled)[1] == first  # same options: the same record, nothing told apart
    assert run(*sampled[:3], "8", *sampled[4:])[1] != first  # another seed
    shipped = {"model": "default", "seed": 0, "temperature": None, "top_k": None, "top_p": None}
    assert run()[1] == shipped == {key: getattr(calls[-1]["options"], key) for key in keys}  # the shipped model
    baseline = shipped | {"model": "baseline"}
    assert run("--model", "baseline")[1] == baseline == {key: getattr(calls[-1]["options"], key) for key in keys}
    # Local processes and Ray tasks get the same jobs: plain data with every option and the absolute path
    options = TimelineOptions(generator=GeneratorOptions(model="tiny.pt", seed=3, temperature=0.7))
    report = foley_timeline(edit, tmp_path / "plan.otio", options, dry_run=True)
    (job,) = _jobs(report.plans, options)
    generated = job.options
    assert (generated.model, generated.seed, generated.temperature, generated.top_k, generated.top_p) == (
        str(checkpoint.resolve()), 3, 0.7, None, None)
