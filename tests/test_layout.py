"""The shape of the package: the inference path never loads the making or judging of models, the public API
is what it says, and no module grows past what a reader can hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import foley_engine

REPO = Path(__file__).resolve().parents[1]
#: Packages (and the heavy libraries only they need) that the inference path must never import.
NOT_FOR_INFERENCE = ("foley_engine.training", "foley_engine.data", "foley_engine.evaluation")
TRAINING_LIBRARIES = ("music21", "mir_eval", "librosa", "resampy", "sklearn", "onnxruntime", "basic_pitch")
MAX_LINES = 460


def _imported_after(code: str) -> dict:
    """Run `code` in a fresh interpreter and list what it left in sys.modules."""
    probe = code + (
        "\nimport sys, json\n"
        f"print(json.dumps({{'engine': [m for m in sys.modules if m.startswith({NOT_FOR_INFERENCE!r})],"
        f" 'libraries': [m for m in {TRAINING_LIBRARIES!r} if m in sys.modules]}}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generating_notes_imports_nothing_from_training_data_or_evaluation() -> None:
    """The learned model and the baseline play a synthetic performer through the same note sources
    `foley generate` runs; the interpreter then holds no training, data or evaluation module."""
    code = """
import numpy as np
import foley_engine as foley
from foley_engine.instruments import get_instrument
from foley_engine.sources.motion import MotionSource
from foley_engine.cli import build_parser
from foley_engine.timeline.jobs import render_clip
rng = np.random.default_rng(0)
body = rng.uniform(0.3, 0.7, (1, 60, 25, 3)).astype(np.float32); body[..., 2] = 1
hands = rng.uniform(0.3, 0.7, (1, 60, 2, 21, 3)).astype(np.float32); hands[..., 2] = 1
keypoints = foley.Keypoints(30.0, 0.0, body, hands, (1280, 720))
for model in ("default", "baseline"):
    MotionSource(foley.GeneratorOptions(model=model)).performances(keypoints, get_instrument("piano"), 2.0)
build_parser(["generate"]); build_parser(["timeline"])
"""
    assert _imported_after(code) == {"engine": [], "libraries": []}


@pytest.mark.real_media
def test_a_whole_generation_on_real_footage_imports_nothing_from_training_data_or_evaluation(
        piano_video: Path, tmp_path: Path) -> None:
    video = piano_video
    code = f"""
import os
os.environ["FOLEY_CACHE_DIR"] = {str(tmp_path)!r}
import foley_engine as foley
for source in ("auto", "model"):
    foley.generate({str(video)!r}, "piano", start=10.0, end=13.0, options=foley.GeneratorOptions(source=source))
"""
    assert _imported_after(code) == {"engine": [], "libraries": []}


def test_the_public_api_is_what_it_lists_and_loads_lazily() -> None:
    assert foley_engine.__all__ == ["__version__", *foley_engine._EXPORTS]
    for name in foley_engine.__all__:
        assert getattr(foley_engine, name) is not None, name
    assert _imported_after("import foley_engine") == {"engine": [], "libraries": []}
    light = subprocess.run([sys.executable, "-c", "import sys, foley_engine; foley_engine.InputError; print(sorted("
                            "m for m in ('torch', 'mediapipe', 'fluidsynth', 'cv2') if m in sys.modules))"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert light.stdout.strip() == "[]", light.stderr
    with pytest.raises(AttributeError):
        foley_engine.no_such_name  # noqa: B018


def test_no_module_is_past_what_a_reader_can_hold() -> None:
    long = {str(path.relative_to(REPO)): lines
            for folder in ("foley_engine", "ui", "blender_addon", "resolve_script")
            for path in (REPO / folder).rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_importing_the_engine_prints_nothing_on_stdout_even_in_ci() -> None:
    """pyfluidsynth prints where it found its library on stdout when $CI is set, and stdout carries the
    engine's JSON lines: every module that imports it (or pretty_midi) must import fluidsynth_quiet first, an
    order an import sorter must not undo."""
    for module in ("foley_engine.midi", "foley_engine.synth", "foley_engine.pipeline", "foley_engine.cli.evaluate"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "CI": "true"}, timeout=120)
        assert done.returncode == 0 and done.stdout == "", (module, done.stdout, done.stderr[-500:])
