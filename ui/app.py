"""`foley-panel`: open the panel, optionally on a clip chosen in an editor, and hand the chosen take back.

The Blender add-on and the Resolve script run
    foley-panel --video CLIP.mp4 --range 12.0 15.0 --result-json OUT.json [--out-dir DIR]
    foley-panel --timeline EDIT.otio --clip "Cello 1" --result-json OUT.json [--out-dir DIR]
wait for it to exit, and read OUT.json (the take's wav/mid, and the updated timeline, plus its settings).
Exit code 0: a take was accepted and OUT.json written; 1: the panel was closed without one (no OUT.json);
2: bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from foley_engine import INSTRUMENTS

from . import theme
from .window import MainWindow

ORGANISATION, APPLICATION = "Foley", "foley-panel"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foley-panel", description=__doc__.splitlines()[0],
                                     epilog="Keys: Space play/pause · Ctrl+G generate · Esc cancel · Ctrl+E export "
                                            "· Ctrl+O open")
    parser.add_argument("path", nargs="?", type=Path, help="a video or a timeline to open")
    parser.add_argument("--video", type=Path, help="open this video")
    parser.add_argument("--range", nargs=2, type=float, metavar=("START", "END"), help="seconds of the video")
    parser.add_argument("--timeline", type=Path, help="open this timeline (OTIO, or any adapter's format)")
    parser.add_argument("--clip", help="the timeline's video clip to work on (its name)")
    parser.add_argument("--instrument", choices=list(INSTRUMENTS), help="start with this instrument")
    parser.add_argument("--out-dir", type=Path, help="where Export writes without asking (default: beside the input)")
    parser.add_argument("--result-json", type=Path, metavar="PATH",
                        help="editor mode: Export accepts the take, writes PATH and exits 0; closing exits 1")
    parser.add_argument("--no-sound", action="store_true", help="play without audio output (cursor only)")
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [name for name in ("path", "video", "timeline") if getattr(args, name) is not None]
    if len(given) > 1:
        parser.error("give one of PATH, --video and --timeline")
    if args.range is not None and args.timeline is not None:
        parser.error("--range is for a video; a timeline clip's range comes from the edit")
    if args.clip is not None and args.video is not None:
        parser.error("--clip is for a timeline")
    if args.range is not None and not 0 <= args.range[0] < args.range[1]:
        parser.error(f"--range wants 0 <= START < END, got {args.range[0]:g} {args.range[1]:g}")
    return args


def open_window(args: argparse.Namespace, store: QSettings | None = None) -> MainWindow:
    """The window for these arguments, shown, with the requested input opened (errors in its dialog)."""
    window = MainWindow(store or QSettings(ORGANISATION, APPLICATION), result_json=args.result_json,
                        out_dir=args.out_dir, audible=not args.no_sound)
    if args.instrument:
        window.inspector.instrument.setCurrentIndex(window.inspector.instrument.findData(args.instrument))
    window.show()
    target = args.video or args.timeline or args.path
    if target is not None:
        span = tuple(args.range) if args.range is not None else None
        window.open_path(target, span=span, clip=args.clip)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication), "a panel needs a widget application, not a console one"
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    theme.apply(app)
    window = open_window(args)
    app.exec()
    return window.session.exit_code


if __name__ == "__main__":
    sys.exit(main())
