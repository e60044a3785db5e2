"""A plain install runs the product; making and judging models need extras, and say so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from foley_engine.extras import EXTRA_OF_MODULE
from foley_engine.synth import write_wav

REPO = Path(__file__).resolve().parents[1]


def _requirement_names(requirements: list[str]) -> set[str]:
    return {requirement.split("=")[0].split("<")[0].split(">")[0].strip().lower().replace("_", "-")
            for requirement in requirements}


def test_the_base_install_leaves_the_training_and_evaluation_libraries_to_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = _requirement_names(project["dependencies"])
    extras = {name: _requirement_names(requirements) for name, requirements in project["optional-dependencies"].items()}
    packages = {"music21": "music21", "mir_eval": "mir-eval", "librosa": "librosa", "resampy": "resampy",
                "sklearn": "scikit-learn", "onnxruntime": "onnxruntime"}
    for module, extra in EXTRA_OF_MODULE.items():
        assert packages[module] not in base, module
        assert packages[module] in extras[extra], (module, extra)


@pytest.mark.parametrize(("argv", "module", "extra"), [
    (["eval", "--data", "nowhere", "--out", "report"], "mir_eval", "eval"),
    (["dataset", "transcribe", "clip.wav", "-o", "clip.mid"], "onnxruntime", "eval"),
])
def test_a_command_whose_extra_is_missing_says_which_in_one_line(
        argv: list[str], module: str, extra: str, tmp_path: Path) -> None:
    """Run in a fresh interpreter where importing `module` fails as if it were not installed (the test process's
    own modules stay as they are)."""
    (tmp_path / "nowhere").mkdir()
    write_wav(np.zeros((48000, 2), np.int16), tmp_path / "clip.wav")
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            f"from foley_engine.cli import main\nsys.exit(main({argv!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 8, done.stderr
    assert done.stderr.count("\n") == 1 and f"pip install 'foley[{extra}]'" in done.stderr, done.stderr
    assert module in done.stderr
