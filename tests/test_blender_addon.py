"""The Blender add-on's bpy-free parts, in the engine's venv: OTIO contract, engine subprocess, zip builder.

These run in a second each; tests/test_blender.py covers the same code inside real Blender.
"""

from __future__ import annotations

import importlib.util
import stat
import sys
import textwrap
import time
import wave
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from blender_helpers import BUILDER, REPO
from media import make_video

sys.path.insert(0, str(REPO))
from blender_addon import audio, engine, timeline_io
from blender_addon.timeline_io import StripSource
from foley_engine.instruments import INSTRUMENTS
from foley_engine.timeline import foley_timeline
from foley_engine.timeline.plan import TimelineOptions

NTSC = 30000 / 1001


def load_builder():
    spec = importlib.util.spec_from_file_location("blender_extension_builder", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_popup_offers_exactly_the_engines_instruments() -> None:
    source = (REPO / "blender_addon" / "operators.py").read_text()
    listed = source.split("INSTRUMENTS = (", 1)[1].split(")", 1)[0]
    assert [name.strip().strip('"') for name in listed.replace("\n", " ").split(",") if name.strip()] == list(
        INSTRUMENTS)


def test_the_operator_a_run_and_a_strip_record_default_to_the_shipped_model() -> None:
    """Read without bpy: the operator's Model choice, a run's Settings and the record on a sound strip default
    to "default" (the learned model that ships with the engine); Baseline stays one of the choices."""
    import ast

    def parse(name: str) -> ast.Module:
        return ast.parse((REPO / "blender_addon" / name).read_text())

    run = parse("run.py")
    constants = {target.id: node.value.value for node in run.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) for target in node.targets if isinstance(target, ast.Name)}

    def value(node: ast.expr) -> object:
        return node.value if isinstance(node, ast.Constant) else constants[node.id]

    def field(module: ast.Module, cls: str, name: str) -> ast.expr:
        body = next(node for node in module.body if isinstance(node, ast.ClassDef) and node.name == cls).body
        node = next(node for node in body if isinstance(node, ast.AnnAssign) and node.target.id == name)
        return node.value or node.annotation  # a bpy property is the annotation itself

    assert value(field(run, "Settings", "model")) == "default"
    assert value(field(parse("strips.py"), "Generated", "model")) == "default"
    prop = field(parse("operators.py"), "SEQUENCER_OT_foley_generate", "model")
    options = {keyword.arg: keyword.value for keyword in prop.keywords}
    assert value(options["default"]) == "default"
    assert [value(item.elts[0]) for item in options["items"].elts] == ["default", "baseline", "file"]


def test_the_mix_is_the_default_and_per_performer_strips_are_asked_for() -> None:
    """Read without bpy: "Per Performer" is off unless chosen, so a movie strip gets one strip with the mix
    (tests/test_blender.py runs both in real Blender)."""
    import ast

    operator = next(node for node in ast.parse((REPO / "blender_addon" / "operators.py").read_text()).body
                    if isinstance(node, ast.ClassDef) and node.name == "SEQUENCER_OT_foley_generate")
    prop = next(node.annotation for node in operator.body if isinstance(node, ast.AnnAssign)
                and node.target.id == "stems")
    options = {keyword.arg: ast.literal_eval(keyword.value) for keyword in prop.keywords}
    assert (prop.func.attr, options["name"], options["default"]) == ("BoolProperty", "Per Performer", False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "take.mp4", seconds=4.0, rate=30, size=(160, 120))


def test_the_engine_reads_each_strip_as_the_seconds_it_shows(clip: Path, tmp_path: Path) -> None:
    """NTSC scene (fps_base 1.001), a strip before frame 1, one played frame by frame: the engine's own plan."""
    sources = [StripSource("early", clip, 2, -12, 30, media_start=0.5),
               StripSource("slow", clip, 3, 40, 45, media_start=1.0, speed=NTSC / 30)]
    timeline_io.write_timeline(sources, NTSC, tmp_path / "in.otio", "Scene")
    report = foley_timeline(tmp_path / "in.otio", tmp_path / "out.otio", TimelineOptions(), dry_run=True)
    plans = {plan.name: plan for plan in report.plans}
    assert plans["early"].start == pytest.approx(0.5) and plans["slow"].start == pytest.approx(1.0)
    assert plans["early"].samples == round(30 / NTSC * 48000)
    assert plans["slow"].end - plans["slow"].start == pytest.approx(45 / 30, abs=1e-6)  # 45 movie frames
    offset = plans["slow"].placement.start_time - plans["early"].placement.start_time
    assert offset.rescaled_to(NTSC).value == pytest.approx(52)


def test_foley_clips_come_back_in_scene_frames(tmp_path: Path) -> None:
    """The engine's output shape: a Foley audio track, clips at their video clip's place, `source_clip` names."""
    rate = NTSC
    timeline = otio.schema.Timeline("Scene", global_start_time=otio.opentime.RationalTime(-12, rate))
    track = otio.schema.Track("Foley", kind=otio.schema.TrackKind.Audio, metadata={"foley": {"role": "track"}})
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(52, rate))))
    wav = tmp_path / "x.foley.wav"
    track.append(otio.schema.Clip(
        "slow (Foley)", media_reference=otio.schema.ExternalReference(target_url=wav.as_uri()),
        source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(45, rate)),
        metadata={"foley": {"source_clip": {"name": "slow"}, "notes": 7}}))
    timeline.tracks.append(otio.schema.Track("V1", kind=otio.schema.TrackKind.Video))
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(tmp_path / "out.otio"))
    [clip] = timeline_io.read_foley_clips(tmp_path / "out.otio")
    assert (clip.strip, clip.wav, clip.start, clip.duration, clip.metadata["notes"]) == ("slow", wav, 40, 45, 7)


def test_stretching_audio_hits_the_exact_length(tmp_path: Path) -> None:
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    tone = (8000 * np.sin(np.arange(96000) / 20)).astype(np.int16)
    with wave.open(str(source), "wb") as wav:
        wav.setnchannels(2), wav.setsampwidth(2), wav.setframerate(48000)
        wav.writeframes(np.stack([tone, tone], axis=1).tobytes())
    audio.stretch_wav(source, target, 120000)
    assert audio.wav_samples(target) == 120000 and not list(tmp_path.glob(".*"))


def fake_engine(folder: Path, help_text: str = "usage: foley timeline", seconds: float = 30) -> Path:
    """A `foley` that prints JSON progress, starts a worker like the engine does, then runs for a while."""
    script = folder / "bin" / "foley"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, subprocess, sys, time
        if "--help" in sys.argv:
            print({help_text!r}); sys.exit(0)
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep({seconds})"])
        open({str(folder / "worker.pid")!r}, "w").write(str(worker.pid))
        print("banner from some library", flush=True)
        print(json.dumps({{"type": "progress", "stage": "read", "fraction": 1.0, "overall": 0.02,
                           "message": "1 of 1 clips"}}), flush=True)
        print(json.dumps({{"args": sys.argv[1:]}}), flush=True)
        time.sleep({seconds})
        print(json.dumps({{"status": "ok", "clips": []}}), flush=True)
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_engine_detection_order_and_messages(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    command = fake_engine(venv)
    on_path = fake_engine(tmp_path / "elsewhere")
    path = {"PATH": str(on_path.parent)}
    assert engine.find_engine(str(venv), {"FOLEY_ENGINE": str(on_path), **path}) == (command, "add-on preferences")
    assert engine.find_engine("", {"FOLEY_ENGINE": str(command), **path}) == (command, "FOLEY_ENGINE")
    assert engine.find_engine("", path) == (on_path, "PATH")
    with pytest.raises(engine.EngineMissing, match=r"^The Foley engine set in FOLEY_ENGINE is not a foley"):
        engine.find_engine("", {"FOLEY_ENGINE": str(tmp_path / "nope"), **path})
    with pytest.raises(engine.EngineMissing, match=r"^Foley engine not found: install it"):
        engine.find_engine("", {"PATH": str(tmp_path / "empty")})


def test_engine_job_reports_progress_without_blocking_and_cancel_ends_its_workers(tmp_path: Path) -> None:
    job = engine.EngineJob(fake_engine(tmp_path, help_text="--temperature T"), ["in.otio", "-o", "out.otio"],
                           optional={"--temperature": "0.5", "--not-there": "1"})
    job.start()
    events: list[dict] = []
    deadline = time.monotonic() + 30
    while len(events) < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        events += job.poll()
        assert time.monotonic() - started < 0.05, "poll() must never wait for the engine"
        time.sleep(0.02)
    assert events[0]["type"] == "progress" and events[0]["overall"] == 0.02
    assert events[1]["args"] == ["timeline", "in.otio", "-o", "out.otio", "--temperature", "0.5"]
    assert job.ignored == ["--not-there"] and not job.done
    worker = int((tmp_path / "worker.pid").read_text())
    started = time.monotonic()
    job.cancel(grace=2)
    assert time.monotonic() - started < 5 and job.done and job.cancelled
    assert not running(worker)


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan stays a zombie where PID 1 does not reap, as in containers)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_engine_job_summary_and_failure_sentence(tmp_path: Path) -> None:
    script = tmp_path / "foley"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      "if '--help' in sys.argv: sys.exit(0)\n"
                      "print(json.dumps({'type': 'error', 'message': 'clip x: bad range', 'exit_code': 3}))\n"
                      "print('foley: error: clip x: bad range', file=sys.stderr); sys.exit(3)\n")
    script.chmod(0o755)
    job = engine.EngineJob(script, [])
    job.start()
    assert job.wait(30)
    assert (job.returncode, job.summary, job.failure()) == (3, None, "clip x: bad range")


def test_manifest_validation_catches_what_blender_rejects() -> None:
    builder = load_builder()
    import tomllib

    good = tomllib.loads((REPO / "blender_addon" / "blender_manifest.toml").read_text())
    assert builder.validate(good) == []
    broken = good | {"license": ["GPL-3.0-or-later"], "permissions": {"files": "Reads movies."},
                     "tagline": "x" * 70, "wheels": ["wheels/otio.whl"]}
    del broken["maintainer"]
    assert builder.validate(broken) == ["missing required field 'maintainer'"]
    broken["maintainer"] = "Foley <foley@example.org>"
    errors = "\n".join(builder.validate(broken))
    for fragment in ("tagline is 70 characters", "license must be a list of 'SPDX:", "permissions.files must not end",
                     "wheels entries must be ./wheels/"):
        assert fragment in errors
