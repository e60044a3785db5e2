"""Ctrl-C and SIGTERM as exceptions that never land inside an import.

Why: a KeyboardInterrupt raised while a module is being imported lands in code that was never meant to be
interrupted. In an extension module's start-up it runs into C/C++ that called back into Python and cannot pass
it on: torch's swallows it (Ctrl-C is lost and numpy is left half imported), pybind11 turns it into
`ImportError: initialization failed`, or throws it where nothing catches it and the process aborts
(`terminate called after throwing an instance of 'pybind11::error_already_set'`). So `CancelSignals` holds a
signal that arrives while the main thread imports and raises it as soon as the import is over; a second
signal is raised at once (the user insists), and a held one after MAX_HOLD_SECONDS at the latest, so a hung
import cannot make Ctrl-C useless.

SIGTERM without a handler kills the process on the spot, leaving the pose stage's workers and scratch folder
behind; with one it raises an exception (errors.Terminated in the CLI) and unwinds like Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType, TracebackType
from typing import Any

#: What signal.signal() takes and gives back: a function, SIG_DFL/SIG_IGN, or None (set outside Python)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
#: The import system's own modules: a frame of theirs on the stack means an import is in progress.
_IMPORT_MACHINERY = frozenset({"importlib._bootstrap", "importlib._bootstrap_external", "_frozen_importlib",
                               "_frozen_importlib_external"})
#: How long a held signal may wait for its import to end; torch takes 1.5-3 s to import on a warm disk.
MAX_HOLD_SECONDS = 15.0
_POLL_SECONDS = 0.01


def importing(frame: FrameType | None) -> bool:
    """Whether the thread running `frame` is inside an import (at any depth)."""
    while frame is not None:
        if frame.f_globals.get("__name__") in _IMPORT_MACHINERY:
            return True
        frame = frame.f_back
    return False


class CancelSignals:
    """While installed (main thread only; elsewhere it does nothing), each signal in `raises` raises its
    exception in the main thread, held back until no import is in progress.

    `received` is the first of them seen, held or raised: a failure that follows a cancel is its consequence
    (a worker killed by the same Ctrl-C) and the caller reports the cancel. After `mute()` signals are only
    recorded, so the caller can report and clean up without being interrupted halfway.
    """

    def __init__(self, raises: Mapping[int, Callable[[], BaseException]]) -> None:
        self._raises = dict(raises)
        self._previous: dict[int, Handler] = {}
        self.received: int | None = None
        self._held: int | None = None
        self._held_since = 0.0
        self._redelivering = False
        self._muted = False
        self._watcher: threading.Thread | None = None
        self._wake = threading.Event()  # set while a signal is held

    def install(self) -> CancelSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self._raises:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put the previous handlers back; a signal still held is dropped (the caller is done anyway)."""
        self._muted = True
        self._held = None
        self._wake.set()
        if self._watcher is not None:
            self._watcher.join(timeout=1)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def mute(self) -> None:
        self._muted = True

    def __enter__(self) -> CancelSignals:
        return self.install()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.restore()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        redelivered, self._redelivering = self._redelivering, False
        if self.received is None:
            self.received = signum
        if self._muted:
            return
        if redelivered and self._held is not None:
            signum = self._held
        elif self._held is not None:  # a second signal while one is held: the user insists
            self._held = None
            raise self._raises[signum]()
        overdue = self._held is not None and time.monotonic() - self._held_since >= MAX_HOLD_SECONDS
        if importing(frame) and not overdue:
            self._hold(signum)
            return
        self._held = None
        raise self._raises[signum]()

    def _hold(self, signum: int) -> None:
        if self._held is None:
            self._held, self._held_since = signum, time.monotonic()
        self._wake.set()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="foley-held-signal", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        """Hand a held signal back to the main thread once its import is over (or it waited too long)."""
        main = threading.main_thread().ident
        assert main is not None, "the main thread runs this program, so it has started"
        while self._wake.wait() and not self._muted:
            time.sleep(_POLL_SECONDS)
            held = self._held
            if held is None:  # raised meanwhile: sleep until the next hold, which may have come in already
                self._wake.clear()
                if self._held is not None:
                    self._wake.set()
                continue
            if self._redelivering:  # the main thread has not taken the last one yet
                continue
            frame = sys._current_frames().get(main)  # noqa: SLF001 - the one way to see another thread's stack
            if not importing(frame) or time.monotonic() - self._held_since >= MAX_HOLD_SECONDS:
                self._redelivering = True
                signal.pthread_kill(main, held)  # a real signal: it also wakes a main thread blocked in a call
