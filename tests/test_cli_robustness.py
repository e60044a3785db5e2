"""The `foley` command keeps the README's promise when pushed (issue 16): Ctrl-C or SIGTERM at any moment, odd
option values, odd timeline files, bad command lines and internal failures all end as one line on stderr
(`foley: error: …`), the documented exit code, the JSON error line under `--progress json`, and nothing left
behind: no output, no temp folder, no process.

The clips are made here (tests/media.py) and show nobody; each run takes a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio
import pytest
from conftest import as_a_terminal_starts_it, unfinished_work
from media import make_video
from timelines import clip, media, timeline, video_track

from foley_engine import cli
from foley_engine.errors import InputError
from foley_engine.options import GeneratorOptions

#: sitecustomize for the Ctrl-C runs: when the run imports FOLEY_TEST_PAUSE_IMPORT, the import waits inside
#: native code that calls back into Python and cannot pass an exception on (a ctypes callback here; torch's and
#: pybind11's C++ start-up in real life, which swallow a KeyboardInterrupt, turn it into ImportError or abort
#: the process), until the test has pressed Ctrl-C and creates FOLEY_TEST_GO.
PAUSE_HOOK = '''
import ctypes, os, sys, time

_name = os.environ.get("FOLEY_TEST_PAUSE_IMPORT", "")
_marker, _go = os.environ.get("FOLEY_TEST_MARKER", ""), os.environ.get("FOLEY_TEST_GO", "")


@ctypes.CFUNCTYPE(None)
def _wait_in_native_code():
    open(_marker, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(_go) and time.monotonic() < deadline:
        time.sleep(0.01)


class _PauseInImport:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == _name:
            sys.meta_path.remove(_PauseInImport)
            _wait_in_native_code()
        return None


if _name and not os.path.exists(_marker):
    sys.meta_path.insert(0, _PauseInImport)
'''


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=2.0, rate=30, size=(160, 120))


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """A cold keypoint cache and a temp folder of the run's own, so leftovers can be seen."""
    (tmp_path / "tmp").mkdir()
    return {**os.environ, "FOLEY_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp")}


def start(args: list[object], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "foley_engine", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=as_a_terminal_starts_it)


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    """Its output once it has exited; whatever of its process group is still running then is killed."""
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def group_is_gone(proc: subprocess.Popen) -> bool:
    """True when no process of the run (its pose workers, its clip workers) outlived it. multiprocessing's
    resource tracker leaves by itself when it sees the run's end, which may take it a moment."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"foley exited {proc.returncode} before {what}: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, f"foley never reached {what}"
        time.sleep(0.02)


def wait_for_pose(proc: subprocess.Popen) -> None:
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("stage") == "pose" and "frames" in event.get("message", ""):  # the workers are tracking
            return
    pytest.fail(f"foley exited {proc.wait()} before the pose stage: {proc.stderr.read()[-2000:]}")


def one_line(stderr: str, *words: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foley: error: "), stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def assert_clean_cancel(proc: subprocess.Popen, stdout: str, stderr: str, code: int, out: Path,
                        tmp: Path) -> None:
    assert proc.returncode == code, (proc.returncode, stderr[-3000:])
    message = one_line(stderr, "no partial files were left")
    last = json.loads(stdout.strip().splitlines()[-1])
    assert last == {"type": "error", "protocol": 1, "message": message.removeprefix("foley: error: "),
                    "exit_code": code, "code": {130: "cancelled", 143: "terminated"}[code]}
    assert not out.exists() or list(out.iterdir()) == []
    assert list(tmp.iterdir()) == []  # the pose stage's scratch folder went with it
    assert group_is_gone(proc)


# --- Ctrl-C and SIGTERM -----------------------------------------------------------------------------------------

#: Makes every temp file Python's tempfile creates, then stops there as a Ctrl-C landing at that moment would.
STOP_AT_TEMP_FILE_HOOK = '''
import tempfile

_make = tempfile._mkstemp_inner


def _made_then_stopped(*args, **kwargs):
    _make(*args, **kwargs)
    raise KeyboardInterrupt


tempfile._mkstemp_inner = _made_then_stopped
'''


def test_a_pose_worker_starting_makes_no_temp_file_a_stop_could_leave(tmp_path: Path,
                                                                      run_env: dict[str, str]) -> None:
    """Ctrl-C during the pose stage left a tmpXXXXXXXX file in TMPDIR once in a full run: a worker still
    starting was importing MediaPipe, whose audio tasks import sounddevice, which looks for PortAudio by
    running gcc and ld on temp files. A worker now makes no temp file as it loads its models, so a stop there
    has nothing to leave."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(STOP_AT_TEMP_FILE_HOOK)
    env = run_env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "hook"), run_env.get("PYTHONPATH")]))}
    loads = ("from foley_engine.pose.people import PeopleDetector, still_finder\n"
             "from foley_engine.pose.mediapipe_runner import HandFinder\n"
             "from foley_engine.pose.extract import PoseSettings\n"
             "PeopleDetector(2, 0.5, 0.5, still_finder(0.5)).close()\n"
             "HandFinder(PoseSettings())._model(2)\n")
    run = subprocess.run([sys.executable, "-c", loads], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("moment", ["torch", "av", "pose"])
def test_ctrl_c_at_any_moment_of_generate_is_a_clean_cancel(video: Path, tmp_path: Path, run_env: dict[str, str],
                                                            moment: str) -> None:
    """While the learned model's torch is imported (where the abort was reported), while PyAV is, and while the
    pose workers track: exit 130, one line, the JSON error line, nothing left."""
    out, marker, go = tmp_path / "out", tmp_path / "paused", tmp_path / "go"
    env = dict(run_env)
    if moment != "pose":
        (tmp_path / "hook").mkdir()
        (tmp_path / "hook" / "sitecustomize.py").write_text(PAUSE_HOOK)
        env |= {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "hook"), env.get("PYTHONPATH")])),
                "FOLEY_TEST_PAUSE_IMPORT": moment, "FOLEY_TEST_MARKER": str(marker), "FOLEY_TEST_GO": str(go)}
    proc = start(["generate", video, "-o", out, "--variations", "4", "--progress", "json"], env)
    try:
        if moment == "pose":
            wait_for_pose(proc)
        else:
            wait_until(marker.exists, proc, f"the import of {moment}")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        go.touch()
    finally:
        stdout, stderr = finish(proc)
    assert_clean_cancel(proc, stdout, stderr, 130, out, tmp_path / "tmp")


def test_sigterm_is_a_clean_cancel(video: Path, tmp_path: Path, run_env: dict[str, str]) -> None:
    """SIGTERM (kill, a process manager, an editor stopping the job) to foley alone, while pose workers run."""
    out = tmp_path / "out"
    proc = start(["generate", video, "-o", out, "--model", "baseline", "--progress", "json"], run_env)
    try:
        wait_for_pose(proc)
        proc.terminate()
    finally:
        stdout, stderr = finish(proc)
    assert_clean_cancel(proc, stdout, stderr, 143, out, tmp_path / "tmp")
    assert "SIGTERM" in stderr


@pytest.mark.parametrize("target", ["foley", "group"])
def test_cancelled_timeline_stops_its_running_clips(tmp_path: Path, run_env: dict[str, str], target: str) -> None:
    """Stopping `foley timeline` (SIGINT to foley, as an editor does, or Ctrl-C in a terminal) stops the clips
    that are running instead of letting them, and the queued ones, finish: no clip's pose gets as far as its
    keypoint cache entry."""
    rate = 30
    clips = []
    for number, seconds in enumerate((8.0, 7.5, 7.0, 6.5)):
        path = make_video(tmp_path / f"take{number}.mp4", seconds=seconds, rate=rate, size=(160, 120))
        clips.append(clip(f"take{number}", media(path, rate, seconds), 0.0, round(seconds * rate), rate))
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline("edit", video_track("V1", *clips), rate=rate), str(edit))
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    proc = start(["timeline", edit, "-o", out / "edit.foley.otio", "--model", "baseline", "--allow-silence",
                  "--jobs", "2", "--progress", "json"], run_env)
    try:
        wait_until(lambda: any(path.name.startswith("foley-pose-") for path in tmp.iterdir()), proc,
                   "the clips' pose stage")
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
    finally:
        stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr[-3000:]
    one_line(stderr, "cancelled")
    assert json.loads(stdout.strip().splitlines()[-1])["exit_code"] == 130
    assert not out.exists() or list(out.iterdir()) == []
    assert [path.name for path in tmp.iterdir() if path.name.startswith("foley-pose-")] == []
    cache = tmp_path / "cache"
    assert not cache.exists() or unfinished_work(cache) == []
    assert group_is_gone(proc)


def interrupting_module(folder: Path, name: str, presses: int) -> None:
    """A module that presses Ctrl-C `presses` times while it is being imported, and then finishes."""
    (folder / f"{name}.py").write_text("import os, signal, time\n"
                                       f"for _ in range({presses}):\n"
                                       "    os.kill(os.getpid(), signal.SIGINT)\n"
                                       "    time.sleep(0.05)\n"
                                       "FINISHED = True\n")


def test_ctrl_c_during_an_import_is_raised_once_the_import_is_over(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from foley_engine.interrupts import CancelSignals

    interrupting_module(tmp_path, "held_once", presses=1)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "held_once", raising=False)
    with CancelSignals({signal.SIGINT: KeyboardInterrupt}) as signals, pytest.raises(KeyboardInterrupt):
        import held_once  # noqa: F401
        for _ in range(500):  # the held Ctrl-C arrives in here
            time.sleep(0.01)
    assert sys.modules["held_once"].FINISHED and signals.received == signal.SIGINT


def test_a_second_ctrl_c_during_an_import_is_raised_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foley_engine.interrupts import CancelSignals

    interrupting_module(tmp_path, "pressed_twice", presses=2)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pressed_twice", raising=False)
    with CancelSignals({signal.SIGINT: KeyboardInterrupt}), pytest.raises(KeyboardInterrupt):
        import pressed_twice  # noqa: F401
    assert "pressed_twice" not in sys.modules  # cut short, as the user insisted


# --- option values ----------------------------------------------------------------------------------------------

def foley(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def edit(tmp_path_factory: pytest.TempPathFactory, video: Path) -> Path:
    path = tmp_path_factory.mktemp("edit") / "edit.otio"
    otio.adapters.write_to_file(timeline("edit", video_track("V1", clip("take", media(video, 30, 2.0), 0.0, 24,
                                                                         24))), str(path))
    return path


@pytest.mark.parametrize(("option", "value"), [
    ("--seed", "10000000000000000000000000"), ("--seed", str(2**63)), ("--seed", "-1"),
    ("--temperature", "nan"), ("--temperature", "inf"), ("--top-p", "nan"), ("--top-p", "-inf"),
    ("--start", "nan"), ("--end", "inf"),
])
def test_out_of_range_and_non_finite_values_are_refused_before_any_work(
        capsys: pytest.CaptureFixture, tmp_path: Path, video: Path, edit: Path, option: str, value: str) -> None:
    out = tmp_path / "out"
    code, _, err = foley(capsys, "generate", video, "-o", out, f"{option}={value}")  # "-inf" would be an option
    assert code == 2, err
    one_line(err, f"argument {option}:", repr(value), "(see foley generate --help)")
    if option not in ("--start", "--end"):  # the generator options are the same in `foley timeline`
        code, _, err = foley(capsys, "timeline", edit, "-o", out / "edit.foley.otio", f"{option}={value}")
        assert code == 2, err
        one_line(err, f"argument {option}:", "(see foley timeline --help)")
    assert not out.exists()


def test_the_largest_seed_is_accepted_and_the_api_refuses_non_finite_sampling() -> None:
    from foley_engine.options import MAX_SEED

    args = cli.build_parser(["generate"]).parse_args(["generate", "clip.mp4", "--seed", str(MAX_SEED)])
    assert args.seed == MAX_SEED == 2**63 - 1
    for options in ({"temperature": float("nan")}, {"temperature": float("inf")}, {"top_p": float("nan")}):
        with pytest.raises(InputError, match="temperature must be >= 0 and finite|top-p must be in"):
            GeneratorOptions(**options)


# --- timeline files that hold something else --------------------------------------------------------------------

@pytest.mark.parametrize(("content", "kind"), [
    ("[]", "JSON list"), ("[1, 2]", "JSON list"), ("{}", "JSON object"), ('{"a": 1}', "JSON object"),
    ("null", "JSON null"), ("3", "JSON number"), ('"edit"', "JSON string"),
])
def test_otio_file_holding_plain_json_is_bad_input(capsys: pytest.CaptureFixture, tmp_path: Path, content: str,
                                                   kind: str) -> None:
    path = tmp_path / "odd.otio"
    path.write_text(content)
    code, _, err = foley(capsys, "timeline", path, "-o", tmp_path / "out.otio")
    assert code == 3, err
    one_line(err, f"odd.otio holds a {kind}, not a timeline")


def test_otio_file_holding_a_track_or_a_collection(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                   edit: Path) -> None:
    """A bare Track is refused by name; a SerializableCollection holding one timeline is that timeline."""
    track = tmp_path / "track.otio"
    otio.adapters.write_to_file(otio.schema.Track(name="V1"), str(track))
    code, _, err = foley(capsys, "timeline", track, "-o", tmp_path / "out.otio")
    assert code == 3, err
    one_line(err, "track.otio holds a Track, not a timeline")
    bin_ = tmp_path / "bin.otio"
    otio.adapters.write_to_file(otio.schema.SerializableCollection(
        name="bin", children=[otio.adapters.read_from_file(str(edit))]), str(bin_))
    code, out, err = foley(capsys, "timeline", bin_, "-o", tmp_path / "out.otio", "--dry-run", "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["planned"] == 1


# --- usage errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (["generate", "clip.mp4", "--end", "abc"],
     "foley: error: argument --end: invalid float value: 'abc' (see foley generate --help)"),
    (["generate", "clip.mp4", "--no-such-option"],
     "foley: error: unrecognized arguments: --no-such-option (see foley --help)"),
    (["generate"], "foley: error: the following arguments are required: video (see foley generate --help)"),
    ([], "foley: error: the following arguments are required: COMMAND (see foley --help)"),
    (["frobnicate"], "foley: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["timeline", "edit.otio"],
     "foley: error: the following arguments are required: -o/--output (see foley timeline --help)"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture, args: list[str], expected: str) -> None:
    code, out, err = foley(capsys, *args)
    assert code == 2 and out == "", (code, out, err)
    assert one_line(err).startswith(expected), err


@pytest.mark.parametrize("progress", [["--progress", "json"], ["--progress=json"], ["--prog", "json"]])
def test_usage_errors_reach_editors_as_a_json_error_line(capsys: pytest.CaptureFixture, progress: list[str]) -> None:
    code, out, err = foley(capsys, "generate", "clip.mp4", *progress, "--end", "abc")
    assert code == 2
    assert json.loads(out) == {"type": "error", "protocol": 1, "exit_code": 2, "code": "usage",
                               "message": "argument --end: invalid float value: 'abc' (see foley generate --help)"}
    one_line(err, "--end")


def test_usage_error_from_the_real_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "foley_engine", "generate", "clip.mp4", "--end", "abc",
                           "--progress", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    one_line(proc.stderr, "argument --end: invalid float value: 'abc'")
    assert json.loads(proc.stdout)["exit_code"] == 2


# --- internal errors --------------------------------------------------------------------------------------------

def test_internal_error_is_one_line_naming_a_log_with_the_whole_report(
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path) -> None:
    """A worker's failure carries its own traceback in its message; the terminal gets the first line, the log
    both tracebacks."""
    def crash(args: object) -> int:
        raise RuntimeError("pose worker failed (exit code -6):\nterminate called after throwing an instance of "
                           "'pybind11::error_already_set'\n  what():  KeyboardInterrupt")

    monkeypatch.setattr(cli, "_cmd_instruments", crash)
    monkeypatch.delenv("FOLEY_DEBUG", raising=False)
    code, _, err = foley(capsys, "instruments")
    assert code == 1
    line = one_line(err, "internal error: RuntimeError: pose worker failed (exit code -6):")
    log = Path(line.rsplit("full report: ", 1)[1].rstrip(")"))
    assert log.parent == isolated_cache / "logs"
    report = log.read_text()
    assert "Traceback (most recent call last)" in report and "in crash" in report
    assert "what():  KeyboardInterrupt" in report and "instruments" in report


def test_multi_line_messages_never_reach_the_terminal_as_several_lines(
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path) -> None:
    def refuse(args: object) -> int:
        raise InputError("the clip cannot be read:\n  moov atom not found\n  (ffmpeg said more)")

    monkeypatch.setattr(cli, "_cmd_instruments", refuse)
    code, _, err = foley(capsys, "instruments")
    assert code == 3
    line = one_line(err, "the clip cannot be read:", "details: ")
    log = Path(line.rsplit("details: ", 1)[1].rstrip(")"))
    assert "moov atom not found" in log.read_text() and "(ffmpeg said more)" in log.read_text()
