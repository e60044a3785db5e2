"""The `foley` command end to end, as a user runs it: real MediaPipe, real FluidSynth, real footage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import as_a_terminal_starts_it, unfinished_work
from media import make_video, truncated_copy, zero_frame_video

CLIP_START, CLIP_END = 12.0, 15.0  # a stretch of the shared piano clip where both hands play


def run_foley(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "foley_engine", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foley: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return data.reshape(-1, wav.getnchannels()), wav.getframerate(), wav.getnchannels()


def test_instruments_lists_gm_programs() -> None:
    proc = run_foley("instruments", "--json")
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    for name in ("accordion", "bass", "bassoon", "cello", "guitar", "piano", "tuba", "ukulele", "violin",
                 "flute", "trumpet", "saxophone", "xylophone"):
        assert name in rows
    assert rows["piano"]["program"] == 0 and rows["violin"]["program"] == 40 and rows["tuba"]["program"] == 58
    table = run_foley("instruments").stdout
    assert "Accordion" in table and "xylophone" in table


def test_light_commands_import_nothing_heavy_and_help_lists_every_command() -> None:
    probe = ("import sys\nfrom foley_engine.cli import main\nmain(sys.argv[1:])\n"
             "heavy = {'scipy', 'torch', 'av', 'cv2', 'opentimelineio', 'foley_engine.timeline.plan'}\n"
             "print(sorted(heavy & set(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, "instruments"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "[]", proc.stderr
    usage = run_foley("--help").stdout
    for command in ("generate", "instruments", "render-keypoints", "timeline", "train", "eval", "dataset",
                    "install-resolve-script"):
        assert f"    {command} " in usage or f"    {command}\n" in usage, command
        assert run_foley(command, "--help").returncode == 0, command
    missing = run_foley("timeline", "edit.otio")  # its parser is registered on demand, with its own checks
    assert missing.returncode == 2 and "required: -o/--output" in missing.stderr, missing.stderr


def test_the_shipped_model_is_the_default_note_generator() -> None:
    """`foley generate`, `foley timeline`, the API and every timeline job default to the learned model that
    ships with the engine; `--model baseline` is the deterministic motion-onset rules, which refuse sampling."""
    import dataclasses
    import inspect

    import foley_engine
    from foley_engine.cli import build_parser
    from foley_engine.errors import InputError
    from foley_engine.options import DEFAULT_MODEL, GeneratorOptions
    from foley_engine.pipeline import generate
    from foley_engine.timeline.jobs import ClipJob
    from foley_engine.timeline.plan import TimelineOptions

    assert DEFAULT_MODEL == "default"
    assert (Path(foley_engine.__file__).parent / "checkpoints" / "default.pt").is_file()
    parser = build_parser()
    assert parser.parse_args(["generate", "clip.mp4"]).model == "default"
    assert parser.parse_args(["timeline", "in.otio", "-o", "out.otio"]).model == "default"
    assert parser.parse_args(["generate", "clip.mp4", "--model", "baseline"]).model == "baseline"
    assert inspect.signature(generate).parameters["options"].default.model == "default"
    # The learned model samples: a fixed default seed keeps a video's notes the same from run to run.
    assert parser.parse_args(["generate", "clip.mp4"]).seed == 0
    assert parser.parse_args(["timeline", "in.otio", "-o", "out.otio"]).seed == 0
    assert inspect.signature(generate).parameters["options"].default.seed == 0
    assert TimelineOptions().generator.model == "default" and TimelineOptions().generator.seed == 0
    assert {field.name: field.type for field in dataclasses.fields(ClipJob)}["options"] == "GeneratorOptions"
    GeneratorOptions(temperature=0.5, top_k=5, top_p=0.9, variations=2)  # the default samples
    with pytest.raises(InputError, match="the baseline is deterministic"):
        GeneratorOptions(model="baseline", temperature=0.5)


def test_generate_real_clip_writes_aligned_outputs(piano_video: Path, tmp_path: Path) -> None:
    proc = run_foley("generate", str(piano_video), "--instrument", "piano", "-o", str(tmp_path),
                     "--start", str(CLIP_START), "--end", str(CLIP_END), "--progress", "json", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    progress = [line for line in lines if line.get("type") == "progress"]
    assert {"probe", "pose", "notes", "synth", "write"} <= {p["stage"] for p in progress}
    assert all(0.0 <= p["fraction"] <= 1.0 for p in progress)
    overall = [p["overall"] for p in progress]
    assert overall == sorted(overall) and overall[-1] == 1.0
    summary = lines[-1]
    assert summary["status"] == "ok" and summary["instrument"] == "piano"
    outputs = {kind: Path(path) for kind, path in summary["outputs"].items()}
    assert outputs["wav"].name == "video.foley.wav" and outputs["midi"].name == "video.foley.mid"
    assert outputs["keypoints"].name == "video.keypoints.npz"

    audio, rate, channels = read_wav(outputs["wav"])
    assert (rate, channels) == (48000, 2)
    assert audio.shape[0] == round((CLIP_END - CLIP_START) * 48000)
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 100  # audibly non-silent

    midi = pretty_midi.PrettyMIDI(str(outputs["midi"]))
    notes = [note for inst in midi.instruments for note in inst.notes]
    assert notes and summary["notes"] == len(notes)
    assert all(inst.program == 0 for inst in midi.instruments)
    assert all(0.0 <= note.start < note.end <= CLIP_END - CLIP_START + 1e-3 for note in notes)
    assert not list(tmp_path.glob(".*part*"))  # no temp leftovers


def test_existing_output_needs_force(piano_video: Path, tmp_path: Path) -> None:
    args = ("generate", str(piano_video), "-o", str(tmp_path), "--start", str(CLIP_START),
            "--end", str(CLIP_START + 1.0), "--progress", "none")
    assert run_foley(*args).returncode == 0
    wav = tmp_path / "video.foley.wav"
    before = wav.read_bytes()
    os.utime(wav, (0, 0))
    assert_one_line_error(run_foley(*args, "--instrument", "flute"), 5, "exists", "--force")
    assert_one_line_error(run_foley(*args, "--model", str(tmp_path / "missing.pt")), 7, "not found")
    assert wav.read_bytes() == before and wav.stat().st_mtime == 0
    assert run_foley(*args, "--instrument", "flute", "--force").returncode == 0
    assert wav.read_bytes() != before


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run_foley("generate", str(tmp_path / "nope.mp4"), "-o", str(tmp_path)), 3, "nope.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    assert_one_line_error(run_foley("generate", str(text), "-o", str(tmp_path)), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_truncated_video(tmp_path: Path) -> None:
    good = make_video(tmp_path / "good.mp4", seconds=2.0)
    bad = truncated_copy(good, tmp_path / "bad.mp4")
    assert_one_line_error(run_foley("generate", str(bad), "-o", str(tmp_path / "out")), 3)


def test_zero_frames(tmp_path: Path) -> None:
    empty = zero_frame_video(tmp_path / "empty.mp4")
    assert_one_line_error(run_foley("generate", str(empty), "-o", str(tmp_path / "out")), 3)


def test_no_performer_then_allow_silence(tmp_path: Path) -> None:
    video = make_video(tmp_path / "empty-stage.mp4", seconds=1.5)
    out = tmp_path / "out"
    assert_one_line_error(run_foley("generate", str(video), "-o", str(out)), 4, "--allow-silence")
    assert not out.exists() or not any(out.iterdir())
    proc = run_foley("generate", str(video), "-o", str(out), "--allow-silence", "--json")
    assert proc.returncode == 0, proc.stderr
    audio, rate, _ = read_wav(out / "empty-stage.foley.wav")
    assert audio.shape[0] == round(json.loads(proc.stdout)["duration"] * 48000) and not audio.any()


def test_unwritable_output_dir(piano_video: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run_foley("generate", str(piano_video), "-o", str(blocker / "sub")), 5, "output")


def test_missing_soundfont_names_install_command(piano_video: Path, tmp_path: Path) -> None:
    proc = run_foley("generate", str(piano_video), "-o", str(tmp_path),
                     env={"FOLEY_SOUNDFONT": str(tmp_path / "missing.sf2")})
    assert_one_line_error(proc, 6, "apt-get install")


def test_bad_range_and_instrument(piano_video: Path, tmp_path: Path) -> None:
    assert_one_line_error(run_foley("generate", str(piano_video), "-o", str(tmp_path), "--start", "50"), 3)
    assert_one_line_error(run_foley("generate", str(piano_video), "-o", str(tmp_path), "-i", "kazoo"), 3, "kazoo")


def test_json_progress_reports_errors_for_adapters(tmp_path: Path) -> None:
    proc = run_foley("generate", str(tmp_path / "gone.mov"), "--progress", "json")
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["type"] == "error" and last["exit_code"] == 3 and "gone.mov" in last["message"]


def test_ctrl_c_leaves_no_partial_files(piano_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "FOLEY_CACHE_DIR": str(tmp_path / "cold-cache")}  # make sure pose really runs
    proc = subprocess.Popen([sys.executable, "-m", "foley_engine", "generate", str(piano_video), "-o", str(out),
                             "--start", "0", "--end", "30", "--progress", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, preexec_fn=as_a_terminal_starts_it)
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("stage") == "pose" and event.get("fraction", 0) > 0.05:
            break
        assert time.monotonic() < deadline
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "cancelled" in stderr
    assert not out.exists() or list(out.iterdir()) == []
    cache = tmp_path / "cold-cache"
    assert not cache.exists() or unfinished_work(cache) == []


def test_render_keypoints_png(piano_video: Path, tmp_path: Path) -> None:
    target = tmp_path / "seen.png"
    proc = run_foley("render-keypoints", str(piano_video), "-o", str(target), "--start", str(CLIP_START),
                     "--end", str(CLIP_END))
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_size > 10_000
    assert_one_line_error(run_foley("render-keypoints", str(piano_video), "-o", str(target)), 5, "--force")
