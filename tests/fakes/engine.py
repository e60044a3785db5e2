"""A stand-in `foley` command that replays protocol lines recorded from the real engine (tests/fixtures/protocol).

The adapters' fast tier runs against it: no footage, no model, a second per test. `foley info --json` answers
with the recorded info line; any other command records its arguments in argv.json beside the script, runs an
optional snippet (to sleep, start a worker, ...), then prints the fixture's lines and its last stderr line and
exits with the status the real engine exited with. tests/test_protocol.py keeps the fixtures true to the engine.
"""

from __future__ import annotations

import json
import stat
import sys
import textwrap
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protocol"


def recorded(name: str) -> list[dict]:
    """The lines of one fixture, as JSON objects."""
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def manifest() -> dict:
    """fixture -> {args, exit_code, stderr} of the real run it was recorded from."""
    return json.loads((FIXTURES / "manifest.json").read_text())


def replaying_engine(folder: Path, fixture: str | None = None, *, before: str = "", info: dict | None = None,
                     has_info: bool = True, name: str = "foley") -> Path:
    """An executable `folder/bin/NAME` replaying `fixture` (None: only `foley info` answers, other commands
    print nothing and exit 0). `info` replaces the recorded info line; has_info=False makes an engine older
    than `foley info` (argparse's usage error, exit 2). `before` is Python run before the replay."""
    lines = [json.dumps(line) for line in recorded(fixture)] if fixture else []
    run = manifest()[fixture] if fixture else {"exit_code": 0, "stderr": ""}
    info_line = json.dumps(info if info is not None else recorded("info.jsonl")[0])
    script = Path(folder) / "bin" / name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import json, os, subprocess, sys, time
        here = os.path.dirname(os.path.abspath(__file__))
        if sys.argv[1:2] == ["info"]:
            if not {has_info!r}:
                print("foley: error: argument COMMAND: invalid choice: 'info' (see foley --help)", file=sys.stderr)
                sys.exit(2)
            print({info_line!r}, flush=True)
            sys.exit(0)
        with open(os.path.join(here, "argv.json"), "w") as record:
            json.dump(sys.argv[1:], record)
        """) + textwrap.dedent(before) + textwrap.dedent(f"""\
        for line in {lines!r}:
            print(line, flush=True)
        if {run["stderr"]!r}:
            print({run["stderr"]!r}, file=sys.stderr)
        sys.exit({run["exit_code"]!r})
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def arguments(engine: Path) -> list[str]:
    """What the last command other than `info` was given."""
    return json.loads((engine.parent / "argv.json").read_text())
