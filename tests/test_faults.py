"""Fault injection: the real `foley` command, run as a user runs it, on broken input, a full disk, Ctrl-C at
several moments, two runs racing into one folder and broken soundfonts and timelines.

Every failure must keep the promise of the README: one line on stderr starting `foley: error:`, the documented
exit code, and nothing half-written: the output folder holds exactly what it held before (same names, same
bytes, same modification times) and no hidden `.part` temp is left behind.

The clips are made here with PyAV (tests/media.py) and show nobody, so runs that must get as far as the audio
use `--allow-silence` and `--model baseline`; each clip is 1-1.5 s so a whole run takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
from conftest import as_a_terminal_starts_it, skip_or_fail, unfinished_work
from media import make_video, truncated_copy
from timelines import clip, media, timeline, video_track

FOLEY = Path(sys.executable).parent / "foley"
CLIP_SECONDS = 1.5
RUN = ("--model", "baseline", "--allow-silence", "--progress", "none")
OLD = {"clip.foley.mid": b"old midi", "clip.foley.wav": b"old wav", "clip.keypoints.npz": b"old keypoints"}

#: Imported by every Python process of a run (PYTHONPATH): pauses the run at one chosen moment and says so
#: with a marker file, so a test can press Ctrl-C exactly there (or let two runs race from there) instead of
#: guessing with sleeps. The run goes on when the resume file appears (a minute at most).
PAUSE_HOOK = '''
import os, sys, time

_where, _marker = os.environ.get("FOLEY_FAULT_PAUSE", ""), os.environ.get("FOLEY_FAULT_MARKER", "")
_resume = os.environ.get("FOLEY_FAULT_RESUME", "")


def _pause():
    with open(_marker, "w") as marker:
        marker.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (_resume and os.path.exists(_resume)):
        time.sleep(0.01)


if _where.startswith("import:"):
    class _PauseBeforeImport:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == _where[len("import:"):]:
                sys.meta_path.remove(_PauseBeforeImport)
                _pause()
            return None

    sys.meta_path.insert(0, _PauseBeforeImport)
elif _where == "sfload":
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        import fluidsynth
    _sfload = fluidsynth.Synth.sfload

    def sfload(self, *args, **kwargs):
        _pause()
        return _sfload(self, *args, **kwargs)

    fluidsynth.Synth.sfload = sfload
'''


# --- helpers -------------------------------------------------------------------------------------------------

def foley(*args: object, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(FOLEY), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Everything under `folder`, hidden files included: files as (size, mtime in ns, sha1), folders too."""
    if not folder.exists():
        return {}
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns,
                                            hashlib.sha1(path.read_bytes()).hexdigest()) if path.is_file()
            else (-1, 0, "folder" if path.is_dir() else "other")
            for path in sorted(folder.rglob("*"))}


def out_folder(tmp_path: Path, old_outputs: bool = False) -> Path:
    """An output folder that already holds a file of the user's (and, if asked, a previous run's outputs)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file\n")
    for name, content in (OLD.items() if old_outputs else ()):
        (out / name).write_bytes(content)
    for path in out.iterdir():
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return out


def assert_one_line_error(proc: subprocess.CompletedProcess, codes: int | tuple[int, ...], *words: str) -> str:
    codes = (codes,) if isinstance(codes, int) else codes
    assert proc.returncode in codes, f"exit {proc.returncode}, expected {codes}; stderr:\n{proc.stderr[-3000:]}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foley: error: "), f"stderr:\n{proc.stderr[-3000:]}"
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def assert_untouched(folder: Path, before: dict) -> None:
    after = snapshot(folder)
    assert after == before, f"output folder changed: added {sorted(set(after) - set(before))}, " \
                            f"removed {sorted(set(before) - set(after))}, " \
                            f"changed {sorted(n for n in set(before) & set(after) if before[n] != after[n])}"


def fails_cleanly(out: Path, codes: int | tuple[int, ...], *args: object, words: tuple[str, ...] = (),
                  env: dict | None = None) -> subprocess.CompletedProcess:
    before = snapshot(out)
    proc = foley(*args, env=env)
    assert_one_line_error(proc, codes, *words)
    assert_untouched(out, before)
    return proc


def progress_stages(stdout: str) -> set[str]:
    return {event.get("stage") for event in map(json.loads, filter(None, stdout.splitlines()))
            if event.get("type") == "progress"}


def wav_frames(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return wav.getnframes()


# --- clips, shared by the module ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    good = make_video(folder / "clip.mp4", seconds=CLIP_SECONDS)
    truncated_copy(good, folder / "truncated.mp4")
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(7).bytes(200_000))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "shopping.mp4").write_text("this is a shopping list, not a video\n" * 20)
    for suffix in ("mkv", "mov"):
        make_video(folder / f"clip.{suffix}", seconds=1.0, size=(160, 120))
    make_video(folder / "clip.webm", seconds=1.0, size=(160, 120), codec="libvpx-vp9")
    audio_only(folder / "song.m4a", seconds=1.0)
    other = folder / "other"  # a second, shorter clip with the same name, for the race
    other.mkdir()
    make_video(other / "clip.mp4", seconds=1.0, size=(160, 120))
    return folder


def audio_only(path: Path, seconds: float) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = round(seconds * 44100)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 44100)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 44100, 0, Fraction(1, 44100)
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def pause_hook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pause-hook")
    (folder / "sitecustomize.py").write_text(PAUSE_HOOK)
    return folder


@pytest.fixture(scope="module")
def gm_soundfont() -> Path:
    from foley_engine.errors import SynthUnavailableError
    from foley_engine.synth import find_soundfont

    try:
        return find_soundfont()
    except SynthUnavailableError as error:
        skip_or_fail(str(error))


# --- corrupt and odd media ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["truncated.mp4", "garbage.mp4", "empty.mp4", "shopping.mp4", "song.m4a"])
def test_unreadable_media_is_refused_with_one_line(clips: Path, tmp_path: Path, name: str) -> None:
    out = out_folder(tmp_path)
    fails_cleanly(out, 3, "generate", clips / name, "-o", out, *RUN, words=(name,))


@pytest.mark.parametrize("suffix", ["mkv", "mov", "webm"])
def test_other_containers_work(clips: Path, tmp_path: Path, suffix: str) -> None:
    out = out_folder(tmp_path)
    proc = foley("generate", clips / f"clip.{suffix}", "-o", out, *RUN)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["clip.foley.mid", "clip.foley.wav", "clip.keypoints.npz",
                                                      "notes.txt"]
    assert abs(wav_frames(out / "clip.foley.wav") - 48000) <= 1600  # one second, give or take a frame


# --- bad options ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "codes"), [
    (["--no-such-option"], (2,)),
    (["--instrument"], (2,)),  # an option without its value
    (["--seed", "ten"], (2,)),
    (["--seed", str(2**64)], (2, 3)),  # past what a generator can be seeded with
    (["--temperature", "nan"], (2, 3)),
], ids=["unknown-option", "missing-value", "seed-not-a-number", "seed-overflow", "nan-temperature"])
def test_bad_options_are_one_line_before_any_work(clips: Path, tmp_path: Path, options: list[str],
                                                  codes: tuple[int, ...]) -> None:
    """With the learned model (the one the sampling options are for); the clip shows nobody, so a bad option
    that was not refused up front would go unnoticed by a run that never samples."""
    out = out_folder(tmp_path)
    proc = fails_cleanly(out, codes, "generate", clips / "clip.mp4", "-o", out, "--allow-silence",
                         "--progress", "json", *options)
    assert "pose" not in progress_stages(proc.stdout)


# --- a full disk ----------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path):
    """`small_disk(kib)`: a tmpfs of that size, mounted for this test (root only), unmounted after it."""
    mounts: list[Path] = []

    def mount(kib: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs for the full-disk cases needs root")
        folder = tmp_path / f"disk-{kib}k"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0755", "foley-full-disk",
                               str(folder)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)


#: The 1.5 s clip's outputs: the WAV is 288 KB, the preview 207 KB, the rest a few KB.
@pytest.mark.parametrize(("kib", "extra"), [(128, ()), (384, ("--preview",))], ids=["no-room-for-wav",
                                                                                    "no-room-for-preview"])
def test_disk_full_leaves_the_previous_outputs(clips: Path, small_disk, kib: int, extra: tuple[str, ...]) -> None:
    out = out_folder(small_disk(kib), old_outputs=True)
    fails_cleanly(out, 5, "generate", clips / "clip.mp4", "-o", out, "--force", *extra, *RUN,
                  words=("No space left on device",))


def test_preview_that_cannot_be_written_leaves_the_previous_outputs(clips: Path, tmp_path: Path) -> None:
    """All or nothing includes the preview: here its name is taken by a folder, so it cannot be written."""
    out = out_folder(tmp_path, old_outputs=True)
    (out / "clip.preview.png").mkdir()
    (out / "clip.preview.png" / "keep.txt").write_text("a folder in the way\n")
    fails_cleanly(out, 5, "generate", clips / "clip.mp4", "-o", out, "--force", "--preview", *RUN)


# --- Ctrl-C ---------------------------------------------------------------------------------------------------

def interrupt(args: list[object], env: dict, wait_for, resume: Path | None = None
              ) -> tuple[subprocess.Popen, str, str]:
    """Start `foley`, wait until `wait_for(proc)` says the moment has come, then press Ctrl-C as a terminal does
    (SIGINT to the whole process group), and let a paused run go on (`resume`): an import held by the pause
    finishes, as a real one would, and the Ctrl-C held for its end is raised then."""
    proc = subprocess.Popen([str(FOLEY), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env}, start_new_session=True,
                            preexec_fn=as_a_terminal_starts_it)
    try:
        wait_for(proc)
        os.killpg(proc.pid, signal.SIGINT)
        if resume is not None:
            resume.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc, out, err


def wait_for_marker(marker: Path):
    def wait(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, f"foley exited {proc.returncode} before the moment: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "foley never reached the moment"
            time.sleep(0.02)
    return wait


def wait_for_pose(proc: subprocess.Popen) -> None:
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("stage") == "pose" and "frames" in event.get("message", ""):  # the workers are tracking
            return
    pytest.fail(f"foley exited {proc.wait()} before the pose stage: {proc.stderr.read()}")


@pytest.mark.parametrize("moment", ["import:foley_engine.cli", "import:foley_engine.pipeline", "pose", "sfload"])
def test_ctrl_c_exits_130_and_leaves_nothing(clips: Path, tmp_path: Path, pause_hook: Path, moment: str) -> None:
    """Early (the entry point importing the CLI; the CLI importing the engine), during pose, during synthesis."""
    out = out_folder(tmp_path, old_outputs=True)
    before = snapshot(out)
    cache = tmp_path / "cold-cache"  # pose really runs, and must not leave a partial cache entry
    marker = tmp_path / "paused"
    env = {"FOLEY_CACHE_DIR": str(cache), "FOLEY_FAULT_MARKER": str(marker),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(pause_hook), os.environ.get("PYTHONPATH")]))}
    resume = None
    if moment != "pose":
        resume = tmp_path / "resume"
        env |= {"FOLEY_FAULT_PAUSE": moment, "FOLEY_FAULT_RESUME": str(resume)}
    args = ["generate", clips / "clip.mp4", "-o", out, "--force", "--model", "baseline", "--allow-silence",
            "--progress", "json"]
    proc, _, stderr = interrupt(args, env, wait_for_pose if moment == "pose" else wait_for_marker(marker), resume)
    assert_one_line_error(subprocess.CompletedProcess(args, proc.returncode, "", stderr), 130, "cancelled")
    assert_untouched(out, before)
    if moment != "sfload":  # after pose, its finished cache entry may stay
        assert not cache.exists() or unfinished_work(cache) == []


# --- two runs into one folder ---------------------------------------------------------------------------------

def test_concurrent_runs_into_one_folder_one_wins_the_other_replaces_nothing(clips: Path, tmp_path: Path,
                                                                            pause_hook: Path) -> None:
    """Two clips with the same name (1.5 s and 1 s) race for the same outputs without --force. Each run is held
    at its synthesis, past the start's "does an output exist?" check, until both are there (or one has
    already been refused), so that they really race to put their files in place."""
    out = out_folder(tmp_path)
    resume = tmp_path / "go"
    runs = {}
    for number, video in enumerate((clips / "clip.mp4", clips / "other" / "clip.mp4")):
        marker = tmp_path / f"paused-{number}"
        env = {**os.environ, "FOLEY_FAULT_PAUSE": "sfload", "FOLEY_FAULT_MARKER": str(marker),
               "FOLEY_FAULT_RESUME": str(resume), "FOLEY_CACHE_DIR": str(tmp_path / f"cache-{number}"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(pause_hook), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen([str(FOLEY), "generate", str(video), "-o", str(out), *RUN, "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[video] = (proc, marker)
    deadline = time.monotonic() + 60  # then let them go anyway: a run may be waiting for the other one
    while time.monotonic() < deadline and not all(marker.exists() or proc.poll() is not None
                                                  for proc, marker in runs.values()):
        time.sleep(0.02)
    resume.touch()
    results = [(proc, *proc.communicate(timeout=120)) for proc, _ in runs.values()]
    codes = sorted(proc.returncode for proc, _, _ in results)
    assert codes == [0, 5], [(proc.returncode, err[-1500:]) for proc, _, err in results]
    (winner_out,) = [out_text for proc, out_text, _ in results if proc.returncode == 0]
    (loser_err,) = [err for proc, _, err in results if proc.returncode == 5]
    assert_one_line_error(subprocess.CompletedProcess([], 5, "", loser_err), 5, "exists")
    duration = json.loads(winner_out.strip().splitlines()[-1])["duration"]
    assert wav_frames(out / "clip.foley.wav") == round(duration * 48000)  # the winner's audio, not replaced
    assert sorted(p.name for p in out.iterdir()) == ["clip.foley.mid", "clip.foley.wav", "clip.keypoints.npz",
                                                      "notes.txt"]


# --- broken soundfonts ----------------------------------------------------------------------------------------

def broken_soundfont(kind: str, folder: Path, source: Path) -> Path:
    path = folder / f"{kind}.sf2"
    if kind == "truncated":  # a real GM soundfont cut short, like an interrupted download: the header is fine
        with source.open("rb") as file:
            path.write_bytes(file.read(256 * 1024))
    elif kind == "header-only":  # the RIFF/sfbk header, then garbage
        path.write_bytes(b"RIFF" + (1_000_000).to_bytes(4, "little") + b"sfbk" + b"\x00garbage" * 4000)
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(3).bytes(64 * 1024))
    else:
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("kind", ["truncated", "header-only", "garbage", "empty"])
def test_broken_soundfont_fails_before_pose(clips: Path, tmp_path: Path, gm_soundfont: Path, kind: str) -> None:
    out = out_folder(tmp_path)
    font = broken_soundfont(kind, tmp_path, gm_soundfont)
    proc = fails_cleanly(out, (3, 6), "generate", clips / "clip.mp4", "-o", out, "--soundfont", font,
                         "--model", "baseline", "--allow-silence", "--progress", "json", words=(font.name,))
    assert "pose" not in progress_stages(proc.stdout), "the soundfont is checked only after the pose stage"


# --- bad timelines --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["json-list", "empty-json-list", "list-of-timelines", "truncated-json",
                                  "not-json", "missing-media"])
def test_bad_timeline_is_refused_with_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.otio"
    if kind == "json-list":
        path.write_text("[1, 2]\n")
    elif kind == "empty-json-list":
        path.write_text("[]\n")
    elif kind == "list-of-timelines":
        path.write_text('[{"OTIO_SCHEMA": "Timeline.1"}, 2]\n')
    elif kind == "truncated-json":
        path.write_text('{"OTIO_SCHEMA": "Timeline.1", "name": "cut", "tracks": {"OTIO_SCHEMA": "Sta')
    elif kind == "not-json":
        path.write_text("TITLE: an EDL with the wrong name\n001  AX V C 00:00:00:00 00:00:01:00\n")
    else:
        gone = media(tmp_path / "gone.mp4", rate=30, seconds=2.0)
        otio.adapters.write_to_file(timeline("edit", video_track("V1", clip("gone", gone, 0.0, 24, 24))), str(path))
    out = out_folder(tmp_path)
    fails_cleanly(out, 3, "timeline", path, "-o", out / "edit.foley.otio",
                  words=("gone",) if kind == "missing-media" else (path.name,))
