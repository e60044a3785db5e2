"""`foley` command line: mirrors the engine's API, prints one-line errors and documented exit codes.

Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 no performer, 5 output exists/unwritable,
6 FluidSynth/soundfont missing, 7 model problem, 130 cancelled (Ctrl-C), 143 stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..errors import INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE, FoleyError, Terminated, UsageError
from ..extras import missing_extra
from ..instruments import parse_instruments
from ..interrupts import CancelSignals
from ..options import GeneratorOptions, add_generator_args, finite_float
from ..progress import PROGRESS_MODES, JsonLinesProgress, ProgressCallback, ProgressMode, TerminalBar
from ..protocol import ErrorLine, SummaryLine, write_line


def _add_range_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=finite_float, default=None, help="range start, seconds (default: 0)")
    parser.add_argument("--end", type=finite_float, default=None,
                        help="range end, seconds (default: the video's end)")


def _add_progress_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                        help="bar on a terminal (default there), json = one JSON object per line on stdout")


#: Subcommands other modules register: (names, module, its add_*(commands) function). Only the module of the
#: command being run is imported, so `foley instruments` never loads OTIO, PyAV or scipy for `timeline` or `eval`.
_EXTERNAL_COMMANDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("timeline",), "foley_engine.cli.timeline", "add_timeline_command"),
    (("train",), "foley_engine.cli.train", "add_train_command"),
    (("eval", "dataset"), "foley_engine.cli.evaluate", "add_eval_commands"),
    (("info",), "foley_engine.cli.info", "add_info_command"),
)


#: Commands other installed packages add to `foley` (the Resolve adapter's installer): each declares an entry
#: point in this group naming its add_*(commands) function, so the engine never names or imports an adapter.
PLUGIN_GROUP = "foley.commands"


def _plugin_commands() -> tuple[tuple[tuple[str, ...], str, str], ...]:
    """(names, module, function) of every installed package's `foley` command, read from its metadata only."""
    from importlib.metadata import entry_points

    return tuple(((point.name,), point.module, point.attr) for point in entry_points(group=PLUGIN_GROUP))


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line raises UsageError instead of printing the usage and exiting, so it ends
    like every other error: one line, exit 2, and the JSON error line an editor reads under --progress json.
    Subcommands' parsers, other modules' included, are of this class too (add_subparsers passes it on)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `foley` parser. Given the arguments it will parse, other modules' subcommands are registered only
    if argv runs one of them; without argv, or when argv names no known command (--help, a typo), all are."""
    parser = _Parser(prog="foley", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"foley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="video -> NAME.foley.mid, NAME.foley.wav, NAME.keypoints.npz")
    gen.add_argument("video", type=Path)
    gen.add_argument("-i", "--instrument", default="piano",
                     help="see `foley instruments` (default: piano); one for all performers, or one each, "
                          "left to right: violin,guitar")
    gen.add_argument("-o", "--out-dir", type=Path, default=None, help="default: the video's folder")
    _add_range_args(gen)
    add_generator_args(gen, seed_default=0,
                       seed_help="note generation seed (default: 0, reproducible; another seed, another take)")
    gen.add_argument("--soundfont", type=Path, default=None, help="GM soundfont (.sf2); else $FOLEY_SOUNDFONT")
    gen.add_argument("--allow-silence", action="store_true",
                     help="with no performer in view, write a silent track of the right length instead of failing")
    gen.add_argument("--preview", action="store_true", help="also write NAME.preview.png: the skeleton over frames")
    gen.add_argument("--stems", action="store_true",
                     help="also write NAME.foley.performer1.wav, ...: each performer alone, to mix or mute players "
                          "separately (NAME.foley.wav stays the mix of all)")
    gen.add_argument("--force", action="store_true", help="overwrite existing outputs")
    gen.add_argument("--json", action="store_true", help="print a JSON summary on stdout when done")
    _add_progress_args(gen)
    gen.set_defaults(handler=_cmd_generate)

    inst = commands.add_parser("instruments", help="list instruments with their General MIDI programs")
    inst.add_argument("--json", action="store_true")
    inst.set_defaults(handler=_cmd_instruments)

    render = commands.add_parser("render-keypoints", help="draw what the pose stage saw, as PNG or MP4")
    render.add_argument("video", type=Path)
    render.add_argument("-o", "--output", type=Path, default=None,
                        help="NAME.preview.png (default) or .mp4 for a video")
    _add_range_args(render)
    render.add_argument("--force", action="store_true")
    _add_progress_args(render)
    render.set_defaults(handler=_cmd_render_keypoints)

    requested = next((arg for arg in argv if not arg.startswith("-")), None) if argv is not None else None
    external = _EXTERNAL_COMMANDS
    if requested not in set(commands.choices).union(*(names for names, _, _ in external)):
        external += _plugin_commands()  # another package's command, --help or a typo
    known = set(commands.choices).union(*(names for names, _, _ in external))
    for names, module, add_commands in external:
        if requested not in known or requested in names:
            getattr(importlib.import_module(module), add_commands)(commands)
    return parser


def _progress_sink(mode: ProgressMode) -> ProgressCallback | None:
    if mode == "auto":
        mode = "bar" if sys.stderr.isatty() else "none"
    if mode == "bar":
        return TerminalBar()
    if mode == "json":
        return JsonLinesProgress(sys.stdout)
    return None


def _cmd_generate(args: argparse.Namespace) -> int:
    from ..keyboard.keys import note_name
    from ..pipeline import generate_files

    # A wrong --model or sampling option is the first thing to hear about, before outputs that exist.
    options = GeneratorOptions.from_args(args)
    parse_instruments(args.instrument)
    out_dir = args.out_dir if args.out_dir is not None else args.video.parent
    preview = Path(out_dir) / f"{args.video.stem}.preview.png" if args.preview else None
    result, paths = generate_files(  # the preview is written with the other outputs, all or nothing
        args.video, out_dir, force=args.force, preview=preview, progress=_progress_sink(args.progress),
        stems=args.stems, instrument=args.instrument, start=args.start, end=args.end, options=options,
        soundfont=args.soundfont, allow_silence=args.allow_silence)
    summary = result.summary() | {"outputs": {kind: str(path) for kind, path in paths.items()}}
    if args.json:
        write_line(SummaryLine("generate", summary))
    elif args.progress != "json":
        players = ", ".join(f"{p['index']}: {p['instrument']} ({p['notes']} notes)" for p in summary["performers"])
        print(f"{summary['notes']} notes ({result.performance.generator}) for {result.duration:.2f}s of "
              f"{args.video.name}; performers left to right: {players or 'none'}")
        if result.keyboard is not None and result.keyboard.under_camera:
            under = result.keyboard.under_camera
            print(f"  keys {note_name(under[0])}-{note_name(under[-1])} are in line with the camera: a press there "
                  f"barely shows, so notes on them may be missing")
        if "camera_moved_px" in summary.get("keyboard", {}):
            print(f"  the camera moved the keys by up to {summary['keyboard']['camera_moved_px']:.1f} px; they were "
                  f"followed frame by frame (a steady camera reads better)")
        for path in paths.values():
            print(f"  {path}")
    return 0


def _cmd_instruments(args: argparse.Namespace) -> int:
    from .info import instrument_rows  # the same rows `foley info` lists

    rows = instrument_rows()
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'instrument':<16}{'GM program':>11}  {'family':<10}{'range':<9}  GM name")
    for row in rows:
        print(f"{row['name']:<16}{row['program']:>11}  {row['family']:<10}{row['lowest']:>3}-{row['highest']:<5}  "
              f"{row['gm_name']}")
    return 0


def _refuse_existing(path: Path, force: bool) -> None:
    from ..outputs import refuse_existing

    refuse_existing([path], force)


def _cmd_render_keypoints(args: argparse.Namespace) -> int:
    from ..outputs import ensure_writable_dir
    from ..pose.extract import extract_keypoints
    from ..preview import render_preview
    from ..progress import StageProgress
    from ..video import probe, resolve_range

    output = args.output or args.video.with_name(f"{args.video.stem}.preview.png")
    if output.suffix.lower() not in (".png", ".mp4"):
        from ..errors import InputError
        raise InputError(f"--output must end in .png or .mp4, got {output.name}")
    ensure_writable_dir(output.parent if str(output.parent) else Path("."))
    _refuse_existing(output, args.force)
    stages = StageProgress({"pose": 0.8, "render": 0.2}, _progress_sink(args.progress))
    info = probe(args.video)
    start, end = resolve_range(info, args.start, args.end)
    keypoints = extract_keypoints(info.path, start, end, progress=stages.stage("pose"))
    render_preview(info.path, keypoints, output, start=start, end=end, progress=stages.stage("render"))
    print(output)
    return 0


#: Failure reports (command, versions, every traceback) kept in the log folder; older ones are removed.
LOGS_KEPT = 20


def log_dir() -> Path:
    """$FOLEY_CACHE_DIR/logs, else the user's cache folder's (~/.cache/foley/logs)."""
    import platformdirs

    return Path(os.environ.get("FOLEY_CACHE_DIR") or platformdirs.user_cache_dir("foley")) / "logs"


def _write_log(error: BaseException, argv: Sequence[str]) -> Path | None:
    """The whole story of a failure in a new log file, for a bug report: the terminal only gets one line.

    A worker's error carries the worker's traceback as its cause, so it is here too. None when the log cannot be
    written (a read-only cache): the one line then says how to see the traceback instead."""
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"foley-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(f"foley {__version__}, Python {sys.version.split()[0]} on {sys.platform}\n"
                        f"command: foley {shlex.join(argv)}\n\n" + "".join(traceback.format_exception(error)))
        for old in sorted(folder.glob("foley-*.log"))[:-LOGS_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        return None
    return path


def _first_line(text: str) -> tuple[str, bool]:
    """The first non-blank line of a message, and whether there was more."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else ""), len(lines) > 1


def _failure(error: BaseException, received: int | None, argv: Sequence[str]) -> tuple[int, str]:
    """The exit code and the one line for `error`; what does not fit on the line goes to a log the line names.

    Once Ctrl-C or SIGTERM has arrived, whatever fails next (a pose worker killed by the same Ctrl-C, an import
    it cut short) is its consequence, and the run ends as the cancel it is."""
    if isinstance(error, Terminated) or received == signal.SIGTERM:
        return TERMINATED_EXIT_CODE, "stopped by SIGTERM; no partial files were left"
    if isinstance(error, KeyboardInterrupt) or received is not None:
        return INTERRUPTED_EXIT_CODE, "cancelled; no partial files were left"
    error = missing_extra(error) or error
    first, more = _first_line(str(error))
    if isinstance(error, FoleyError):
        log = _write_log(error, argv) if more else None
        return error.exit_code, f"{first} (details: {log})" if log else first
    if os.environ.get("FOLEY_DEBUG"):
        traceback.print_exception(error)
    log = _write_log(error, argv)
    where = f"full report: {log}" if log else "set FOLEY_DEBUG=1 to see the traceback"
    return 1, f"internal error: {type(error).__name__}{': ' + first if first else ''} ({where})"


def _wants_json_errors(args: argparse.Namespace | None, argv: Sequence[str]) -> bool:
    """--progress json, from the parsed arguments, or from the words themselves when parsing is what failed
    (argparse also takes an unambiguous prefix such as --prog, and --progress=json)."""
    if args is not None:
        return getattr(args, "progress", None) == "json"
    for index, word in enumerate(argv):
        if word == "--":
            break
        name, equals, value = word.partition("=")
        if len(name) >= len("--pro") and "--progress".startswith(name):
            value = value if equals else (argv[index + 1] if index + 1 < len(argv) else "")
            if value == "json":
                return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `foley` command; every failure, a bad command line and Ctrl-C included, ends as one line on
    stderr and its exit code (--help and --version exit 0 through argparse)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args: argparse.Namespace | None = None
    with CancelSignals({signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}) as signals:
        try:
            args = build_parser(argv).parse_args(argv)
            status: int = args.handler(args)
            return status
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - last line of defence: one line, not a traceback dump
            signals.mute()  # a second Ctrl-C must not cut the report short
            code, message = _failure(error, signals.received, argv)
        if _wants_json_errors(args, argv):
            write_line(ErrorLine(message, code))
        print(f"foley: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
