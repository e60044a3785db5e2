"""The editor protocol (foley_engine/protocol.py), `foley info`, and the recorded lines the adapters' fast tests
replay (tests/fixtures/protocol): every recorded line must re-derive from protocol.py, and must still be what
the engine prints today, checked where that needs no footage. A change to the lines fails here until
`python tests/fixtures/protocol/record.py` records them again.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.engine import FIXTURES, manifest, recorded
from media import make_video

from foley_engine import errors
from foley_engine.errors import FoleyError
from foley_engine.instruments import INSTRUMENTS
from foley_engine.options import DEFAULT_MODEL, DEFAULT_SOURCE, DEFAULT_TEMPERATURE, MODELS, SOURCES
from foley_engine.progress import ProgressEvent
from foley_engine.protocol import (
    CLIP_STATUS,
    ERROR_CODES,
    PROTOCOL_VERSION,
    ClipCode,
    ErrorLine,
    ProgressLine,
    SummaryLine,
    clip_code,
    parse_line,
)
from foley_engine.synth import SAMPLE_RATE

FIXTURE_FILES = sorted(FIXTURES.glob("*.jsonl"))
STALE = "the recorded protocol lines are stale: run python tests/fixtures/protocol/record.py"


def load_recorder():
    spec = importlib.util.spec_from_file_location("protocol_recorder", FIXTURES / "record.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_recorded_command_has_its_lines_and_every_line_type_is_recorded() -> None:
    assert {path.name for path in FIXTURE_FILES} == set(manifest()) == set(load_recorder().COMMANDS)
    types = {line["type"] for path in FIXTURE_FILES for line in recorded(path.name)}
    assert types == {"progress", "error", "summary", "info"}


@pytest.mark.parametrize("fixture", [path.name for path in FIXTURE_FILES])
def test_recorded_lines_re_derive_from_the_protocol(fixture: str) -> None:
    """Each line parses into its protocol object, which writes it back exactly, key order included."""
    for text in (FIXTURES / fixture).read_text().splitlines():
        line = parse_line(text)
        assert line is not None and list(line.to_json().items()) == list(json.loads(text).items()), STALE
        assert json.loads(text)["protocol"] == PROTOCOL_VERSION


def test_lines_carry_type_and_version_first_and_keep_their_fields() -> None:
    progress = ProgressLine.of(ProgressEvent("pose", 0.5, 0.25, "frame 3"))
    assert progress.to_json() == {"type": "progress", "protocol": PROTOCOL_VERSION, "stage": "pose",
                                  "fraction": 0.5, "overall": 0.25, "message": "frame 3"}
    assert ErrorLine("no soundfont", 6).to_json() == {"type": "error", "protocol": PROTOCOL_VERSION,
                                                      "message": "no soundfont", "exit_code": 6,
                                                      "code": "synth_unavailable"}
    summary = SummaryLine("generate", {"status": "ok", "notes": 3}).to_json()
    assert list(summary) == ["type", "protocol", "command", "status", "notes"]
    assert parse_line("a library's banner") is None and parse_line("[1, 2]") is None
    with pytest.raises(ValueError, match="protocol 2 line"):
        parse_line(json.dumps(summary | {"protocol": 2}))


def test_every_exit_status_has_an_error_code() -> None:
    statuses = {cls.exit_code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, FoleyError)}
    statuses |= {errors.INTERRUPTED_EXIT_CODE, errors.TERMINATED_EXIT_CODE}
    assert statuses == set(ERROR_CODES) and len(set(ERROR_CODES.values())) == len(ERROR_CODES)


def test_clip_codes_fit_their_status() -> None:
    assert set(CLIP_STATUS) == set(ClipCode) and set(CLIP_STATUS.values()) == {"ok", "render", "skipped", "missing"}
    assert clip_code("skipped", ClipCode.NO_PERFORMER) is ClipCode.NO_PERFORMER
    assert clip_code("skipped") is ClipCode.SKIPPED  # a reason without a code of its own (the panel's)
    assert clip_code("ok", ClipCode.PLANNED) is ClipCode.OK  # a planned clip once rendered
    assert clip_code("missing", "offline") is ClipCode.OFFLINE
    with pytest.raises(ValueError):
        SummaryLine("timeline", {"clips": [{"name": "a", "status": "ok", "code": "no_performer"}]})


def foley(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "foley_engine", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_foley_info_json_says_what_the_engine_is_without_loading_torch() -> None:
    code = ("import sys; from foley_engine.cli import main; code = main(['info', '--json']); "
            "heavy = {'torch', 'mediapipe', 'av', 'cv2', 'pretty_midi', 'scipy'} & set(sys.modules); "
            "print(sorted(heavy), file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "[]", done.stderr
    [line] = done.stdout.splitlines()
    info = json.loads(line)
    assert (info["type"], info["protocol"], info["sample_rate"]) == ("info", PROTOCOL_VERSION, SAMPLE_RATE)
    assert info["defaults"] == {"instrument": "piano", "source": DEFAULT_SOURCE, "model": DEFAULT_MODEL, "seed": 0,
                                "temperature": DEFAULT_TEMPERATURE, "top_k": 0, "top_p": 0.95, "variations": 1}
    assert [(row["name"], row["family"], row["program"]) for row in info["instruments"]] == [
        (i.name, i.family, i.program) for i in INSTRUMENTS.values()]
    assert [source["name"] for source in info["sources"]] == list(SOURCES)
    assert all(source["description"] for source in info["sources"]), "a note source without a description"
    assert [(model["name"], model["sampling"]) for model in info["models"]] == [(name, name != "baseline")
                                                                               for name in MODELS]
    timeline = info["commands"]["timeline"]["options"]
    assert {"stems", "temperature", "source", "instrument_map", "allow_silence"} <= set(timeline)
    assert timeline["instrument_map"]["flag"] == "--instrument-map" and "variations" not in timeline
    assert info["commands"]["generate"]["options"]["variations"]["default"] == 1
    assert ".otio" in info["formats"]["timeline"]["read"] and ".otio" in info["formats"]["timeline"]["write"]
    assert info["clip_codes"]["no_performer"] == "skipped" and info["error_codes"]["4"] == "no_performer"


def test_foley_info_lists_it_for_people() -> None:
    done = foley("info")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("foley ") and f"(editor protocol {PROTOCOL_VERSION})" in lines[0]
    assert any(line.startswith("instruments: piano, organ") for line in lines)
    assert any(line.startswith("timeline options: ") and "--stems" in line for line in lines)


def without(data: dict, *keys: str) -> dict:
    return {key: value for key, value in data.items() if key not in keys}


def test_the_recorded_info_is_what_the_engine_says_now() -> None:
    now, then = json.loads(foley("info", "--json").stdout), recorded("info.jsonl")[0]
    # the version and the installed OTIO adapters differ between machines; everything else must not
    assert without(now, "engine_version", "formats") == without(then, "engine_version", "formats"), STALE


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """record.py's timelines over a synthetic clip: what needs no footage can be run for real here."""
    folder = tmp_path_factory.mktemp("protocol")
    load_recorder().build_media(folder, make_video(folder.parent / "synthetic.mp4", seconds=20.0, rate=30))
    return folder


@pytest.mark.parametrize("fixture", ["generate-error.jsonl", "timeline-missing.jsonl"])
def test_recorded_failures_are_what_the_engine_prints_now(fixture: str, scratch: Path) -> None:
    lines, outcome = load_recorder().run(scratch, load_recorder().COMMANDS[fixture])
    assert outcome == manifest()[fixture], STALE

    def steady(line: dict) -> dict:
        return without(line, "timings")

    assert [steady(json.loads(line)) for line in lines] == [steady(line) for line in recorded(fixture)], STALE


def test_a_dry_run_summarises_as_the_recorded_run_did(scratch: Path) -> None:
    """The recorded run's clips that need no footage (disabled, a generator) are reported identically today,
    and the summary has the same fields."""
    args = [*load_recorder().COMMANDS["timeline.jsonl"], "--dry-run"]
    lines, outcome = load_recorder().run(scratch, args)
    assert outcome["exit_code"] == 0, outcome
    now, then = json.loads(lines[-1]), recorded("timeline.jsonl")[-1]
    assert list(now) == list(then) and now["status"] == "dry-run", STALE
    assert [row["code"] for row in now["clips"]] == ["planned", "disabled", "generator_clip", "planned"]
    assert now["clips"][1:3] == then["clips"][1:3], STALE


def test_a_stems_row_lists_each_performers_own_instrument_notes_and_wav() -> None:
    """`foley timeline --stems`: a rendered clip's `performers` are its `stems` left to right, each with what that
    performer played (the row's own `instrument` and `notes` are the whole clip's), so an editor labels each
    performer's strip from the summary alone; without --stems the rows have none."""
    rows = [row for row in recorded("timeline-stems.jsonl")[-1]["clips"] if row["code"] == "ok"]
    assert rows, STALE
    for row in rows:
        players = row["performers"]
        assert [(p["performer"], p["wav"]) for p in players] == list(enumerate(row["stems"], 1)), STALE
        assert {p["instrument"] for p in players} <= set(row["instrument"].split(",")), STALE
        assert sum(p["notes"] for p in players) == row["notes"], STALE
    assert not [row for row in recorded("timeline.jsonl")[-1]["clips"] if "performers" in row], STALE
