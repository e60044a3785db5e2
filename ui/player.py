"""Playback: QtMultimedia plays the take's audio while a clock drives the cursor at screen rate.

Without an audio device (a server, an offscreen test, PySide6-Addons not installed) the same clock runs
silently, so the cursor, the piano roll and the video still move together and the panel stays usable.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTemporaryDir, QTimer, QUrl, Signal

from foley_engine import write_wav

TICK_MS = 16  # cursor updates at ~60 Hz


def _media_backend() -> tuple[type, type] | str:
    """(QMediaPlayer, QAudioOutput) when sound can be played, else the reason it cannot."""
    try:
        from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
    except ImportError:
        return "no QtMultimedia (pip install PySide6-Addons): playing without sound"
    if not QMediaDevices.audioOutputs():
        return "no audio output device: playing without sound"
    return QMediaPlayer, QAudioOutput


class Player(QObject):
    positionChanged = Signal(float)  # seconds from the range start
    playingChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, audible: bool = True) -> None:
        super().__init__(parent)
        self.duration = 0.0
        self.position = 0.0
        self.playing = False
        self._origin = 0.0
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._scratch = QTemporaryDir()
        self._names = itertools.count(1)
        backend = _media_backend() if audible else "sound off"
        self.silent_reason = backend if isinstance(backend, str) else ""
        self._media = None
        if not isinstance(backend, str):
            player_class, output_class = backend
            self._media = player_class(self)
            self._output = output_class(self)
            self._media.setAudioOutput(self._output)
            self._media.errorOccurred.connect(self._media_failed)

    @property
    def audible(self) -> bool:
        return self._media is not None

    def load(self, audio: np.ndarray | None, sample_rate: int) -> None:
        """A new take: stop, and hand its audio to the media player (as a WAV in a private temp dir).

        The position is kept (clamped), so switching takes compares them at the same moment."""
        self.pause()
        self.duration = 0.0 if audio is None else len(audio) / sample_rate
        self.position = min(self.position, self.duration)
        if self._media is not None and audio is not None:
            path = Path(self._scratch.path()) / f"take-{next(self._names)}.wav"
            write_wav(audio, path, sample_rate)
            self._media.setSource(QUrl.fromLocalFile(str(path)))

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if self.playing or self.duration <= 0:
            return
        if self.position >= self.duration - 1e-3:
            self.position = 0.0
        self._start_clock(self.position)
        if self._media is not None:
            self._media.setPosition(int(self.position * 1000))
            self._media.play()
        self._timer.start()
        self.playing = True
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self._timer.stop()
        if self._media is not None:
            self._media.pause()
        self.playing = False
        self.playingChanged.emit(False)

    def seek(self, seconds: float) -> None:
        seconds = min(max(0.0, seconds), self.duration)
        if abs(seconds - self.position) < 1e-4:
            return
        self.position = seconds
        if self.playing:
            self._start_clock(seconds)
            if self._media is not None:
                self._media.setPosition(int(seconds * 1000))
        self.positionChanged.emit(seconds)

    def _start_clock(self, seconds: float) -> None:
        self._origin = seconds
        self._clock.restart()

    def _tick(self) -> None:
        position = self._origin + self._clock.elapsed() / 1000
        if position >= self.duration:
            self.position = self.duration
            self.pause()
        else:
            self.position = position
        self.positionChanged.emit(self.position)

    def _media_failed(self) -> None:
        """A device that disappears or a codec error: keep going without sound rather than stop the panel."""
        if self._media is None:  # a second error signal: already given up
            return
        self.silent_reason = f"audio playback failed ({self._media.errorString()}): playing without sound"
        self._media.stop()
        self._media = None
