"""The Resolve script against the editor protocol, fast: the real engine's recorded lines, replayed.

No footage and no model: tests/fakes/engine.py replays what `foley info` and `foley timeline` printed when
tests/fixtures/protocol/record.py ran them (tests/test_protocol.py keeps those true to the engine). The same
code runs against the real engine in tests/test_resolve_script.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.engine import arguments, manifest, recorded, replaying_engine

from resolve_script import FoleyScriptError
from resolve_script.app import build_parser, generator_options
from resolve_script.engine import engine_info, foley_clips, instruments, model_names, run_timeline, skipped


def test_the_dialog_and_the_model_flag_come_from_foley_info(tmp_path: Path) -> None:
    info = engine_info(str(replaying_engine(tmp_path)))
    assert instruments(info)[0] == "piano" and "double-bass" in instruments(info)
    assert model_names(info) == ["default", "baseline"] and info["defaults"]["instrument"] == "piano"
    args = build_parser().parse_args(["--model", "baseline", "--seed", "3"])
    assert generator_options(args, model_names(info)) == ["--model", "baseline", "--seed", "3"]
    checkpoint = build_parser().parse_args(["--model", "mine.pt"])  # not a named model: a path, made absolute
    assert generator_options(checkpoint, model_names(info)) == ["--model", str(Path("mine.pt").resolve())]


def test_a_recorded_run_places_the_rendered_clip_and_says_why_the_others_have_none(tmp_path: Path) -> None:
    engine = replaying_engine(tmp_path, "timeline.jsonl")
    seen: list[tuple[float, str]] = []
    summary = run_timeline(str(engine), tmp_path / "selection.otio", tmp_path / "out.otio", "piano",
                           lambda overall, message: seen.append((overall, message)), ["--seed", "3"])
    assert summary == recorded("timeline.jsonl")[-1] and summary["type"] == "summary"
    assert seen and seen[-1][0] == 1.0 and [overall for overall, _ in seen] == sorted(overall for overall, _ in seen)
    assert arguments(engine) == ["timeline", str(tmp_path / "selection.otio"), "-o", str(tmp_path / "out.otio"),
                                 "--media-dir", str(tmp_path), "--instrument", "piano", "--seed", "3", "--progress",
                                 "json", "--json"]
    [clip] = foley_clips(summary, 86400, 24.0, tmp_path)
    assert (clip.wav, clip.record, clip.frames, clip.performer) == (
        Path("/recorded/edit.foley.001.Piano.foley.wav"), 86400, 48, 0)
    # the clip the script disabled (not chosen) is no news; the others say why, without the CLI's advice
    assert skipped(summary) == ["Slate: generator clip (SolidColor)",
                                "Audience: no performer visible in empty-stage.mp4 between 0.00s and 1.00s"]


def test_a_recorded_run_with_stems_gives_each_performer_a_clip(tmp_path: Path) -> None:
    summary = run_timeline(str(replaying_engine(tmp_path, "timeline-stems.jsonl")), tmp_path / "s.otio",
                           tmp_path / "o.otio", "piano")
    clips = foley_clips(summary, 0, 24.0, tmp_path)
    assert [(clip.wav.name, clip.performer) for clip in clips] == [("edit.foley.001.Piano.foley.performer1.wav", 1)]


def test_a_recorded_failure_is_the_engines_own_sentence(tmp_path: Path) -> None:
    with pytest.raises(FoleyScriptError) as error:
        run_timeline(str(replaying_engine(tmp_path, "timeline-missing.jsonl")), tmp_path / "s.otio",
                     tmp_path / "o.otio", "piano")
    message = manifest()["timeline-missing.jsonl"]["stderr"].removeprefix("foley: error: ")
    assert str(error.value) == (f"the Foley engine failed: {message} (nothing was changed in Resolve; engine log: "
                                f"{tmp_path / 'engine.log'})")


def test_an_engine_without_foley_info_or_with_another_protocol_says_what_to_update(tmp_path: Path) -> None:
    with pytest.raises(FoleyScriptError, match=r"is older than this script \(it has no `foley info`\): update it "
                                               r"\(pip install -U foley\), then run `foley install-resolve-script`"):
        engine_info(str(replaying_engine(tmp_path / "old", has_info=False)))
    newer = replaying_engine(tmp_path / "new", info=recorded("info.jsonl")[0] | {"protocol": 2})
    with pytest.raises(FoleyScriptError, match=r"speaks editor protocol 2, this script 1: run `foley "
                                               r"install-resolve-script` from it again$"):
        engine_info(str(newer))
