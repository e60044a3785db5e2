"""Finding and running the engine's `foley` command: a subprocess in the user's own environment.

Blender's Python has neither torch nor MediaPipe, so the add-on never imports the engine: it starts
`foley timeline … --progress json --json` and reads one JSON object per line. A reader thread drains the
pipes, so polling from a modal timer never blocks the UI. Cancel sends Ctrl-C to the engine's whole process
group (its workers too), the way a terminal would, and kills what is left after a grace period.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

EXECUTABLE = "foley.exe" if sys.platform == "win32" else "foley"
BIN = "Scripts" if sys.platform == "win32" else "bin"
#: Where a user following the README most likely created the engine's environment.
COMMON_VENVS = ("~/.venvs/foley", "~/.local/share/foley/venv", "~/foley/.venv", "~/Foley/.venv", "~/.foley/venv")
#: Environment that belongs to Blender's Python and would break the engine's own interpreter.
BLENDER_ONLY_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE")
CANCEL_GRACE_SECONDS = 5.0


class EngineMissing(UserError):
    """No usable `foley` command; the message tells the user how to point the add-on at one."""


def _executable_in(path: Path) -> Path | None:
    """`path` itself when it is the command, else the command inside a venv (or its bin folder)."""
    for candidate in (path, path / EXECUTABLE, path / BIN / EXECUTABLE):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_engine(preference: str = "", environ: dict[str, str] | None = None) -> tuple[Path, str]:
    """The `foley` command and where it was found: preference > $FOLEY_ENGINE > PATH > common venvs."""
    environ = os.environ if environ is None else environ
    for value, origin in ((preference, "add-on preferences"), (environ.get("FOLEY_ENGINE", ""), "FOLEY_ENGINE")):
        if value.strip():
            found = _executable_in(Path(value.strip()).expanduser())
            if found is None:
                raise EngineMissing(f"The Foley engine set in {origin} is not a foley command or environment: "
                                    f"{value.strip()}")
            return found, origin
    on_path = shutil.which("foley", path=environ.get("PATH"))
    if on_path:
        return Path(on_path), "PATH"
    for venv in COMMON_VENVS:
        found = _executable_in(Path(venv).expanduser())
        if found is not None:
            return found, venv
    raise EngineMissing("Foley engine not found: install it (pip install foley) and set its path in "
                        "Preferences > Add-ons > Foley, or set FOLEY_ENGINE")


_HELP_CACHE: dict[tuple[str, float], str] = {}


def timeline_help(engine: Path) -> str:
    """`foley timeline --help`, cached per executable version (its mtime): tells which options it has."""
    key = (str(engine), engine.stat().st_mtime)
    if key not in _HELP_CACHE:
        done = subprocess.run([str(engine), "timeline", "--help"], capture_output=True, text=True, timeout=60,
                              env=engine_environment(), check=False)
        _HELP_CACHE[key] = done.stdout
    return _HELP_CACHE[key]


def engine_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in BLENDER_ONLY_ENV}


@dataclass
class EngineJob:
    """One `foley timeline` subprocess: `start()`, then `poll()` from a timer, `cancel()` from anywhere.

    `optional` options (e.g. --temperature) are passed only when this engine's help lists them; the help is
    read in the job's thread, like everything else that may take a moment.
    """

    engine: Path
    args: list[str]
    optional: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # optional options this engine does not have
    summary: dict | None = None  # the final `--json` object
    error: str = ""  # the engine's own one-line error, if it reported one
    stderr: deque = field(default_factory=lambda: deque(maxlen=20))
    cancelled: bool = False
    process: subprocess.Popen | None = None
    returncode: int | None = None  # set once the engine has exited and its output is read

    def __post_init__(self) -> None:
        self._events: queue.Queue[dict] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _command(self) -> list[str]:
        available = timeline_help(self.engine)
        command = [str(self.engine), "timeline", *self.args]
        for option, value in self.optional.items():
            if option in available:
                command += [option, value]
            else:
                self.ignored.append(option)
        return command

    def _run(self) -> None:
        try:
            command = self._command()
            with self._lock:
                if self.cancelled:
                    self.returncode = -1
                    return
                group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32"
                         else {"start_new_session": True})
                self.process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    encoding="utf-8", errors="replace", bufsize=1, env=engine_environment(), **group)
        except (OSError, subprocess.SubprocessError) as error:
            self.error = f"cannot start the Foley engine {self.engine}: {error}"
            self.returncode = -1
            return
        stderr = threading.Thread(target=self._read_stderr, daemon=True)
        stderr.start()
        self._read_stdout()
        stderr.join()
        self.returncode = self.process.wait()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a library's banner, not ours
            if not isinstance(event, dict):
                continue
            if event.get("type") == "error":
                self.error = str(event.get("message", ""))
            elif "type" not in event and "status" in event:
                self.summary = event
            self._events.put(event)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            if line.strip():
                self.stderr.append(line.rstrip())

    def poll(self) -> list[dict]:
        """Progress events since the last call; never blocks."""
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the engine is done (for scripts and background mode); False on timeout."""
        self._thread.join(timeout)
        return self.done

    def failure(self) -> str:
        """One sentence for the user: the engine's own error line, else the last line it printed."""
        if self.error:
            return self.error
        lines = [line.removeprefix("foley: error: ") for line in self.stderr]
        return lines[-1] if lines else f"the engine stopped with exit code {self.returncode}"

    def cancel(self, grace: float = CANCEL_GRACE_SECONDS) -> None:
        """Ctrl-C to the engine and its workers so they clean up, then end whatever is still running."""
        with self._lock:
            self.cancelled = True
            process = self.process
        if process is not None:
            if process.poll() is None:
                try:
                    if sys.platform == "win32":
                        process.send_signal(signal.CTRL_BREAK_EVENT)
                    else:
                        os.killpg(process.pid, signal.SIGINT)
                    process.wait(grace)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    pass
            _kill_group(process)
        if self._thread.ident is not None:
            self._thread.join()


def _kill_group(process: subprocess.Popen) -> None:
    """Workers inherit the engine's pipes: end them too, or they outlive it and the readers never finish."""
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False)
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
