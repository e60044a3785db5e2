"""Shared fixtures: real footage from ../shared (skip on a user's machine, fail in CI) and an isolated cache."""

from __future__ import annotations

import importlib
import json
import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO.parent / "shared" / "media"
PIANO_DIR = SHARED_MEDIA / "piano-furelise"


def require_shared(path: Path) -> Path:
    """Real recordings live in ../shared: skip with a reason without them, but never skip in CI."""
    if path.exists():
        return path
    message = f"real footage not found at {path} (see ../shared/README.md)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " and CI=true requires it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def piano_video() -> Path:
    return require_shared(PIANO_DIR / "video.mp4")


@pytest.fixture(scope="session")
def piano_midi() -> Path:
    return require_shared(PIANO_DIR / "performance.mid")


@pytest.fixture(scope="session")
def duet_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real players side by side, 2 s at 640x360 (violin left, double bass right; tests/ensembles.py): one
    file per session, so every test that runs pose on its whole length shares the keypoint cache."""
    from ensembles import Placement, compose  # OpenCV: only for the tests that use it

    violin, bass = (require_shared(SHARED_MEDIA / name / "video.mp4") for name in ("violin-urmp", "double-bass"))
    return compose(tmp_path_factory.mktemp("duet") / "duet.mp4",
                   [Placement(violin, (0, 0, 320, 360)), Placement(bass, (320, 0, 320, 360))], (640, 360), 2.0)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test session gets its own keypoint cache, so tests never see a developer's cache."""
    cache = tmp_path_factory.getbasetemp() / "foley-cache"
    monkeypatch.setenv("FOLEY_CACHE_DIR", str(cache))
    return cache


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(message: str) -> None:
    """Skip with `message` on a user's machine; fail in CI (CI=true), where `make test` installs everything,
    so that a green CI run never hides tests that did not run."""
    if in_ci():
        pytest.fail(f"{message} and CI=true requires it")
    pytest.skip(message)


def require_module(name: str, reason: str = ""):
    """`pytest.importorskip` that fails instead of skipping when CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        skip_or_fail(f"cannot import {name} ({error})" + (f": {reason}" if reason else ""))


def unfinished_work(cache: Path) -> list[Path]:
    """The files in a keypoint cache folder other than remembered keyboards (keyboard/recall.py): after a
    cancelled run there must be none. A keyboard found before the cancel is a finished stage's whole result,
    written atomically, and is kept; keypoints or band rows of a stage that did not finish never are."""
    keyboards = cache / "keypoints" / "keyboards"
    return [path for path in cache.rglob("*")
            if path.is_file() and not (path.parent == keyboards and path.suffix == ".json" and _whole_json(path))]


def _whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except ValueError:
        return False
    return True


def as_a_terminal_starts_it() -> None:
    """`preexec_fn` for a command a test will Ctrl-C: SIGINT at its default, as a terminal's foreground job has
    it. A suite started in the background by a shell without job control (`make test &`, a CI runner's
    detached step) ignores SIGINT, every process it starts inherits that, and a Ctrl-C sent before the command
    installs its own handlers (the entry point importing the CLI) was lost: the run finished with exit 0."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
