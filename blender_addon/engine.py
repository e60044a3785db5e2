"""Finding and running the engine's `foley` command: a subprocess in the user's own environment.

Blender's Python has neither torch nor MediaPipe, so the add-on never imports the engine: it asks `foley info
--json` what the engine is (sample rate, defaults, models), starts `foley timeline … --progress json --json`
and reads the editor protocol's lines (foley_engine/protocol.py), one JSON object per line, told apart by their
"type": the summary line says what was made for each strip, an error line why nothing was (the one line the
engine would print on stderr, which the add-on therefore does not read). A reader thread drains stdout, so
polling from a modal timer never blocks the UI. Cancel sends Ctrl-C to the engine's whole process group (its
workers too), the way a terminal would, and kills what is left after a grace period.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXECUTABLE = "foley.exe" if sys.platform == "win32" else "foley"
BIN = "Scripts" if sys.platform == "win32" else "bin"
#: Where a user following the README most likely created the engine's environment.
COMMON_VENVS = ("~/.venvs/foley", "~/.local/share/foley/venv", "~/foley/.venv", "~/Foley/.venv", "~/.foley/venv")
#: Environment that belongs to Blender's Python and would break the engine's own interpreter.
BLENDER_ONLY_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE")
CANCEL_GRACE_SECONDS = 5.0
#: The editor protocol version this add-on reads; an engine that speaks another one is refused in one line.
PROTOCOL = 1


class UserError(Exception):
    """The add-on's one exception: a problem the user can fix, told in one sentence through `Operator.report`."""


class EngineMissing(UserError):
    """No usable `foley` command; the message tells the user how to point the add-on at one."""


def _executable_in(path: Path) -> Path | None:
    """`path` itself when it is the command, else the command inside a venv (or its bin folder)."""
    for candidate in (path, path / EXECUTABLE, path / BIN / EXECUTABLE):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_engine(preference: str = "", environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
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


@dataclass(frozen=True)
class EngineInfo:
    """What `foley info --json` says about an engine: everything the add-on would otherwise have to assume."""

    data: dict

    @property
    def defaults(self) -> dict:
        """The engine's value of every generator option the user leaves alone (instrument, model, seed, ...)."""
        return dict(self.data["defaults"])

    @property
    def instruments(self) -> list[str]:
        return [str(row["name"]) for row in self.data["instruments"]]

    @property
    def models(self) -> list[dict]:
        """The named models ({name, label, description, sampling}), the engine's default first."""
        default = self.defaults.get("model")
        return sorted(self.data["models"], key=lambda model: model["name"] != default)

    def samples(self, model: str) -> bool:
        """Whether seed and temperature vary `model`'s notes (a checkpoint file: a learned model, so yes)."""
        return next((bool(named["sampling"]) for named in self.data["models"] if named["name"] == model), True)


_INFO_CACHE: dict[tuple[str, float], EngineInfo] = {}


def engine_info(engine: Path) -> EngineInfo:
    """`foley info --json`, cached per executable version (its mtime); UserError in one sentence when the engine
    does not answer it (an engine older than the add-on) or speaks another protocol."""
    key = (str(engine), engine.stat().st_mtime)
    if key in _INFO_CACHE:
        return _INFO_CACHE[key]
    try:
        done = subprocess.run([str(engine), "info", "--json"], capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=120, env=engine_environment(), check=False)
    except (OSError, subprocess.SubprocessError) as error:
        raise UserError(f"Cannot run the Foley engine {engine}: {error}") from None
    lines = [_json_object(line) for line in done.stdout.splitlines()]
    info = next((line for line in reversed(lines) if line.get("type") == "info"), None)
    if info is None:
        raise UserError(f"The Foley engine {engine} is older than this add-on (it has no `foley info`): update it "
                        "with pip install -U foley")
    if info.get("protocol") != PROTOCOL:
        newer = isinstance(info.get("protocol"), int) and info["protocol"] > PROTOCOL
        raise UserError(f"The Foley engine {engine} speaks editor protocol {info.get('protocol')}, this add-on "
                        f"{PROTOCOL}: update the {'add-on' if newer else 'engine'}")
    _INFO_CACHE[key] = EngineInfo(info)
    return _INFO_CACHE[key]


def _json_object(line: str) -> dict:
    """A line of the engine's stdout as a JSON object; {} for anything else (a library's banner)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def missing_foley(summary: dict) -> list[str]:
    """Why each strip got no foley, one sentence each, from the summary's clip codes: the engine's `detail` is
    its reason without command-line advice (the add-on has no --allow-silence to offer)."""
    return [f"No foley for strip '{row.get('name')}': {row.get('detail') or row.get('reason') or row.get('code')}"
            for row in summary.get("clips", []) if row.get("code") != "ok"]


def foley_sounds(summary: dict, stems: bool) -> dict[str, list[dict]]:
    """What the summary's clip rows say was made for each strip (the add-on names every clip after its strip):
    the mix as performer 0, or with --stems each performer's own, left to right, as {performer, instrument,
    notes, wav}. Strips without foley are left out (`missing_foley` says why)."""
    found = {}
    for row in summary.get("clips", []):
        if row.get("code") == "ok":
            mix = {"performer": 0, "instrument": row["instrument"], "notes": row.get("notes", 0), "wav": row["wav"]}
            sounds = row.get("performers", []) if stems else [mix]
            if sounds:
                found[str(row["name"])] = sounds
    return found


def engine_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in BLENDER_ONLY_ENV}


@dataclass
class EngineJob:
    """One `foley timeline` subprocess of an engine `engine_info` accepted: `start()`, then `poll()` from a timer,
    `cancel()` from anywhere."""

    engine: Path
    args: list[str]
    summary: dict | None = None  # the summary line (`--json`)
    error: str = ""  # the engine's own one-line error (its error line), if it reported one
    cancelled: bool = False
    process: subprocess.Popen | None = None
    returncode: int | None = None  # set once the engine has exited and its output is read

    def __post_init__(self) -> None:
        self._events: deque[dict] = deque()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _start(self) -> None:
        """The engine in a process group of its own (cancel reaches its workers), unless cancelled first."""
        command = [str(self.engine), "timeline", *self.args]
        group: dict[str, Any] = {"start_new_session": True}
        if sys.platform == "win32":
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        with self._lock:
            if self.cancelled:
                return
            try:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    encoding="utf-8", errors="replace", bufsize=1, env=engine_environment(), **group)
            except (OSError, subprocess.SubprocessError) as error:
                raise UserError(f"cannot start the Foley engine {self.engine}: {error}") from None

    def _run(self) -> None:
        try:
            self._start()
        except UserError as error:  # it does not start
            self.error = str(error)
        if self.process is None or self.process.stdout is None:
            self.returncode = -1
            return
        for event in map(_json_object, self.process.stdout):
            if not event:
                continue  # a library's banner, not ours
            if event.get("type") == "error":
                self.error = str(event.get("message", ""))
            elif event.get("type") == "summary":
                self.summary = event
            self._events.append(event)
        self.returncode = self.process.wait()

    def poll(self) -> list[dict]:
        """Progress events since the last call; never blocks (a deque's append and popleft are thread-safe)."""
        return [self._events.popleft() for _ in range(len(self._events))]

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the engine is done (for scripts and background mode); False on timeout."""
        self._thread.join(timeout)
        return self.done

    def failure(self) -> str:
        """One sentence for the user: the engine's own error line (every failure of `foley` itself ends with one),
        else its exit status (it was killed)."""
        return self.error or f"the engine stopped with exit code {self.returncode}"

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
    """Workers inherit the engine's pipes: end them too, or they outlive it and the reader never finishes."""
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False)
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
