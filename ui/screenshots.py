"""`make screenshots`: the panel after a real generation on a real clip, grabbed offscreen to docs/img/panel.png.

    python -m ui.screenshots [--video CLIP] [--range START END] [--at SECONDS] [-o docs/img/panel.png]

Uses a throwaway settings file, so it never touches the user's remembered settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_CLIP = REPO.parent / "shared" / "media" / "piano-furelise" / "video.mp4"
SIZE = (1400, 850)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `condition()` or `timeout` seconds."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(int(timeout * 1000))
    while not condition():
        if deadline.hasExpired():
            return False
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED_CLIP)
    parser.add_argument("--range", nargs=2, type=float, default=(12.0, 20.0), metavar=("START", "END"))
    parser.add_argument("--at", type=float, default=3.1, help="cursor position, seconds from the range start")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "img" / "panel.png")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        print(f"screenshots: no clip at {args.video}; pass --video", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from . import theme
    from .window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication), "a panel needs a widget application, not a console one"
    theme.apply(app)
    with tempfile.TemporaryDirectory(prefix="foley-screenshot-") as scratch:
        store = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(store, audible=False)
        window.resize(*SIZE)
        window.show()
        if not window.open_path(args.video, span=tuple(args.range)):
            print(f"screenshots: could not open {args.video}", file=sys.stderr)
            return 1
        window.generate()
        if not wait_until(lambda: window.job is None, timeout=900) or window.session.take is None:
            error = window.error_dialog.text() if window.error_dialog is not None else "timed out"
            print(f"screenshots: generation failed: {error}", file=sys.stderr)
            return 1
        frames = (args.range[1] - args.range[0]) * window.session.frame_rate
        wait_until(lambda: window.frames.count() >= frames - 1, 120)
        window.state.set_cursor(args.at)
        wait_until(lambda: False, 0.3)  # let the views repaint
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.output), "PNG"):
            print(f"screenshots: could not write {args.output}", file=sys.stderr)
            return 1
        window.close()
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
