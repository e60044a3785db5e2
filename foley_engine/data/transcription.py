"""Notes from a recording's sound: Spotify's basic-pitch transcribes a soundtrack into pseudo-ground-truth MIDI.

Any musician's video carries its soundtrack, so the notes can come from there. basic-pitch (ICASSP 2022 model,
shipped inside its 0.4.0 wheel as ONNX and run with onnxruntime, offline, without TensorFlow) hears the audio,
decoded onto the video's clock so that the notes line up with the keypoints.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from ..errors import FoleyError, InputError
from ..extras import missing_extra
from ..instruments import Instrument
from ..notes import Note

AUDIO_RATE = 22050  # what the basic-pitch model was trained on
TRANSCRIBER = "basic-pitch 0.4.0, icassp_2022 nmp.onnx via onnxruntime"
INSTALL_HINT = ("basic-pitch is not installed; install it without TensorFlow: `pip install --no-deps "
                "basic-pitch==0.4.0 && pip install librosa 'resampy>=0.4.3' scikit-learn onnxruntime`")
_N_OVERLAP_FRAMES = 30  # basic-pitch's own window overlap, in model frames


@dataclass(frozen=True)
class TranscriptionSettings:
    """basic-pitch's own defaults (predict()); pitches are also limited to the instrument's range."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    min_note_ms: float = 127.7


def decode_audio(path: str | Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """Mono float32 samples of a file's first audio stream at `rate`, sample 0 = the video's first frame.

    Containers often start audio and video at different times (encoder priming, edit lists); the audio is
    padded or trimmed so that its clock is the video clock the keypoints use. Audio-only files start at 0.
    """
    path = Path(path)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"could not read {path}: not a media file, or it is corrupt") from exc
    with container:
        if not container.streams.audio:
            raise InputError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        origin = None
        video = container.streams.video[0] if container.streams.video else None
        if video is not None and video.start_time is not None and video.time_base is not None:
            origin = float(video.start_time * video.time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        first = None
        try:
            for frame in container.decode(stream):
                if first is None and frame.pts is not None and frame.time_base is not None:
                    first = float(frame.pts * frame.time_base)
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        except av.FFmpegError as exc:
            raise InputError(f"could not decode the audio of {path}: the file is truncated or corrupt") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    shift = round(((first or 0.0) - origin) * rate) if origin is not None else 0
    return np.concatenate([np.zeros(shift, np.float32), samples]) if shift >= 0 else samples[-shift:]


@lru_cache(maxsize=1)
def _basic_pitch() -> tuple:
    """(onnxruntime session, basic_pitch.inference, basic_pitch.note_creation, constants), loaded once."""
    logging.disable(logging.WARNING)  # basic-pitch warns at import about every backend it does not find
    try:
        import onnxruntime
        from basic_pitch import ICASSP_2022_MODEL_PATH, constants, inference, note_creation
    except ImportError as exc:
        raise missing_extra(exc) or FoleyError(f"{INSTALL_HINT} ({exc})") from exc
    finally:
        logging.disable(logging.NOTSET)
    model = Path(ICASSP_2022_MODEL_PATH).with_suffix(".onnx")
    if not model.is_file():
        raise FoleyError(f"basic-pitch's ONNX model is missing at {model}; reinstall basic-pitch==0.4.0")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session, inference, note_creation, constants


def transcribe(audio: np.ndarray, instrument: Instrument | None = None,
               settings: TranscriptionSettings = TranscriptionSettings()) -> list[Note]:
    """Notes in mono `audio` at AUDIO_RATE, seconds from its first sample, as basic-pitch hears them.

    With an instrument, pitches outside its range are not considered (they are harmonics or bleed).
    """
    session, inference, note_creation, c = _basic_pitch()
    if audio.size == 0:
        return []
    overlap = _N_OVERLAP_FRAMES * c.FFT_HOP
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), audio.astype(np.float32)])
    windows = np.stack([w for w, _ in inference.window_audio_file(padded, c.AUDIO_N_SAMPLES - overlap)])
    names = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2", "StatefulPartitionedCall:0")
    parts: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for begin in range(0, len(windows), 8):
        outputs = session.run(list(names), {"serving_default_input_2:0": windows[begin:begin + 8]})
        for key, value in zip(parts, outputs, strict=True):
            parts[key].append(value)
    output = {k: inference.unwrap_output(np.concatenate(v), len(audio), _N_OVERLAP_FRAMES) for k, v in parts.items()}
    low = 440.0 * 2 ** ((instrument.lowest - 69.5) / 12) if instrument else None
    high = 440.0 * 2 ** ((instrument.highest - 68.5) / 12) if instrument else None
    _, events = note_creation.model_output_to_notes(
        output, onset_thresh=settings.onset_threshold, frame_thresh=settings.frame_threshold,
        min_note_len=int(round(settings.min_note_ms / 1000 * c.AUDIO_SAMPLE_RATE / c.FFT_HOP)),
        min_freq=low, max_freq=high, melodia_trick=True, include_pitch_bends=False)
    notes = [Note(float(start), float(end), int(pitch), max(1, min(127, int(round(127 * amplitude)))))
             for start, end, pitch, amplitude, _ in events if end > start >= 0]
    return sorted(notes)


def transcribe_file(path: str | Path, instrument: Instrument | None = None) -> list[Note]:
    """Transcribe a video's soundtrack (on the video clock) or an audio file."""
    return transcribe(decode_audio(path), instrument)
