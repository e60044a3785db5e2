"""Outputs under stress: a full disk, two runs racing for one folder, a preview that cannot be written, and
cached keypoints that are not numbers. Each must end in one line and a documented exit code, with nothing of
the failed run left behind and nothing of anyone else's replaced.

A full disk is simulated two ways: a 64 KiB tmpfs filled to the brim (real ENOSPC from the kernel; needs root
and a sandbox that allows mounting, else skipped), and temp files that are symlinks to /dev/full (ENOSPC on
every write, no privileges needed), so the tests run everywhere.
"""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from media import make_video

from foley_engine import cli, pipeline
from foley_engine.errors import InputError, OutputError
from foley_engine.keypoints import Keypoints
from foley_engine.outputs import OutputSet
from foley_engine.pose.extract import extract_keypoints

FILLER = "filler"  # the file that fills the tmpfs; not an output


def _keypoints(frames: int = 30, start: float = 0.0, seed: int = 0) -> Keypoints:
    """One performer with random joints: random floats barely compress, so the .npz outgrows write buffers."""
    rng = np.random.default_rng(seed)
    return Keypoints(30.0, start, rng.random((1, frames, 25, 3), np.float32),
                     rng.random((1, frames, 2, 21, 3), np.float32), (320, 240))


def _leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name != FILLER)


def _fill_tmpfs(directory: Path) -> None:
    """Mount a 64 KiB tmpfs on `directory` and fill it, or skip the test with the reason it is not possible."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(directory)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        with open(directory / FILLER, "wb") as filler:
            while True:
                filler.write(bytes(4096))
                filler.flush()
    except OSError as error:
        assert error.errno == errno.ENOSPC


def _temps_on_dev_full(monkeypatch: pytest.MonkeyPatch, directory: Path, part: str = "") -> None:
    """Every output temp in `directory` whose final name contains `part` becomes a symlink to /dev/full."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    temp_for = OutputSet.temp_for

    def temp_on_dev_full(self: OutputSet, final: Path) -> Path:
        temp = temp_for(self, final)
        if temp.parent == directory and part in final.name:
            temp.unlink()
            temp.symlink_to("/dev/full")
        return temp

    monkeypatch.setattr(OutputSet, "temp_for", temp_on_dev_full)


@pytest.fixture(params=["tmpfs", "dev-full"])
def full_dir(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder where every write fails with ENOSPC."""
    directory = tmp_path / "full"
    directory.mkdir()
    if request.param == "tmpfs":
        _fill_tmpfs(directory)
        yield directory
        subprocess.run(["umount", str(directory)], check=True)
    else:
        _temps_on_dev_full(monkeypatch, directory)
        yield directory


@pytest.fixture(autouse=True)
def unraisable_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print "Exception ignored in ..." on stderr as Python does for a user, where pytest would collect it."""
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1.0, rate=30)


@pytest.fixture
def fake_pose(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pose replaced by random keypoints of the right length: these tests are about writing, not tracking."""
    def extract(path: Path, start: float, end: float, *args: object, **kwargs: object) -> tuple[Keypoints, None]:
        return _keypoints(round((end - start) * 30), start), None  # no keyboard band rows

    monkeypatch.setattr(pipeline, "extract", extract)


def _generate(capfd: pytest.CaptureFixture[str], clip: Path, out: Path, *options: str) -> tuple[int, str]:
    """`foley generate` in this process; its exit code and everything that reached file descriptor 2."""
    capfd.readouterr()
    code = cli.main(["generate", str(clip), "-o", str(out), "--model", "baseline", "--progress", "none", *options])
    gc.collect()  # an unclosed writer's __del__ would print now ("Exception ignored in ...")
    return code, capfd.readouterr().err


def _assert_one_line(code: int, stderr: str, expected: int, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == expected and len(lines) == 1 and lines[0].startswith("foley: error: "), (code, stderr)
    for word in words:
        assert word in lines[0], lines[0]


# --- 2: a full disk ---------------------------------------------------------------------------------------------

def test_keypoints_on_a_full_disk_are_one_output_error_and_leave_nothing(
        full_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OutputError, match="clip.keypoints.npz"):
        _keypoints(frames=300).save(full_dir / "clip.keypoints.npz")
    gc.collect()
    assert capfd.readouterr().err == ""
    assert _leftovers(full_dir) == []


@pytest.mark.usefixtures("fake_pose")
def test_generate_on_a_full_disk_is_one_line_exit_5_and_leaves_nothing(
        full_dir: Path, clip: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, stderr = _generate(capfd, clip, full_dir, "--preview")
    _assert_one_line(code, stderr, 5)
    assert _leftovers(full_dir) == []


@pytest.mark.usefixtures("fake_pose")
@pytest.mark.parametrize("part", [".foley.mid", ".foley.wav", ".keypoints.npz", ".preview.png"])
def test_any_output_failing_with_enospc_is_one_line_exit_5_and_nothing_is_written(
        part: str, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _temps_on_dev_full(monkeypatch, out, part)
    code, stderr = _generate(capfd, clip, out, "--preview")
    _assert_one_line(code, stderr, 5, part.split(".")[-1])
    assert _leftovers(out) == []


def test_a_keypoint_cache_on_a_full_disk_costs_nothing_but_the_cache(
        full_dir: Path, piano_video: Path, capfd: pytest.CaptureFixture[str]) -> None:
    keypoints = extract_keypoints(piano_video, 12.0, 14.0, cache_dir=full_dir)  # 2 s: the .npz outgrows buffers
    gc.collect()
    assert keypoints.num_performers >= 1
    assert capfd.readouterr().err == ""
    assert _leftovers(full_dir) == []


# --- 3: two runs into one folder --------------------------------------------------------------------------------

@pytest.fixture(params=["link", "no-hard-links"])
def link_support(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Commit with hard links, and as on a file system without them (FAT, some network shares)."""
    if request.param == "no-hard-links":
        def no_link(source: object, target: object, *args: object, **kwargs: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    return request.param


@pytest.mark.usefixtures("link_support")
@pytest.mark.parametrize("appears", [0, 1])
def test_an_output_that_appears_during_the_run_is_kept_and_this_run_rolls_back(tmp_path: Path, appears: int) -> None:
    finals = [tmp_path / "clip.foley.mid", tmp_path / "clip.foley.wav"]
    with pytest.raises(OutputError, match=rf"output exists: .*{finals[appears].name}.*--force"):
        with OutputSet(finals) as outputs:  # nothing there yet: the check at the start passes
            for final in finals:
                outputs.temp_for(final).write_bytes(b"mine")
            finals[appears].write_bytes(b"theirs")  # the other run commits first
    assert _leftovers(tmp_path) == [finals[appears].name]
    assert finals[appears].read_bytes() == b"theirs"


@pytest.mark.usefixtures("link_support")
def test_without_a_race_outputs_are_placed_and_force_replaces(tmp_path: Path) -> None:
    finals = [tmp_path / "clip.foley.mid", tmp_path / "clip.foley.wav"]
    with OutputSet(finals) as outputs:
        for final in finals:
            outputs.temp_for(final).write_bytes(b"first")
    assert _leftovers(tmp_path) == sorted(final.name for final in finals)
    with OutputSet(finals, force=True) as outputs:
        for final in finals:
            outputs.temp_for(final).write_bytes(b"second")
    assert _leftovers(tmp_path) == sorted(final.name for final in finals)
    assert all(final.read_bytes() == b"second" for final in finals)


@pytest.mark.usefixtures("fake_pose")
def test_a_concurrent_generate_into_the_same_folder_is_not_overwritten(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    theirs = out / "clip.foley.wav"
    generate = pipeline.generate

    def other_run_finishes_first(*args: object, **kwargs: object) -> pipeline.FoleyResult:
        theirs.write_bytes(b"the other run's audio")
        return generate(*args, **kwargs)

    monkeypatch.setattr(pipeline, "generate", other_run_finishes_first)
    code, stderr = _generate(capfd, clip, out)
    _assert_one_line(code, stderr, 5, "exists", "clip.foley.wav", "--force")
    assert _leftovers(out) == ["clip.foley.wav"] and theirs.read_bytes() == b"the other run's audio"


# --- 9: the preview belongs to the output set -------------------------------------------------------------------

@pytest.mark.usefixtures("fake_pose")
@pytest.mark.parametrize("force", [False, True])
def test_a_preview_that_cannot_be_written_leaves_no_outputs(
        force: bool, clip: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    (out / "clip.preview.png").mkdir(parents=True)
    code, stderr = _generate(capfd, clip, out, "--preview", *(["--force"] if force else []))
    _assert_one_line(code, stderr, 5, "clip.preview.png")
    assert _leftovers(out) == ["clip.preview.png"] and (out / "clip.preview.png").is_dir()


@pytest.mark.usefixtures("fake_pose")
def test_preview_is_written_with_the_other_outputs(clip: Path, tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    code, stderr = _generate(capfd, clip, tmp_path, "--preview")
    assert code == 0, stderr
    assert _leftovers(tmp_path) == ["clip.foley.mid", "clip.foley.wav", "clip.keypoints.npz", "clip.preview.png"]
    assert (tmp_path / "clip.preview.png").read_bytes().startswith(b"\x89PNG")


# --- 12: cached keypoints that are not numbers ------------------------------------------------------------------

def _damaged(kind: str) -> Keypoints:
    keypoints = _keypoints()
    keypoints.body[..., 2] = np.clip(keypoints.body[..., 2], 0.1, 1.0)  # every body joint seen
    if kind == "nan-seen-joint":
        keypoints.body[0, 5, 4, 0] = np.nan
    elif kind == "inf-seen-hand":
        keypoints.hands[0, 3, 1, 7, 1] = np.inf
        keypoints.hands[0, 3, 1, 7, 2] = 0.8
    elif kind == "confidence-above-1":
        keypoints.body[0, 2, 3, 2] = 1.5
    elif kind == "negative-confidence":
        keypoints.hands[0, 2, 0, 3, 2] = -0.2
    elif kind == "nan-confidence":
        keypoints.body[0, 1, 1, 2] = np.nan
    return keypoints


@pytest.mark.parametrize("kind", ["nan-seen-joint", "inf-seen-hand", "confidence-above-1", "negative-confidence",
                                  "nan-confidence"])
def test_keypoints_that_are_not_numbers_are_a_corrupt_file(kind: str, tmp_path: Path) -> None:
    _damaged(kind).save(tmp_path / "kp.npz")
    with pytest.raises(InputError, match="corrupt") as error:
        Keypoints.load(tmp_path / "kp.npz")
    assert error.value.exit_code == 3


def test_missing_joints_may_hold_any_coordinates(tmp_path: Path) -> None:
    keypoints = _keypoints()
    keypoints.body[0, 5, 4] = (np.nan, np.inf, 0.0)  # confidence 0: missing, its coordinates mean nothing
    keypoints.save(tmp_path / "kp.npz")
    assert Keypoints.load(tmp_path / "kp.npz").num_frames == 30


def test_a_cache_file_with_nan_keypoints_is_recomputed(tmp_path: Path) -> None:
    empty_room = make_video(tmp_path / "empty-room.mp4", seconds=1.0, rate=30)
    assert extract_keypoints(empty_room, cache_dir=tmp_path / "cache").num_performers == 0
    [cached] = list((tmp_path / "cache").iterdir())
    _damaged("nan-seen-joint").save(cached)  # a performer appears, with a NaN joint
    assert extract_keypoints(empty_room, cache_dir=tmp_path / "cache").num_performers == 0
    assert Keypoints.load(cached).num_performers == 0, "the corrupt cache file was replaced"
