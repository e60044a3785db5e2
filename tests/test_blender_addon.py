"""The Blender add-on's bpy-free parts, in the engine's venv: OTIO contract, engine subprocess, zip builder.

These run in a second each; tests/test_blender.py covers the same code inside real Blender.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import time
from pathlib import Path

import opentimelineio as otio
import pytest
from blender_helpers import BUILDER, ENGINE, REPO
from fakes.engine import manifest, recorded, replaying_engine
from media import make_video

sys.path.insert(0, str(REPO))
from blender_addon import engine, timeline_io
from blender_addon.timeline_io import StripSource
from foley_engine.instruments import INSTRUMENTS
from foley_engine.timeline import foley_timeline
from foley_engine.timeline.plan import ClipPlan, TimelineOptions

NTSC = 30000 / 1001


def load_builder():
    spec = importlib.util.spec_from_file_location("blender_extension_builder", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(name: str) -> ast.Module:
    return ast.parse((REPO / "blender_addon" / name).read_text())


def field(module: ast.Module, cls: str, name: str) -> ast.expr | None:
    """A class attribute's value; a bpy property is the annotation itself."""
    body = next(node for node in module.body if isinstance(node, ast.ClassDef) and node.name == cls).body
    node = next(node for node in body if isinstance(node, ast.AnnAssign) and node.target.id == name)
    return node.value if node.value is not None else node.annotation if isinstance(node.annotation, ast.Call) else None


def keywords(call: ast.expr) -> dict[str, ast.expr]:
    assert isinstance(call, ast.Call)
    return {keyword.arg: keyword.value for keyword in call.keywords}


@pytest.fixture(scope="module")
def engine_info() -> engine.EngineInfo:
    """What the real engine of this venv tells the add-on."""
    return engine.engine_info(ENGINE)


def test_the_popup_offers_exactly_the_engines_instruments(engine_info: engine.EngineInfo) -> None:
    """The Instrument field lists what `foley info` says, in the engine's order; the add-on keeps no list."""
    assert engine_info.instruments == list(INSTRUMENTS)
    prop = field(parse("operators.py"), "SEQUENCER_OT_foley_generate", "instrument")
    assert prop.func.attr == "StringProperty" and keywords(prop)["search"].id == "_instrument_search"
    assert "INSTRUMENTS" not in (REPO / "blender_addon" / "operators.py").read_text()


def test_the_operator_a_run_and_a_strip_record_default_to_the_shipped_model(engine_info: engine.EngineInfo) -> None:
    """The operator's Model choices are the engine's named models, its default first, then a checkpoint file:
    "default" (the learned model that ships with the engine), "baseline", "file". A run's Settings and the record
    on a sound strip name no model of their own: unset, the engine's default is used and recorded (in real
    Blender: tests/test_blender.py)."""
    assert [model["name"] for model in engine_info.models] == ["default", "baseline"]
    assert engine_info.defaults["model"] == "default"
    operators = parse("operators.py")
    prop = field(operators, "SEQUENCER_OT_foley_generate", "model")
    assert prop.func.attr == "EnumProperty" and keywords(prop)["items"].id == "_model_items"
    checkpoint = next(node.value for node in operators.body if isinstance(node, ast.Assign)
                      and node.targets[0].id == "CHECKPOINT")
    assert ast.literal_eval(checkpoint)[0] == "file"
    assert ast.literal_eval(field(parse("run.py"), "Settings", "model")) is None
    assert field(parse("strips.py"), "Generated", "model") is None  # always given: what the run used
    # seed and temperature vary the learned model and a checkpoint, not the baseline's rules
    assert [engine_info.samples(model) for model in ("default", "baseline", "/models/mine.pt")] == [True, False, True]


def test_the_add_on_keeps_none_of_the_engines_constants() -> None:
    """Sample rate, default temperature, model names and the CLI's advice all come from `foley info` and the
    summary's clip codes, never from a copy in the add-on or from `foley timeline --help`."""
    source = "\n".join(path.read_text() for path in sorted((REPO / "blender_addon").glob("*.py")))
    for copy in ("48000", "DEFAULT_TEMPERATURE", '"baseline"', '"default"', "(use --allow-silence", '"--help"',
                 "INSTRUMENTS"):
        assert copy not in source, copy


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
    """NTSC scene (fps_base 1.001), a strip before frame 1, one played frame by frame: the engine's own plan.
    The slow strip is sent as what it is, a clip of its 45 scene frames whose media runs at 29.97/30 of real time
    (an OTIO LinearTimeWarp): the engine renders its foley at that length, its notes at the picture's tempo."""
    sources = [StripSource("early", clip, 2, -12, 30, media_start=0.5),
               StripSource("slow", clip, 3, 40, 45, media_start=1.0, speed=NTSC / 30)]
    timeline_io.write_timeline(sources, NTSC, tmp_path / "in.otio", "Scene")
    clips = {item.name: item for item in otio.adapters.read_from_file(str(tmp_path / "in.otio")).find_clips()}
    assert [effect.time_scalar for effect in clips["slow"].effects] == [pytest.approx(NTSC / 30)]
    assert clips["slow"].source_range.duration == otio.opentime.RationalTime(45, NTSC) and not clips["early"].effects
    report = foley_timeline(tmp_path / "in.otio", tmp_path / "out.otio", TimelineOptions(), dry_run=True)
    plans = {plan.name: plan for plan in report.plans}
    assert plans["early"].start == pytest.approx(0.5) and plans["slow"].start == pytest.approx(1.0)
    assert plans["early"].samples == round(30 / NTSC * 48000) and plans["early"].speed == 1
    assert plans["slow"].end - plans["slow"].start == pytest.approx(45 / 30, abs=1e-6)  # 45 movie frames
    assert plans["slow"].samples == round(45 / NTSC * 48000) and plans["slow"].speed == pytest.approx(NTSC / 30)
    offset = plans["slow"].placement.start_time - plans["early"].placement.start_time
    assert offset.rescaled_to(NTSC).value == pytest.approx(52)


def test_each_strips_foley_comes_from_the_summary() -> None:
    """The real engine's recorded summaries (the clips are named after their strips): the mix with the clip's
    instrument and notes, or with --stems each performer's WAV with their own; strips without foley are left out."""
    summary = recorded("timeline.jsonl")[-1]
    [row] = [row for row in summary["clips"] if row["code"] == "ok"]
    assert (row["name"], row["wav"]) == ("Piano", "/recorded/edit.foley.001.Piano.foley.wav") and row["notes"] > 0
    assert engine.foley_sounds(summary, stems=False) == {"Piano": [
        {"performer": 0, "instrument": "piano", "notes": row["notes"], "wav": row["wav"]}]}
    summary = recorded("timeline-stems.jsonl")[-1]
    [row] = [row for row in summary["clips"] if row["code"] == "ok"]
    assert engine.foley_sounds(summary, stems=True) == {"Piano": [
        {"performer": 1, "instrument": "piano", "notes": row["notes"], "wav": row["stems"][0]}]}


def test_a_stems_run_gives_each_performer_their_own_instrument_and_notes() -> None:
    """`--instrument violin,guitar --stems`: each performer's strip records what they played, from the row the
    engine's summary gives such a clip (whose own instrument and notes are the whole ensemble's)."""
    stems = [Path("/out/duet.foley.performer1.wav"), Path("/out/duet.foley.performer2.wav")]
    players = [{"index": 1, "instrument": "violin", "notes": 12}, {"index": 2, "instrument": "guitar", "notes": 18}]
    duet = ClipPlan(1, "duet", "V1", otio.schema.Clip("duet"), "ok", instrument="violin,guitar",
                    wav=Path("/out/duet.foley.wav"), stems=stems, result={"notes": 30, "performers": players})
    summary = {"clips": [duet.summary(), {"name": "title", "code": "generator_clip", "status": "skipped"}]}
    assert engine.foley_sounds(summary, stems=True) == {"duet": [
        {"performer": 1, "instrument": "violin", "notes": 12, "wav": str(stems[0])},
        {"performer": 2, "instrument": "guitar", "notes": 18, "wav": str(stems[1])}]}
    assert engine.foley_sounds(summary, stems=False) == {"duet": [
        {"performer": 0, "instrument": "violin,guitar", "notes": 30, "wav": "/out/duet.foley.wav"}]}


def fake_engine(folder: Path, seconds: float = 30) -> Path:
    """A `foley` that prints JSON progress, starts a worker like the engine does, runs for a while, then replays
    a recorded timeline run (tests/fakes/engine.py)."""
    return replaying_engine(folder, "timeline.jsonl", before=f"""
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep({seconds})"])
        open({str(folder / "worker.pid")!r}, "w").write(str(worker.pid))
        print("banner from some library", flush=True)
        print(json.dumps({{"type": "progress", "protocol": 1, "stage": "read", "fraction": 1.0, "overall": 0.02,
                           "message": "1 of 1 clips"}}), flush=True)
        print(json.dumps({{"args": sys.argv[1:]}}), flush=True)
        time.sleep({seconds})
        """)


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
    job = engine.EngineJob(fake_engine(tmp_path), ["in.otio", "-o", "out.otio", "--temperature", "0.5"])
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
    assert not job.done
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
    script = replaying_engine(tmp_path, before="""
        print(json.dumps({'type': 'error', 'protocol': 1, 'message': 'clip x: bad range', 'exit_code': 3,
                          'code': 'input'}))
        print('foley: error: clip x: bad range', file=sys.stderr); sys.exit(3)
        """)
    job = engine.EngineJob(script, [])
    job.start()
    assert job.wait(30)
    assert (job.returncode, job.summary, job.failure()) == (3, None, "clip x: bad range")


def test_a_recorded_run_gives_its_summary_and_a_sentence_per_strip_without_foley(tmp_path: Path) -> None:
    """Fast tier, no footage: the real engine's recorded lines. The summary is the line of type "summary";
    each clip without foley is told by its code's detail, without the command line's advice."""
    job = engine.EngineJob(replaying_engine(tmp_path, "timeline.jsonl"), ["in.otio"])
    job.start()
    assert job.wait(30) and job.returncode == 0 and job.error == ""
    assert job.summary == recorded("timeline.jsonl")[-1] and job.summary["type"] == "summary"
    assert engine.missing_foley(job.summary) == [
        "No foley for strip 'Cut': disabled", "No foley for strip 'Slate': generator clip (SolidColor)",
        "No foley for strip 'Audience': no performer visible in empty-stage.mp4 between 0.00s and 1.00s"]


@pytest.mark.parametrize("fixture", ["timeline-missing.jsonl", "generate-error.jsonl"])
def test_a_recorded_failure_is_the_engines_own_sentence(fixture: str, tmp_path: Path) -> None:
    job = engine.EngineJob(replaying_engine(tmp_path, fixture), [])
    job.start()
    assert job.wait(30)
    run = manifest()[fixture]
    assert job.returncode == run["exit_code"] != 0
    assert job.failure() == run["stderr"].removeprefix("foley: error: ") == recorded(fixture)[-1]["message"]


def test_what_the_engine_says_about_itself(tmp_path: Path) -> None:
    info = engine.engine_info(replaying_engine(tmp_path))
    assert info.defaults["temperature"] == 0.8 and "piano" in info.instruments


def test_an_engine_without_foley_info_or_with_another_protocol_is_one_sentence(tmp_path: Path) -> None:
    old = replaying_engine(tmp_path / "old", has_info=False)
    with pytest.raises(engine.UserError, match=r"^The Foley engine .* is older than this add-on \(it has no "
                                               r"`foley info`\): update it with pip install -U foley$"):
        engine.engine_info(old)
    newer = replaying_engine(tmp_path / "new", info=recorded("info.jsonl")[0] | {"protocol": 2})
    with pytest.raises(engine.UserError, match=r"speaks editor protocol 2, this add-on 1: update the add-on$"):
        engine.engine_info(newer)


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
