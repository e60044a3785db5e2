"""Running the engine: `foley timeline` as a subprocess of the user's engine environment, JSON in and out.

The engine is found as $FOLEY_ENGINE, else the path `foley install-resolve-script` recorded, else `foley` on
PATH. `foley info --json` says what it is (instruments, models, defaults); then the editor protocol's lines
(foley_engine/protocol.py, told apart by their "type") drive the run: progress lines become progress callbacks,
and the summary lists every clip with its place on the timeline (relative to the timeline start, in timeline
frames), its WAV, or the code of why it has none, which is all the script needs to lay the audio down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import FoleyScriptError

Progress = Callable[[float, str], None]

#: Set by Resolve's embedded Python; they would make the engine's own Python load Resolve's libraries.
EMBEDDED_PYTHON_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__")
#: No console window flashing up on Windows while the engine runs.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
#: The editor protocol version this script reads; an engine that speaks another one is refused in one line.
PROTOCOL = 1
#: Resolve reports NTSC rates rounded; the engine's frames are counted at the exact rate.
NTSC_RATES = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 47.952: Fraction(48000, 1001),
              59.94: Fraction(60000, 1001), 119.88: Fraction(120000, 1001)}


@dataclass(frozen=True)
class FoleyClip:
    """One rendered WAV and where it goes: record frames, timeline start included."""

    wav: Path
    record: int
    frames: int
    performer: int = 0  # 0: the mix of all performers; with --stems, whose sound it is (1 = leftmost)

    @property
    def end(self) -> int:
        return self.record + self.frames


def find_engine(configured: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> str:
    """The `foley` executable to run; a clear error naming every place looked at when there is none."""
    env = dict(os.environ if env is None else env)
    if env.get("FOLEY_ENGINE"):
        if os.path.isfile(env["FOLEY_ENGINE"]) and os.access(env["FOLEY_ENGINE"], os.X_OK):
            return env["FOLEY_ENGINE"]
        raise FoleyScriptError(f"FOLEY_ENGINE={env['FOLEY_ENGINE']} is not an executable `foley` command")
    if configured and os.path.isfile(configured):
        return configured
    on_path = shutil.which("foley", path=env.get("PATH"))
    if on_path:
        return on_path
    tried = [f"recorded at install: {configured}"] if configured else []
    raise FoleyScriptError("cannot find the Foley engine (" + "; ".join(tried + ["not on PATH"]) + "): run "
                           "`foley install-resolve-script` from the engine's environment, or set FOLEY_ENGINE to "
                           "its `foley` command")


def engine_env() -> Dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in EMBEDDED_PYTHON_ENV}


def _json_object(line: str) -> Dict[str, Any]:
    """A line of the engine's stdout as a JSON object; {} for anything else (a stray print)."""
    try:
        data = json.loads(line)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def engine_info(engine: str) -> Dict[str, Any]:
    """`foley info --json`: the engine's instruments, named models and defaults. An engine without it (older
    than this script) or speaking another protocol is a FoleyScriptError that says what to update."""
    try:
        done = subprocess.run([engine, "info", "--json"], capture_output=True, env=engine_env(), text=True,
                              encoding="utf-8", timeout=120, creationflags=NO_WINDOW)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FoleyScriptError(f"the Foley engine {engine} does not answer `foley info`: {error}") from None
    lines = [_json_object(line) for line in reversed(done.stdout.splitlines())]
    info = next((data for data in lines if data.get("type") == "info"), None)
    if info is None:
        raise FoleyScriptError(f"the Foley engine {engine} is older than this script (it has no `foley info`): "
                               "update it (pip install -U foley), then run `foley install-resolve-script` again")
    if info.get("protocol") != PROTOCOL:
        newer = isinstance(info.get("protocol"), int) and info["protocol"] > PROTOCOL
        raise FoleyScriptError(f"the Foley engine {engine} speaks editor protocol {info.get('protocol')}, this "
                               f"script {PROTOCOL}: " + ("run `foley install-resolve-script` from it again" if newer
                                                         else "update the engine (pip install -U foley)"))
    return info


def instruments(info: Dict[str, Any]) -> List[str]:
    """The engine's instrument names, in its order, for the dialog."""
    return [str(row["name"]) for row in info["instruments"]]


def model_names(info: Dict[str, Any]) -> List[str]:
    """The engine's named models; any other --model value is a checkpoint's path."""
    return [str(model["name"]) for model in info["models"]]


def run_timeline(engine: str, selection: Path, output: Path, instrument: str,
                 progress: Optional[Progress] = None, options: Sequence[str] = ()) -> Dict[str, Any]:
    """`foley timeline` on the selection; returns its JSON summary or raises with the engine's own message (its
    error line; its stderr goes to engine.log beside the output).

    `options` are more engine flags (the note generator's: --model, --seed, ...), passed as they are."""
    run_dir = Path(output).parent
    command = [engine, "timeline", str(selection), "-o", str(output), "--media-dir", str(run_dir),
               "--instrument", instrument, *options, "--progress", "json", "--json"]
    log = run_dir / "engine.log"
    summary: Optional[Dict[str, Any]] = None
    error = ""
    with open(log, "w", encoding="utf-8") as stderr:
        try:
            process = subprocess.Popen(command, cwd=str(run_dir), stdout=subprocess.PIPE, stderr=stderr,
                                       env=engine_env(), text=True, encoding="utf-8", creationflags=NO_WINDOW)
        except OSError as failure:
            raise FoleyScriptError(f"cannot start the Foley engine {engine}: {failure.strerror or failure}") from None
        for line in process.stdout or ():  # one JSON object per line; anything else is a stray print
            data = _json_object(line)
            if data.get("type") == "progress" and progress is not None:
                progress(float(data.get("overall", 0.0)), str(data.get("message", "")))
            elif data.get("type") == "error":
                error = str(data.get("message", ""))
            elif data.get("type") == "summary":
                summary = data
        code = process.wait()
    if code != 0 or error or summary is None:
        raise FoleyScriptError(f"the Foley engine failed: {error or f'exit code {code}'} (nothing was changed in "
                               f"Resolve; engine log: {log})")
    return summary


def exact_rate(fps: float) -> Fraction:
    return NTSC_RATES.get(round(fps, 3), Fraction(fps).limit_denominator(1001))


def parse_rate(setting: str) -> float:
    """A frame rate from Resolve's "timelineFrameRate" setting ("24", "29.97", "59.94 DF", ...)."""
    try:
        return float(str(setting).split()[0])
    except (IndexError, ValueError):
        raise FoleyScriptError(f"cannot read the timeline's frame rate from {setting!r}") from None


def _frames(value: float, rate: float, fps: float) -> int:
    """An engine frame count at `rate` in timeline frames; the same number when the rates agree."""
    return int(round(Fraction(value) * exact_rate(fps) / exact_rate(rate)))


def foley_clips(summary: Dict[str, Any], start_frame: int, fps: float, base: Path) -> List[FoleyClip]:
    """The rendered clips of a `--json` summary, each at the timeline start plus its place in the timeline: the
    mix, or with `foley timeline --stems` each performer's WAV (the row's "stems", left to right)."""
    clips = []
    for row in summary.get("clips", []):
        if row.get("status") != "ok":
            continue
        place = row["timeline"]
        record = start_frame + _frames(place["start"], place["rate"], fps)
        frames = _frames(place["duration"], place["rate"], fps)
        wavs = list(enumerate(row["stems"], 1)) if "stems" in row else [(0, row["wav"])]
        clips += [FoleyClip(Path(base, wav), record, frames, performer) for performer, wav in wavs]
    return clips


def skipped(summary: Dict[str, Any]) -> List[str]:
    """Why each chosen clip got no foley ("name: reason"), to tell the user, by the summary's clip codes: the
    clips the script disabled (not chosen) are left out, and `detail` is the engine's reason without its
    command-line advice."""
    return [f"{row['name']}: {row.get('detail') or row.get('reason') or row['code']}"
            for row in summary.get("clips", []) if row.get("code") not in ("ok", "disabled")]

