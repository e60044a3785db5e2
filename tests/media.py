"""Test videos made with PyAV: each frame shows its index as a row of black/white blocks, so a test can tell
which frame a decoded picture is and check its timestamp; plus broken files for the error paths."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

INDEX_BITS = 10
#: Time base for hand-timed (VFR) frames: fine enough that any test time survives mp4's rescaling.
VFR_TIME_BASE = Fraction(1, 90000)


def index_image(index: int, size: tuple[int, int]) -> np.ndarray:
    """RGB frame (H x W x 3) whose top band encodes `index` in binary, most significant bit first."""
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = np.linspace(40, 200, width, dtype=np.uint8)[None, :, None]  # smooth, person-free background
    band = height // 4
    for bit in range(INDEX_BITS):
        on = (index >> (INDEX_BITS - 1 - bit)) & 1
        left, right = bit * width // INDEX_BITS, (bit + 1) * width // INDEX_BITS
        image[:band, left:right] = 255 if on else 0
    return image


def read_index(image: np.ndarray) -> int:
    """The index `index_image` drew, read from block centres so it survives compression and downscaling."""
    height, width = image.shape[:2]
    row = height // 8
    value = 0
    for bit in range(INDEX_BITS):
        centre = (2 * bit + 1) * width // (2 * INDEX_BITS)
        value = (value << 1) | int(image[row, centre].mean() > 128)
    return value


def make_video(
    path: Path,
    seconds: float = 2.0,
    rate: Fraction | int = Fraction(30000, 1001),
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    times: Sequence[float] | None = None,
    rotation: int | None = None,
    audio: bool = False,
    keyframe_every: int | None = None,
) -> Path:
    """Write a clip whose frame i shows index i; `times` gives explicit frame times (variable frame rate);
    `keyframe_every` N frames (libx264) instead of the encoder's choice.

    The container comes from the suffix (.mp4, .mkv, .mov). `rotation` stores a display matrix like a phone.
    """
    path = Path(path)
    frame_times = list(times) if times is not None else None
    count = len(frame_times) if frame_times is not None else round(seconds * rate)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"} if codec == "libx264" else {"qscale": "3"}
        if keyframe_every is not None:
            stream.options |= {"g": str(keyframe_every), "keyint_min": str(keyframe_every), "sc_threshold": "0"}
        if frame_times is not None:
            stream.codec_context.time_base = stream.time_base = VFR_TIME_BASE
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio_stream = container.add_stream("aac", rate=44100) if audio else None
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(index_image(index, size), format="rgb24")
            if frame_times is not None:
                frame.pts = round(Fraction(frame_times[index]) / VFR_TIME_BASE)
                frame.time_base = VFR_TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio_stream is not None:
            _write_silence(container, audio_stream, count / float(rate))
    return path


def _write_silence(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    samples = max(1024, round(seconds * stream.rate))
    frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp", layout="mono")
    frame.sample_rate = stream.rate
    frame.pts = 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode())


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of the bytes of `source`, like an interrupted download."""
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: int(len(data) * fraction)])
    return Path(target)


def zero_frame_video(path: Path) -> Path:
    """A file that declares a video stream but holds no video frame (only a second of audio).

    Always Matroska inside, whatever the suffix: MP4 muxers drop a track that has no samples.
    """
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height = 320, 240
        audio = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return Path(path)


def not_a_video(path: Path) -> Path:
    """A text file with a video's name."""
    Path(path).write_text("this is a shopping list, not a video\n")
    return Path(path)
