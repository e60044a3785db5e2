"""The guards that let a user's machine skip what it lacks must fail instead under CI=true, so that CI can
never go green without having run the Blender, Ray and other optional-but-installed tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import blender_helpers
import pytest
from conftest import require_module, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
MISSING = "foley_no_such_module_for_the_ci_guard_test"
IN_CI = {pytest.fail.Exception: " and CI=true requires it", pytest.skip.Exception: ""}


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("TRUE", pytest.fail.Exception),
                                             (None, pytest.skip.Exception), ("false", pytest.skip.Exception)])
def test_a_missing_module_skips_only_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None,
                                                outcome: type[BaseException]) -> None:
    set_ci(monkeypatch, ci)
    kind, message = outcome_of(require_module, MISSING, reason="an optional extra")
    assert kind is outcome and MISSING in message and "an optional extra" in message
    assert outcome_of(skip_or_fail, "no such thing") == (outcome, "no such thing" + IN_CI[outcome])


def test_a_present_module_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    set_ci(monkeypatch, "true")
    assert require_module("json").dumps([1]) == "[1]"


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)])
def test_blender_unavailable_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str | None,
                                         outcome: type[BaseException]) -> None:
    """scripts/blender-venv.sh writes UNAVAILABLE where bpy cannot be installed: a reason to skip, not in CI."""
    set_ci(monkeypatch, ci)
    monkeypatch.delenv("FOLEY_BPY_PYTHON", raising=False)
    venv = tmp_path / ".venv-blender"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / "UNAVAILABLE").write_text("no bpy wheel for this platform\n")
    monkeypatch.setattr(blender_helpers, "BPY_VENV", venv)
    kind, message = outcome_of(blender_helpers.bpy_python)
    assert kind is outcome and "no bpy wheel for this platform" in message
    (venv / "UNAVAILABLE").unlink()
    assert blender_helpers.bpy_python() == venv / "bin" / "python"
    (venv / "bin" / "python").unlink()
    kind, message = outcome_of(blender_helpers.bpy_python)
    assert kind is outcome and "no bpy venv" in message


@pytest.mark.parametrize(("ci", "code"), [("true", 1), (None, 0)])
def test_blender_venv_script_fails_in_ci_when_bpy_is_unavailable(tmp_path: Path, ci: str | None, code: int) -> None:
    venv = tmp_path / "bpy-venv"
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    env.update({"BPY_PYTHON": "foley-no-such-python3.11", **({"CI": ci} if ci else {})})
    done = subprocess.run(["bash", str(REPO / "scripts" / "blender-venv.sh"), str(venv)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == code, done.stderr
    assert "foley-no-such-python3.11, which is not installed" in (venv / "UNAVAILABLE").read_text()
    assert not (venv / ".installed").exists()


def outcome_of(function, *args, **kwargs) -> tuple[type[BaseException], str]:
    """Which of pytest's outcomes `function` raised, and its message: caught here, because an escaping skip
    would turn this test into a skip instead of a failure."""
    try:
        function(*args, **kwargs)
    except (pytest.fail.Exception, pytest.skip.Exception) as raised:
        return type(raised), str(raised.msg)
    raise AssertionError(f"{function.__name__} neither skipped nor failed")


def set_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
