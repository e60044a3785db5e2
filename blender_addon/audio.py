"""Time-scaling a rendered WAV to a strip's length, for movies that Blender plays slower or faster than shot.

Blender shows a movie frame by frame when its strip was added without "Adjust Playback Rate": a 30 fps clip
in a 24 fps scene then runs at 0.8x. The engine renders in real time, so its audio is stretched here (like
tape: pitch follows speed) to stay under the picture. Uses numpy, which every Blender bundles.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np


def wav_samples(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return wav.getnframes()


def stretch_wav(source: Path, target: Path, samples: int) -> None:
    """Write `source` resampled to exactly `samples` frames to `target` (via a temp file: never half written)."""
    with wave.open(str(source)) as wav:
        params = wav.getparams()
        audio = np.frombuffer(wav.readframes(params.nframes), np.int16).reshape(-1, params.nchannels)
    positions = np.linspace(0, len(audio) - 1, samples)
    stretched = np.stack([np.interp(positions, np.arange(len(audio)), channel) for channel in audio.T], axis=1)
    partial = target.with_name(f".{target.name}.part")
    with wave.open(str(partial), "wb") as wav:
        wav.setparams(params._replace(nframes=samples))
        wav.writeframes(np.round(stretched).astype(np.int16).tobytes())
    os.replace(partial, target)
