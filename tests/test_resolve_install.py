"""`foley install-resolve-script` and the installed `Generate Foley.py`: where it goes, and what it needs.

The installed script is run with `python -I -S`: no site-packages, so no OpenTimelineIO and no engine, as in
Resolve's own Python. It must still load `resolve_script` from the recorded folder and, with no Resolve
running, say so.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from resolve_script import FoleyScriptError, install
from resolve_script.connect import NOT_RUNNING, import_scripting_module

REPO = Path(__file__).resolve().parents[1]
FAKE_SCRIPTING = Path(__file__).resolve().parent / "fakes" / "scripting"
SUPPORT = "Blackmagic Design/DaVinci Resolve"


def install_cli(*args: str) -> int:
    """The command as `foley` registers it (through this package's entry point, see the next test)."""
    parser = argparse.ArgumentParser(prog="foley")
    install.add_install_command(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["install-resolve-script", *args])
    return parsed.handler(parsed)


def test_foley_finds_the_command_through_the_adapters_entry_point() -> None:
    """`foley install-resolve-script` is declared by this package (pyproject's "foley.commands" entry point): the
    engine's code never names an editor adapter, and loads this one only to run or list its command."""
    from importlib.metadata import entry_points

    from foley_engine.cli import PLUGIN_GROUP

    (point,) = [p for p in entry_points(group=PLUGIN_GROUP) if p.name == "install-resolve-script"]
    assert point.load() is install.add_install_command
    naming = [str(path.relative_to(REPO)) for path in (REPO / "foley_engine").rglob("*.py")
              if any(name in path.read_text(encoding="utf-8") for name in ("resolve_script", "blender_addon"))]
    assert naming == []
    code = ("import sys; from foley_engine.cli import build_parser; build_parser(['generate']); "
            "print('resolve_script' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.fixture
def on_linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine as a Linux box whose home is tmp_path/home."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(install, "current_platform", lambda: "linux")
    return home


@pytest.mark.parametrize("platform, all_users, expected", [
    ("linux", False, "{home}/.local/share/DaVinciResolve/Fusion/Scripts/Edit"),
    ("linux", True, "/opt/resolve/Fusion/Scripts/Edit"),
    ("macos", False, f"~/Library/Application Support/{SUPPORT}/Fusion/Scripts/Edit"),
    ("macos", True, f"/Library/Application Support/{SUPPORT}/Fusion/Scripts/Edit"),
    ("windows", False, r"%APPDATA%\Blackmagic Design\DaVinci Resolve\Support\Fusion\Scripts\Edit"),
    ("windows", True, r"%PROGRAMDATA%\Blackmagic Design\DaVinci Resolve\Fusion\Scripts\Edit"),
])
def test_dry_run_prints_the_target_per_system(on_linux: Path, capsys: pytest.CaptureFixture, platform: str,
                                              all_users: bool, expected: str) -> None:
    args = ["--dry-run", "--platform", platform] + (["--all-users"] if all_users else [])
    assert install_cli(*args) == 0
    out = capsys.readouterr().out
    separator = "\\" if platform == "windows" else "/"
    assert f"  {expected.format(home=on_linux)}{separator}Generate Foley.py\n" in out
    assert f"it loads resolve_script from {REPO}" in out
    assert not on_linux.exists()  # a dry run writes nothing


def test_this_systems_folders_use_its_home_and_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"APPDATA": r"C:\Users\ana\AppData\Roaming", "PROGRAMDATA": r"C:\ProgramData"}
    monkeypatch.setattr(install, "current_platform", lambda: "windows")
    assert install.scripts_dir("windows", False, env) == PureWindowsPath(
        r"C:\Users\ana\AppData\Roaming\Blackmagic Design\DaVinci Resolve\Support\Fusion\Scripts\Edit")
    assert install.scripts_dir("windows", True, env) == PureWindowsPath(
        r"C:\ProgramData\Blackmagic Design\DaVinci Resolve\Fusion\Scripts\Edit")
    monkeypatch.setattr(install, "current_platform", lambda: "macos")
    assert install.scripts_dir("macos", False, env, home="/Users/ana") == PurePosixPath(
        f"/Users/ana/Library/Application Support/{SUPPORT}/Fusion/Scripts/Edit")


def test_another_system_only_with_dry_run(on_linux: Path) -> None:
    from foley_engine.errors import InputError

    with pytest.raises(InputError, match="--platform macos is not this system .linux.; add --dry-run"):
        install_cli("--platform", "macos")


def run_script(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """As Resolve's Python would: no site-packages (-S), no PYTHON* variables or user site (-I)."""
    return subprocess.run([sys.executable, "-I", "-S", str(script), *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=str(script.parent))


def test_install_writes_a_launcher_that_finds_the_package_and_says_resolve_is_not_running(
        on_linux: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert install_cli() == 0
    target = on_linux / ".local/share/DaVinciResolve/Fusion/Scripts/Edit/Generate Foley.py"
    out = capsys.readouterr().out
    assert f"installed Generate Foley.py for this user to:\n  {target}\n" in out
    assert "restart DaVinci Resolve, then: Workspace › Scripts › Generate Foley (on the Edit page)" in out
    text = target.read_text(encoding="utf-8")
    assert f"PACKAGE_DIR = {str(REPO)!r}  #" in text and f"ENGINE = {install.default_engine()!r}  #" in text
    assert list(target.parent.iterdir()) == [target]  # nothing half-written left beside it

    lib = tmp_path / "fusionscript.so"
    lib.write_bytes(b"")
    env = {"RESOLVE_SCRIPT_API": str(FAKE_SCRIPTING), "RESOLVE_SCRIPT_LIB": str(lib), "PATH": "/usr/bin:/bin"}
    proc = run_script(target, env, "--track", "1")
    assert proc.returncode == 1 and proc.stderr.strip() == f"Generate Foley: error: {NOT_RUNNING}", proc.stderr
    proc = run_script(target, env | {"RESOLVE_SCRIPT_LIB": str(tmp_path / "missing.so")})
    assert proc.returncode == 1 and "cannot load Resolve's fusionscript library" in proc.stderr, proc.stderr
    proc = run_script(target, env, "--color", "Mauve")
    assert proc.returncode == 2 and "unknown clip colour 'Mauve'" in proc.stderr, proc.stderr


def test_no_scripting_module_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FoleyScriptError) as error:
        import_scripting_module({"RESOLVE_SCRIPT_API": str(tmp_path)}, "darwin")
    assert f"cannot find DaVinciResolveScript (looked in {tmp_path / 'Modules'}, /Library/Application Support/" \
           f"{SUPPORT}/Developer/Scripting/Modules); install DaVinci Resolve" in str(error.value)


def test_the_script_is_thin_and_runs_on_python_3_8() -> None:
    """Standard library only (Resolve's Python has nothing else), and no syntax newer than Python 3.8."""
    for path in sorted((REPO / "resolve_script").glob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=(3, 8))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import resolve_script.app, resolve_script.install; "
            "heavy = {'opentimelineio', 'foley_engine', 'numpy', 'torch', 'mediapipe'} & set(sys.modules); "
            "sys.exit(sorted(heavy) or 0)")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
