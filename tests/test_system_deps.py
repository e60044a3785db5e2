"""scripts/system-deps.sh's library check, run against a fake `ldconfig` (and a fake `apt-get` that only
records being called), so nothing is installed and the result does not depend on this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "system-deps.sh"
LIBRARIES = ["libfluidsynth.so.3", "libEGL.so.1", "libGL.so.1", "libxkbcommon.so.0", "libfontconfig.so.1",
             "libdbus-1.so.3", "libpulse.so.0", "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
             "libxkbcommon-x11.so.0"]


def fake_tools(folder: Path, libraries: list[str]) -> dict[str, str]:
    """A PATH whose `ldconfig -p` lists `libraries` first and then ~1 MB more, far beyond a pipe's buffer:
    a reader that stops at the first match makes the writer die of SIGPIPE, every time."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    listing = folder / "listing.txt"
    lines = [f"\t{name} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/{name}" for name in libraries]
    lines += [f"\tlibfiller{i}.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libfiller{i}.so.1"
              for i in range(14000)]
    listing.write_text(f"{len(lines)} libs found in cache `/etc/ld.so.cache'\n" + "\n".join(lines) + "\n")
    (bin_dir / "ldconfig").write_text(f"#!/bin/sh\ncat '{listing}'\n")
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\necho \"$@\" >> '{folder / 'apt-get.calls'}'\n")
    for tool in ("ldconfig", "apt-get"):
        (bin_dir / tool).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FOLEY_SOUNDFONT": "/any/GM.sf2", "FOLEY_DEPS_CHECK_ONLY": "1"}


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_present_libraries_are_never_reported_missing(tmp_path: Path) -> None:
    env = fake_tools(tmp_path, LIBRARIES)
    for attempt in range(25):
        done = check(env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), f"attempt {attempt}"
    assert not (tmp_path / "apt-get.calls").exists()


@pytest.mark.parametrize("flag", ["env", "--check"])
def test_check_mode_reports_what_is_missing_without_installing(tmp_path: Path, flag: str) -> None:
    env = fake_tools(tmp_path, [name for name in LIBRARIES if name != "libpulse.so.0"])
    env.pop("FOLEY_SOUNDFONT")
    if flag == "--check":
        env.pop("FOLEY_DEPS_CHECK_ONLY")
    done = subprocess.run(["bash", str(SCRIPT), *([flag] if flag == "--check" else [])], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    missing = done.stdout.strip().removeprefix("missing: ").split()
    assert "libpulse0" in missing and "libfluidsynth3" not in missing and "libegl1" not in missing
    assert ("fluid-soundfont-gm" in missing) == (not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists())
    assert not (tmp_path / "apt-get.calls").exists()
