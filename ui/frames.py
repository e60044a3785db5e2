"""The range's frames, decoded once in the background and kept in memory as JPEG, for instant scrubbing.

Seeking in long-GOP footage (HEVC from phones and cameras) costs half a second or more per jump, far too
slow to follow a mouse; decoding the range once in order is fast, and JPEG keeps a minute of 640-px frames
near 50 MB instead of 1.5 GB.
"""

from __future__ import annotations

import bisect
import math
import threading
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtGui import QImage

from foley_engine import FoleyError, iter_frames

MAX_SIZE = 640  # longer side of a stored frame: the viewer is rarely bigger, and pose saw this size too
MAX_FRAMES = 3600  # two minutes at 30 fps; longer ranges keep every n-th frame
JPEG_QUALITY = 88


def to_qimage(rgb) -> QImage:
    """An RGB uint8 array (H, W, 3) as a QImage that owns its pixels."""
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class FrameStore(QObject):
    """`load(video, start, end)` starts decoding; `frame_at(time)` is the latest frame at or before `time`."""

    framesAdded = Signal(int)  # frames stored so far

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._jpegs: list[bytes] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoded: tuple[int, QImage] | None = None

    def load(self, video: Path, start: float, end: float, frame_rate: float) -> None:
        self.stop()
        with self._lock:
            self._times, self._jpegs = [], []
        self._decoded = None
        stride = max(1, math.ceil((end - start) * frame_rate / MAX_FRAMES))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._decode, args=(video, start, end, stride, self._stop),
                                        name="foley-frames", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop decoding (a new range, or the window closing) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def count(self) -> int:
        with self._lock:
            return len(self._times)

    def frame_at(self, time: float) -> QImage | None:
        with self._lock:
            index = bisect.bisect_right(self._times, time + 1e-6) - 1
            if index < 0:
                index = 0 if self._times else -1
            if index < 0:
                return None
            if self._decoded is not None and self._decoded[0] == index:
                return self._decoded[1]
            data = self._jpegs[index]
        image = QImage.fromData(data, "JPEG")  # type: ignore[arg-type]  # the stub says bytes; only str runs
        self._decoded = (index, image)
        return image

    def _decode(self, video: Path, start: float, end: float, stride: int, stop: threading.Event) -> None:
        try:
            for number, frame in enumerate(iter_frames(video, start, end, MAX_SIZE)):
                if stop.is_set():
                    return
                if number % stride:
                    continue
                data = QByteArray()
                buffer = QBuffer(data)
                buffer.open(QIODevice.OpenModeFlag.WriteOnly)
                # the stub says bytes for the format; PySide6 runs with str only
                to_qimage(frame.image).save(buffer, "JPEG", JPEG_QUALITY)  # type: ignore[call-overload]
                with self._lock:
                    self._times.append(frame.time)
                    self._jpegs.append(bytes(data.data()))
                    count = len(self._times)
                if count == 1 or count % 15 == 0:
                    self.framesAdded.emit(count)
        except FoleyError:
            return  # a damaged file: generation reports it with the engine's own message
        if not stop.is_set():
            self.framesAdded.emit(self.count())
