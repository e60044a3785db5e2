"""Engine work off the GUI thread: a QThread that runs one job and reports progress, result, failure or cancel.

The GUI thread only ever sets a flag; the engine polls it through `should_cancel` (the pose stage at least
twice a second, stopping its worker processes before it returns), so Cancel stops the work for real rather
than abandoning a thread that keeps burning the CPU.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from foley_engine import Cancelled, FoleyError, ProgressEvent

Work = Callable[[Callable[[ProgressEvent], None], Callable[[], bool]], Any]


def one_line(error: BaseException) -> str:
    """The message a dialog shows: one line, never a traceback."""
    text = " ".join(str(error).split())
    if isinstance(error, FoleyError):
        return text or type(error).__name__
    return f"internal error: {type(error).__name__}: {text}" if text else f"internal error: {type(error).__name__}"


class Job(QThread):
    """`Job(work)`: `work(progress, should_cancel)` runs in this thread; signals arrive on the GUI thread."""

    progressed = Signal(object)  # ProgressEvent
    succeeded = Signal(object)  # what `work` returned
    failed = Signal(str)  # one line for the error dialog
    cancelled = Signal()

    def __init__(self, work: Work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelling(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self._work(self.progressed.emit, self._cancel.is_set)
        except Cancelled:
            self.cancelled.emit()
        except FoleyError as error:
            self.failed.emit(one_line(error))
        except Exception as error:  # noqa: BLE001 - the panel must survive any engine bug, with one line to show
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(one_line(error))
        else:
            if self._cancel.is_set():  # cancelled after the last check: the result is not wanted
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
