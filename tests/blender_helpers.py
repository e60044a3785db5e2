"""Running the Blender extension in real Blender from pytest: the bpy venv, the built zip, the driver.

bpy (Blender as a Python module) lives in `.venv-blender` (scripts/blender-venv.sh, run by `make test`) and
loads once per process, so each scenario of scripts/blender-driver.py runs in its own process with a scratch
Blender user folder, and the tests assert on the JSON it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_or_fail

REPO = Path(__file__).resolve().parents[1]
BPY_VENV = REPO / ".venv-blender"
DRIVER = REPO / "scripts" / "blender-driver.py"
BUILDER = REPO / "scripts" / "blender-extension.py"
#: The engine the add-on drives in the tests: the `foley` of the venv running pytest.
ENGINE = Path(sys.executable).parent / "foley"


def bpy_python() -> Path:
    """The bpy-capable interpreter; skips with the installer's reason where bpy cannot be installed, but
    fails when CI=true: a CI run must not go green without having run the Blender tests."""
    override = os.environ.get("FOLEY_BPY_PYTHON")
    python = Path(override) if override else BPY_VENV / "bin" / "python"
    unavailable = BPY_VENV / "UNAVAILABLE"
    if not override and unavailable.is_file():
        skip_or_fail(f"Blender as a Python module is not available here: {unavailable.read_text().strip()}")
    if not python.is_file():
        skip_or_fail(f"no bpy venv at {BPY_VENV} (run: bash scripts/blender-venv.sh, or make test)")
    return python


def build_extension(out_dir: Path) -> Path:
    """The installable zip, built like `make blender-extension` (wheels cached in build/blender-wheels)."""
    done = subprocess.run([sys.executable, str(BUILDER), "--out", str(out_dir)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def run_driver(python: Path, scenario: str, spec: dict, folder: Path, env: dict[str, str | None] | None = None,
               timeout: float = 600) -> dict:
    """One scenario in a fresh Blender process; its RESULT object, or a test failure with its traceback.

    `env` adds variables, or removes them with None.
    """
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f"{scenario}.json"
    spec_path.write_text(json.dumps(spec))
    environment = {**os.environ, "FOLEY_ENGINE": str(ENGINE), **(env or {}),
                   "BLENDER_USER_RESOURCES": str(folder / "blender-user")}
    environment = {name: value for name, value in environment.items() if value is not None}
    done = subprocess.run([str(python), str(DRIVER), scenario, str(spec_path)], capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=folder, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        pytest.fail(f"blender-driver {scenario} exited {done.returncode} without a result:\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    if "exception" in result:
        pytest.fail(f"blender-driver {scenario}: {result['exception']}\n{result['traceback']}\n{done.stdout[-2000:]}")
    result["log"] = done.stdout
    return result
