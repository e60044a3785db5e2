"""Video decoding with PyAV: probe a clip, stream its frames with real timestamps, hash it for caches.

Frames are streamed (a feature film never sits in memory), timed from their pts so variable-frame-rate phone
footage lines up with the editor's timeline, and downscaled by FFmpeg, which is several times faster than
scaling 1080p in numpy. Every failure becomes an InputError with one sentence a user can act on.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from .errors import InputError

#: Seconds of slack when comparing a requested time with frame times and the clip's duration.
TIME_EPSILON = 1e-3
#: Standard rates that containers with coarse time bases (Matroska: 1 ms) only approximate.
_STANDARD_RATES = tuple(
    Fraction(n, d) for n, d in ((24000, 1001), (30000, 1001), (60000, 1001), (24, 1), (25, 1), (30, 1),
                                (48, 1), (50, 1), (60, 1), (120, 1))
)
#: A decode that stops this much before the range end (beyond two frame intervals) means a damaged file.
_TRUNCATION_SLACK = 1.0
_HASH_CHUNK = 1 << 20

#: The byte of an HEVC decoder configuration record (hvcC) that holds numTemporalLayers (bits 3-5).
_HVCC_LAYERS_BYTE = 21


@dataclass(frozen=True)
class VideoInfo:
    """What the engine needs to know about a clip; width and height are in display orientation."""

    path: Path
    width: int
    height: int
    frame_rate: Fraction  # nominal average rate, exact for NTSC (30000/1001, 24000/1001)
    duration: float  # seconds, of the video stream
    frame_count: int | None  # from the container when known
    codec: str
    has_audio: bool


@dataclass(frozen=True)
class Frame:
    """One decoded picture; time is on the video clock (0.0 = first frame of the stream), from its pts."""

    time: float
    image: np.ndarray  # H x W x 3 uint8 RGB


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"video not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InputError(f"could not read {path}: it is not a video, or it is truncated or corrupt") from exc
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        container.close()
        raise InputError(f"{path} is a still image, not a video")
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream")
    return container


def _nominal_rate(stream: av.video.stream.VideoStream) -> Fraction:
    """The average rate, snapped to a standard rate when the container's time base only approximates it."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise InputError(f"{stream.container.name} has no usable frame rate")
    rate = Fraction(rate)
    closest = min(_STANDARD_RATES, key=lambda standard: abs(rate - standard))
    return closest if abs(rate - closest) <= closest * Fraction(1, 2000) else rate


def _time_base(stream: av.video.stream.VideoStream) -> Fraction:
    """Seconds per pts tick: PyAV types it optional, but FFmpeg gives every demuxed stream one."""
    if stream.time_base is None:
        raise InputError(f"{stream.container.name} has a video stream without a time base")
    return stream.time_base


def _origin(stream: av.video.stream.VideoStream) -> int:
    """The pts of the stream's first frame, which the engine calls time 0."""
    return stream.start_time if stream.start_time is not None else 0


def _stream_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Duration from the stream, else the container, else by scanning packet timestamps (no decoding)."""
    if stream.duration:
        return float(stream.duration * _time_base(stream))
    if container.duration:
        return container.duration / av.time_base
    last = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            packet_end = packet.pts + (packet.duration or 0)
            last = packet_end if last is None else max(last, packet_end)
    container.seek(0)
    return float((last - _origin(stream)) * _time_base(stream)) if last is not None else 0.0


def probe(path: str | Path) -> VideoInfo:
    """Read a clip's properties and decode its first frame, so unusable files fail here with a clear reason."""
    path = Path(path)
    container = _open(path)
    with container:
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise InputError(f"could not decode {path}: the file is truncated or corrupt") from exc
        if first is None:
            raise InputError(f"{path} contains no video frames (the file may be truncated)")
        container.seek(0)
        duration = _stream_duration(container, stream)
        if not duration > 0:
            raise InputError(f"{path} has a zero-length video stream")
        quarter_turns = _quarter_turns(first)
        width, height = (first.height, first.width) if quarter_turns % 2 else (first.width, first.height)
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            frame_rate=_nominal_rate(stream),
            duration=duration,
            frame_count=stream.frames or None,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )


def resolve_range(info: VideoInfo, start: float | None, end: float | None) -> tuple[float, float]:
    """Turn optional start/end seconds into a checked range within the clip (end None = the clip's end)."""
    start = 0.0 if start is None else float(start)
    end = info.duration if end is None else float(end)
    if not (math.isfinite(start) and math.isfinite(end)):
        raise InputError(f"start and end must be numbers of seconds, got {start} and {end}")
    if start < 0:
        raise InputError(f"start must not be negative, got {start:g} s")
    if end > info.duration + TIME_EPSILON:
        raise InputError(f"end {end:g} s is past the end of the video ({info.duration:.3f} s)")
    end = min(end, info.duration)
    if not start < end:
        raise InputError(f"start ({start:g} s) must be before end ({end:g} s); the video is {info.duration:.3f} s long")
    return start, end


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that put the picture upright (phone clips carry a display matrix)."""
    return round(frame.rotation / 90) % 4


def _scaled_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(frame: av.VideoFrame, max_size: int) -> np.ndarray:
    width, height = _scaled_size(frame.width, frame.height, max_size)
    image = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    turns = _quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def iter_frames(
    path: str | Path, start: float = 0.0, end: float | None = None, max_size: int = 640,
    references_only: bool = False, at_times: Sequence[float] | None = None,
) -> Iterator[Frame]:
    """Yield the frames with start <= time < end, upright and downscaled so the longer side <= max_size.

    Seeks to the keyframe before start, so a range deep into a long clip costs only its own frames. Raises
    InputError if the file turns out damaged while decoding, including when it ends well before `end`.
    `references_only` decodes only the frames other frames are predicted from (often half of them, at half the
    cost): a quick look over a range, not every frame. `at_times` (sorted) yields only the first frame at or
    after each of those times, one frame per time, and converts no other: a look at a few frames of a range
    pays for decoding it, not for converting every frame to RGB (most of the cost otherwise).
    """
    path = Path(path)
    container = _open(path)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base, origin = _time_base(stream), _origin(stream)
        interval = 1 / float(_nominal_rate(stream))
        if start > 0:
            container.seek(origin + int(start / time_base), stream=stream, backward=True)
        last_time = None
        decoded_any = False
        taken = 0  # of at_times
        try:
            for frame in _decode_after(container, stream, origin + (start - TIME_EPSILON) / time_base,
                                       references_only):
                decoded_any = True
                if frame.pts is None:
                    continue
                time = float((frame.pts - origin) * time_base)
                if time < start - TIME_EPSILON:
                    continue
                if end is not None and time >= end - TIME_EPSILON:
                    return
                last_time = time
                if at_times is not None:
                    if taken == len(at_times):
                        return
                    if time < at_times[taken] - TIME_EPSILON:
                        continue
                    taken += 1
                yield Frame(time, _to_rgb(frame, max_size))
        except av.FFmpegError as exc:
            raise InputError(f"could not decode {path}: the file is truncated or corrupt") from exc
        if not decoded_any:
            raise InputError(f"{path} contains no video frames (the file may be truncated)")
        expected_end = end if end is not None else _stream_duration(container, stream)
        reached = start if last_time is None else last_time + interval
        if not references_only and reached < expected_end - 2 * interval - _TRUNCATION_SLACK:
            raise InputError(
                f"could not decode {path}: the file is truncated or corrupt (video stops at {reached:.2f} s "
                f"of {expected_end:.2f} s)"
            )


def _decode_after(container: av.container.InputContainer, stream: av.video.stream.VideoStream, first_pts: float,
                  references_only: bool) -> Iterator[av.VideoFrame]:
    """The stream's frames from where the container was sought to, skipping the frames before `first_pts`
    that no other frame is predicted from: after a seek the decoder must go through every frame since the
    keyframe (up to a whole group of pictures, seconds of video), but it need not decode those nobody reads
    or refers to (a quarter less decoding for a 1.5 s range of the shared piano clip). Every frame from
    `first_pts` on is decoded exactly as without the skip; where the codec cannot promise that, nothing is
    skipped (see _unreferenced_frames_known)."""
    context = stream.codec_context
    wanted: Literal["NONREF", "DEFAULT"] = "NONREF" if references_only else "DEFAULT"
    before: Literal["NONREF", "DEFAULT"] = "NONREF" if references_only or _unreferenced_frames_known(stream) else wanted
    for packet in container.demux(stream):
        context.skip_frame = before if packet.pts is not None and packet.pts < first_pts else wanted
        yield from packet.decode()


def _unreferenced_frames_known(stream: av.video.stream.VideoStream) -> bool:
    """Whether FFmpeg's NONREF skips only frames no other frame refers to: in H.264 a non-reference picture
    is one; in HEVC a "sub-layer non-reference" picture may still be referred to by a higher temporal layer,
    so only a stream of one temporal layer (its hvcC record says so) qualifies. Other codecs are not assumed."""
    name = stream.codec_context.name
    if name == "h264":
        return True
    extradata = stream.codec_context.extradata or b""
    if name == "hevc" and len(extradata) > _HVCC_LAYERS_BYTE and extradata[0] == 1:  # hvcC, not Annex B
        return (extradata[_HVCC_LAYERS_BYTE] >> 3) & 0x7 == 1
    return False


def keyframes_near(path: str | Path, times: Sequence[float], max_size: int = 640) -> list[Frame]:
    """For each time, the keyframe at or before it (upright, downscaled), each keyframe once.

    A quick look at a whole clip: seeking lands on keyframes, so taking the frame found there costs one
    decoded frame per look, where the exact frame at a time could cost a whole group of pictures.
    """
    path = Path(path)
    container = _open(path)
    frames: dict[float, Frame] = {}
    with container:
        stream = container.streams.video[0]
        time_base, origin = _time_base(stream), _origin(stream)
        try:
            for time in times:
                container.seek(origin + int(max(0.0, time) / time_base), stream=stream, backward=True)
                packet = next((p for p in container.demux(stream) if p.pts is not None), None)
                if packet is None or packet.pts is None or round(float((packet.pts - origin) * time_base), 6) in frames:
                    continue  # the same keyframe as an earlier look: known without decoding it again
                frame = next((f for f in _decode_from(container, stream, packet) if f.pts is not None), None)
                if frame is not None and frame.pts is not None:
                    found = float((frame.pts - origin) * time_base)
                    frames.setdefault(round(found, 6), Frame(found, _to_rgb(frame, max_size)))
        except av.FFmpegError as exc:
            raise InputError(f"could not decode {path}: the file is truncated or corrupt") from exc
    return [frames[key] for key in sorted(frames)]


def _decode_from(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                 packet: av.Packet) -> Iterator[av.VideoFrame]:
    """The frames of `packet` and, while the decoder still needs more input, of the packets after it."""
    yield from packet.decode()
    for later in container.demux(stream):
        yield from later.decode()


def content_hash(path: str | Path) -> str:
    """sha256 of the file's bytes, read in chunks: a cache key that survives renames and moves."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"could not read {path}: {exc.strerror}") from exc
    return digest.hexdigest()
