"""The `foley` command's entry point: a Ctrl-C that lands while the command line is still being loaded is a
clean cancel (one line, exit 130), like one that lands later, instead of a Python traceback."""

from __future__ import annotations

import sys

from .errors import INTERRUPTED_EXIT_CODE


def run() -> None:
    """Load the command line and run it; main() handles every signal from then on."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("foley: error: cancelled; no partial files were left", file=sys.stderr)
        raise SystemExit(INTERRUPTED_EXIT_CODE) from None
    raise SystemExit(main())
