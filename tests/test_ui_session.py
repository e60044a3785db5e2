"""The panel's session model without Qt (open, range, takes, export, the editor hand-back) and the rule that the
panel uses only the engine's public API.

No display and no PySide6 needed: takes are made by hand, so these run in seconds on any machine.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import opentimelineio as otio
import pytest
from media import make_video, not_a_video
from timelines import clip, foley_tracks, media, read_wav, timeline, video_track, wav_path

import foley_engine
from foley_engine import FoleyError, InputError, Note, Performance
from foley_engine.instruments import get_instrument
from foley_engine.midi import read_notes
from ui.generation import BASELINE, Settings, Take
from ui.session import Session

REPO = Path(__file__).resolve().parents[1]
RATE = 48000
CLIP_SECONDS = 4.0  # the test video's length
SHOT = (1.0, 2.0)  # the timeline clip's seconds of it


def fake_take(number: int, seconds: float, settings: Settings | None = None, start: float = 0.0) -> Take:
    """A take as generate_takes returns one, with a distinct loud first half second, without running the engine."""
    performance = Performance(get_instrument("piano"), seconds, [[Note(0.1, 0.4, 59 + number, 90)]],
                              generator="test")
    audio = np.zeros((round(seconds * RATE), 2), np.int16)
    audio[: RATE // 2] = 1000 * number
    summary = {"status": "ok", "start": start, "end": start + seconds, "instrument": "piano"}
    result = SimpleNamespace(sample_rate=RATE, duration=seconds, summary=lambda: dict(summary))
    return Take(number, performance, audio, result, settings or Settings())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("session") / "clip.mp4", seconds=CLIP_SECONDS, rate=30)


@pytest.fixture
def edit(video: Path, tmp_path: Path) -> Path:
    """A timeline: a disabled clip, then SHOT of the video placed 2 s into the edit (after a 2 s clip)."""
    first = clip("Wide", media(video, seconds=CLIP_SECONDS), 0.0, 48, 24, enabled=False)
    shot = clip("Close", media(video, seconds=CLIP_SECONDS), SHOT[0], 24, 24)
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline("Edit", video_track("V1", first, shot)), str(path))
    return path


def test_opening_a_video_sets_the_range_and_a_new_range_drops_the_takes(video: Path) -> None:
    session = Session()
    with pytest.raises(InputError, match="outside clip.mp4"):
        session.open_video(video, (3.0, 9.0))
    assert session.video is None  # a refused range changes nothing
    info = session.open_video(video, (1.0, 3.0))
    assert session.video == video and session.range == (1.0, 3.0) and session.frame_rate == 30.0
    assert info.duration == pytest.approx(CLIP_SECONDS, abs=0.05) and session.title == "Foley — clip.mp4"
    session.set_takes([fake_take(1, 2.0), fake_take(2, 2.0)])
    assert session.take is not None and session.take.number == 1  # the first take is chosen
    assert session.choose_take(2) is session.take and session.take.number == 2
    assert session.choose_take(7) is None and session.take.number == 2
    assert not session.set_range(1.0, 3.0) and not session.set_range(2.0, 1.0)  # unchanged, or empty
    assert session.takes  # so the takes stay
    assert session.set_range(0.5, 1.5) and session.range == (0.5, 1.5)
    assert session.takes == [] and session.take is None
    request = session.request(Settings(model=BASELINE))
    assert (request.video, request.start, request.end, request.settings.model) == (video, 0.5, 1.5, BASELINE)


def test_a_file_that_is_no_video_is_the_engines_one_line_error(tmp_path: Path) -> None:
    session = Session()
    with pytest.raises(FoleyError) as error:
        session.open_video(not_a_video(tmp_path / "clip.mp4"))
    assert "not a video" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InputError, match="open a video"):
        session.request(Settings())


def test_export_a_take_writes_its_audio_and_notes_and_hands_it_to_an_editor(video: Path, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    session = Session(result_json=result, out_dir=tmp_path / "out")
    assert session.editor_mode and session.exit_code == 1  # until a take is accepted
    session.open_video(video, (1.0, 3.0))
    settings = Settings(instrument="piano", seed=5, temperature=0.9)
    session.set_takes([fake_take(1, 2.0, settings, start=1.0), fake_take(2, 2.0, settings, start=1.0)])
    session.choose_take(2)
    destination = session.default_destination()
    assert destination == tmp_path / "out" / "clip.foley.wav"
    outputs = session.export(destination.with_suffix(""))  # the .wav is added
    assert outputs == {"wav": destination, "mid": destination.with_suffix(".mid")}
    audio, rate = read_wav(outputs["wav"])
    assert rate == RATE and np.array_equal(audio, session.take.audio)
    assert [(n.pitch, n.velocity) for n in read_notes(outputs["mid"])[0]] == [(61, 90)]
    assert session.accept(outputs) and session.exit_code == 0
    record = json.loads(result.read_text())
    assert record["take"] == 2 and record["seed"] == 5 and record["temperature"] == 0.9
    assert record["outputs"] == {"wav": str(outputs["wav"]), "mid": str(outputs["mid"])} and "clip" not in record


def test_outside_editor_mode_nothing_is_handed_back(video: Path, tmp_path: Path) -> None:
    session = Session()
    session.open_video(video)
    with pytest.raises(InputError, match="generate a take first"):
        session.export(tmp_path / "take.wav")
    session.set_takes([fake_take(1, CLIP_SECONDS)])
    assert session.default_destination() == video.with_name("clip.foley.wav")
    outputs = session.export(tmp_path / "take.wav")
    assert not session.accept(outputs) and session.exit_code == 0


def test_a_timeline_clip_is_exported_into_the_timeline_at_its_place(edit: Path, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    original = edit.read_bytes()
    session = Session(result_json=result)
    opened, index = session.open_timeline(edit)
    assert index == 1 and session.video is None  # the disabled clip is listed, not chosen
    assert [(c.index, c.name, c.usable) for c in opened.clips] == [(1, "Wide", False), (2, "Close", True)]
    assert session.choose_clip(0) is None and session.clip is None  # unusable: nothing changes
    assert session.choose_clip(index) is not None and session.clip.name == "Close"
    assert session.range == pytest.approx(SHOT) and not session.set_range(0.0, 1.0)  # the edit decides
    assert session.title == "Foley — edit.otio" and session.clip_detail == "edit.otio · clip 'Close' · clip.mp4"
    session.set_takes([fake_take(1, 0.9, Settings(model=BASELINE), start=SHOT[0])])  # shorter than the clip
    destination = session.default_destination()
    assert destination == tmp_path / "edit.foley.otio"
    outputs = session.export(destination)
    written = otio.adapters.read_from_file(str(outputs["timeline"]))
    (track,) = foley_tracks(written)
    (placed,) = track.find_clips()
    assert placed.name == "Close (Foley)" and placed.range_in_parent().start_time.to_seconds() == pytest.approx(2.0)
    assert placed.metadata["foley"]["model"] == BASELINE and placed.metadata["foley"]["notes"] == 1
    audio, _ = read_wav(wav_path(placed.media_reference))
    assert len(audio) == RATE and np.array_equal(audio[: len(session.take.audio)], session.take.audio)
    assert not audio[len(session.take.audio):].any()  # padded with silence to the clip's length
    assert outputs["mid"].is_file() and edit.read_bytes() == original  # IN untouched
    assert session.accept(outputs) and json.loads(result.read_text())["clip"] == "Close"


def test_a_timeline_changed_since_it_was_opened_is_refused(edit: Path, tmp_path: Path) -> None:
    session = Session()
    session.choose_clip(session.open_timeline(edit)[1])
    session.set_takes([fake_take(1, 1.0)])
    changed = otio.adapters.read_from_file(str(edit))
    for item in changed.find_clips():
        item.enabled = False
    otio.adapters.write_to_file(changed, str(edit))
    with pytest.raises(InputError, match="not a video clip to render"):
        session.export(tmp_path / "out.otio")
    assert list(tmp_path.glob("out*")) == []


def test_the_session_needs_no_qt() -> None:
    """The point of the session model: it runs (and is tested) without a display or PySide6."""
    code = "import sys, ui.session, ui.export, ui.source, ui.generation; print('PySide6' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                           timeout=120)
    assert shown.stdout.strip() == "False"


def engine_imports(path: Path) -> list[tuple[int, str]]:
    """Every import of the engine in `path` that goes around its public API: (line, what it imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if alias.name.startswith("foley_engine.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("foley_engine"):
            if node.module != "foley_engine":
                found.append((node.lineno, node.module))
            else:
                found += [(node.lineno, f"foley_engine.{alias.name}") for alias in node.names
                          if alias.name not in foley_engine.__all__]
    return found


def test_the_panel_uses_only_the_engines_public_api(tmp_path: Path) -> None:
    """ui/ imports `foley_engine` and names in its `__all__`, never a module behind it (they may change shape)."""
    panel = sorted((REPO / "ui").rglob("*.py"))
    assert len(panel) > 10
    offending = {str(path.relative_to(REPO)): found for path in panel if (found := engine_imports(path))}
    assert offending == {}
    probe = tmp_path / "probe.py"  # the rule itself catches each way around the API
    probe.write_text("import foley_engine\nimport foley_engine.synth\nfrom foley_engine.midi import write_midi\n"
                     "from foley_engine import Note, notes\nfrom foley_engine import timeline as stage\n")
    assert [line for line, _ in engine_imports(probe)] == [2, 3, 4, 5]
