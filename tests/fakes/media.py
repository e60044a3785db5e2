"""Files for the fake Resolve to import: silent 48 kHz stereo WAVs of an exact length."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path


def silent_wav(path: Path, seconds: Fraction | float) -> Path:
    with wave.open(str(path), "w") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(48000)
        audio.writeframes(b"\0\0\0\0" * round(Fraction(seconds) * 48000))
    return path
