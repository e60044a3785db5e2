"""Keypoint extraction: body (OpenPose BODY_25) and both hands per performer, at a fixed rate, cached on disk.

MediaPipe Pose and Hands run on every frame, in one worker process per core, each on its own chunk of the
range; the detections are grouped into performers and resampled to MODEL_RATE on the video's own
timestamps. Results are cached by the video's content and every setting, because tracking costs about a
second of two-core time per second of 30 fps video.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import platformdirs

from .. import errors, video
from ..errors import FoleyError, InputError, OutputError
from ..keypoints import MODEL_RATE, Keypoints
from ..skeleton import NUM_BODY_JOINTS, NUM_HAND_JOINTS
from . import mediapipe_runner as pose_mediapipe
from . import workers as pose_workers
from .bands import BandRows, BandSampler
from .tracking import assign_performers, resample, sample_count
from .workers import Chunk, PoseWorkerError

#: Bump when extraction changes in a way that makes cached keypoints stale.
POSE_VERSION = 5
#: Shortest range a worker process is started for; tracking restarts at each chunk's first frame.
MIN_CHUNK_SECONDS = 1.0

Progress = Callable[[float, str], None]


HandsWhen = Literal["always", "where wrists unseen"]


@dataclass(frozen=True)
class PoseSettings:
    """Everything that changes the extracted keypoints; all fields are part of the cache key."""

    max_size: int = 640  # frames are downscaled so the longer side is at most this before detection
    model_complexity: int = 1  # Hands model: 0 = lite, 1 = full (Pose always uses its full model, the only one bundled)
    max_hands: int = 4  # hands MediaPipe Hands looks for over the whole frame
    max_people: int = 6  # people followed at once, each by a Pose model of its own (pose_people)
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    rate: float = MODEL_RATE
    # What the notes need of the pose (sources/keys.py): the keys source reads the notes off the keys and asks only
    # for fingertips, near a press, so on a keyboard clip no one's body is followed and the models run on every
    # `model_every`-th frame (the band of keys is still sampled on every frame).
    bodies: bool = True
    model_every: int = 1
    # What the strike source needs (sources/strikes.py): wrists, which Pose gives with the body, so Hands runs
    # only on the frames where some person followed lacks a wrist Pose sees ("where wrists unseen"), not on
    # every frame ("always").
    hands: HandsWhen = "always"

    def __post_init__(self) -> None:
        if self.hands not in get_args(HandsWhen):
            raise InputError(f"hands must be one of {', '.join(get_args(HandsWhen))}, got {self.hands!r}")
        if not 1 <= self.model_every <= 4:
            raise InputError(f"model every must be between 1 and 4 frames, got {self.model_every}")
        if self.model_complexity not in (0, 1):
            raise InputError(f"model complexity must be 0 or 1, got {self.model_complexity}")
        if not 1 <= self.max_hands <= 8:
            raise InputError(f"max hands must be between 1 and 8, got {self.max_hands}")
        if not 1 <= self.max_people <= 8:
            raise InputError(f"max people must be between 1 and 8, got {self.max_people}")
        if not 64 <= self.max_size <= 4096:
            raise InputError(f"max size must be between 64 and 4096 pixels, got {self.max_size}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"{name.replace('_', ' ')} must be between 0 and 1, got {getattr(self, name)}")
        if not 1 <= self.rate <= 240:
            raise InputError(f"keypoint rate must be between 1 and 240 per second, got {self.rate}")


def default_cache_dir() -> Path:
    """FOLEY_CACHE_DIR/keypoints if set, else the user's cache folder."""
    root = os.environ.get("FOLEY_CACHE_DIR") or platformdirs.user_cache_dir("foley")
    return Path(root) / "keypoints"


def cache_key(content_hash: str, start: float, end: float, settings: PoseSettings) -> str:
    """sha256 over the video's content, the range, every setting and the code and MediaPipe versions."""
    fields = {
        "video": content_hash, "start": round(start, 6), "end": round(end, 6),
        "settings": dataclasses.asdict(settings), "pose_version": POSE_VERSION,
        "mediapipe": package_version("mediapipe"),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


#: Content hashes of the videos this process has read, by what says the file is unchanged (path, inode, size,
#: modification time): a timeline's clips mostly come from a few long recordings, and each clip hashed the whole
#: file again (a 2 GB camera file: a second or two a clip).
_HASHES: dict[tuple[str, int, int, int], str] = {}


def content_hash_of(path: Path) -> str:
    """The video's content hash (video.content_hash), computed once per process for an unchanged file."""
    try:
        stat = path.stat()
    except OSError:
        return video.content_hash(path)  # which says why it cannot be read
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        if len(_HASHES) >= 64:
            _HASHES.clear()
        _HASHES[key] = video.content_hash(path)
    return _HASHES[key]


def extract_keypoints(
    video_path: str | Path,
    start: float | None = 0.0,
    end: float | None = None,
    settings: PoseSettings = PoseSettings(),
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
) -> Keypoints:
    """Body and hand keypoints of every performer in [start, end) of the video, at settings.rate.

    P = 0 when no body or hand was seen anywhere in the range. `progress(fraction, message)` is called every
    few frames and may raise Cancelled: the workers are stopped and no cache file is written.
    """
    return extract(video_path, start, end, settings, progress, cache_dir)[0]


def extract(
    video_path: str | Path,
    start: float | None = 0.0,
    end: float | None = None,
    settings: PoseSettings = PoseSettings(),
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    band: BandSampler | None = None,
) -> tuple[Keypoints, BandRows | None]:
    """`extract_keypoints`, and `band` sampled on every frame the workers decode (bands.py), cached beside the
    keypoints. The rows are None when the keypoints came from the cache without this band's rows (no frame was
    decoded) or the band was made for another frame size: the caller then reads the frames itself."""
    report = progress or (lambda fraction, message: None)
    info = video.probe(video_path)
    start, end = video.resolve_range(info, start, end)
    key = cache_key(content_hash_of(info.path), start, end, settings)
    cache_file = Path(cache_dir or default_cache_dir()) / f"{key}.npz"
    if cache_file.is_file():
        try:
            keypoints = Keypoints.load(cache_file)
        except InputError:
            pass  # corrupt: recomputed and replaced below
        else:
            report(1.0, "cached")
            return keypoints, _cached_rows(cache_file, band)

    raw = _run_workers(info, start, end, settings, report, band)
    keypoints = keypoints_from_detections(raw, start, end, settings.rate, (info.width, info.height))
    try:
        keypoints.save(cache_file)
    except (OSError, OutputError):
        pass  # an unwritable cache (or a full disk under it) only costs time on the next run
    report(1.0, f"keypoints: {keypoints.num_performers} performer(s)")
    rows = BandRows(raw.band_times, raw.band) if band is not None and raw.band.shape[1] == band.width else None
    if rows is not None and band is not None:
        with contextlib.suppress(OSError, OutputError):
            rows.save(_band_file(cache_file, band))
    return keypoints, rows


def _band_file(cache_file: Path, band: BandSampler) -> Path:
    """Where the rows of `band` for the keypoints in `cache_file` are cached."""
    return cache_file.with_name(f"{cache_file.stem}.band-{band.digest()}.npz")


def _cached_rows(cache_file: Path, band: BandSampler | None) -> BandRows | None:
    if band is None or not _band_file(cache_file, band).is_file():
        return None
    try:
        return BandRows.load(_band_file(cache_file, band), band.width)
    except InputError:
        return None  # corrupt: the caller decodes the frames


def keypoints_from_detections(
    raw: pose_mediapipe.RawDetections, start: float, end: float, rate: float, frame_size: tuple[int, int]
) -> Keypoints:
    """Drop hallucinated bodies, group detections into performers and resample them to `rate`."""
    body = pose_mediapipe.drop_ghost_bodies(raw.times, raw.body, raw.body_id)
    bodies, hands = assign_performers(raw.times, body, raw.body_id, raw.hand_xy, raw.hand_label, raw.hand_score,
                                      frame_size)
    performers, frames = bodies.shape[:2]
    joints = np.concatenate([bodies, hands.reshape(performers, frames, 2 * NUM_HAND_JOINTS, 3)], axis=2)
    sampled = resample(raw.times, joints, start, end, rate)
    count = sample_count(start, end, rate)
    return Keypoints(
        rate=rate,
        start=start,
        body=np.ascontiguousarray(sampled[:, :, :NUM_BODY_JOINTS]),
        hands=np.ascontiguousarray(sampled[:, :, NUM_BODY_JOINTS:].reshape(performers, count, 2, NUM_HAND_JOINTS, 3)),
        frame_size=frame_size,
    )


#: Caps the pose worker processes of one extraction, for callers that already run clips in parallel (a Ray
#: task holds one CPU). It does not change the keypoints' values beyond chunk borders, so it is not cached on.
WORKERS_ENV = "FOLEY_POSE_WORKERS"


def worker_count(start: float, end: float) -> int:
    """One worker per available core, but no chunk shorter than MIN_CHUNK_SECONDS (a worker takes ~2 s to start)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cap = os.environ.get(WORKERS_ENV, "")
    if cap.isdigit() and int(cap) > 0:
        cores = min(cores, int(cap))
    return max(1, min(cores, int((end - start) // MIN_CHUNK_SECONDS)))


def _run_workers(
    info: video.VideoInfo, start: float, end: float, settings: PoseSettings, report: Progress,
    band: BandSampler | None = None,
) -> pose_mediapipe.RawDetections:
    """Split the range into one chunk per worker process, relay their progress, join their detections.

    Any failure or cancellation stops every worker before the exception leaves this function.
    """
    count = worker_count(start, end)
    bounds = [start + (end - start) * i / count for i in range(count)] + [end]
    expected = max(1, round((end - start) * float(info.frame_rate)))
    done = [0.0] * count
    report(0.0, "starting body and hand tracking")
    _trim_heap()
    with tempfile.TemporaryDirectory(prefix="foley-pose-") as scratch:
        outputs = [Path(scratch) / f"chunk{i}.npz" for i in range(count)]
        band_file = Path(scratch) / "band.npz" if band is not None else None
        if band is not None and band_file is not None:
            band.save(band_file)
        chunks = [Chunk(info.path, bounds[i], bounds[i + 1], settings, outputs[i], band_file) for i in range(count)]
        workers = pose_workers.start(chunks)
        ok = False
        try:
            last_report = time.monotonic()
            while True:
                changed = False
                for i, worker in enumerate(workers):
                    for message in worker.messages():
                        if "error" in message:
                            raise _worker_error(message)
                        if "progress" in message:
                            done[i], changed = message["progress"], True
                    worker.raise_if_crashed()
                if not any(worker.running() for worker in workers):
                    break
                # Report on news, and at least twice a second so a cancel works while the models load.
                if changed or time.monotonic() - last_report >= 0.5:
                    status = f"tracking body and hands ({sum(done):.0f}/{expected} frames)"
                    report(min(0.99, sum(done) / expected), status)
                    last_report = time.monotonic()
                time.sleep(0.05)
            ok = True
        finally:
            pose_workers.finish(workers, ok)
        parts = []
        for chunk, output in enumerate(outputs):
            with np.load(output) as data:
                part = pose_mediapipe.RawDetections(**data)
            if band is not None:
                part.band = _rows(pose_mediapipe.rows_file(output), len(part.band_times), band.width)
            # Each worker numbers its people from 0: ids are made distinct across chunks.
            part.body_id[part.body_id >= 0] += chunk * _IDS_PER_CHUNK
            parts.append(part)
        return pose_mediapipe.RawDetections.concatenate(parts)


def _trim_heap() -> None:
    """Give the heap's free memory back to the system before the workers start (glibc keeps it): the keyboard
    search before pose frees about 40 MB of frames and arrays, and the pose stage, this process and its
    workers together, is where a run's memory peaks."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rows(path: Path, frames: int, width: int) -> np.ndarray:
    """The band rows a worker wrote to `path`: (frames, width) when it sampled every frame, else (frames, 0)."""
    if frames and path.is_file() and path.stat().st_size == frames * width:
        return np.fromfile(path, np.uint8).reshape(frames, width)
    return np.zeros((frames, 0), np.uint8)


#: Person ids of one worker chunk are offset by chunk index times this, so no two chunks share an id.
_IDS_PER_CHUNK = 1_000_000


def _worker_error(message: dict) -> Exception:
    """The worker's error as the engine's own exception class where it is one, else a PoseWorkerError whose
    one-line message names the failure and whose `detail` keeps the worker's traceback for the log."""
    error_class = getattr(errors, message["error"], None)
    if isinstance(error_class, type) and issubclass(error_class, FoleyError):
        return error_class(message["message"])
    return PoseWorkerError(f"pose worker failed: {message['message']}", message.get("detail", ""))
