"""Real training and evaluation pairs from real footage: keypoints from the video, notes from its sound.

Any musician's video carries its soundtrack, so the notes can come from there: Spotify's basic-pitch
(ICASSP 2022 model, shipped inside its 0.4.0 wheel as ONNX and run with onnxruntime, offline, without
TensorFlow) transcribes the audio into pseudo-ground-truth MIDI. Folders that come with better labels use
them instead: a MIDI file beside the video (recorded from the instrument: its clock is aligned to the video
by `alignment.align` and the estimate is kept in the manifest) or URMP note annotations (`Notes_*.txt`,
one per part, on the video's clock). MUSIC-style folders (a video plus a separate audio file of the same
name) are transcribed from that audio file.

`build_dataset` writes one shard per source video (examples.write_shard, so training reads it like the
synthetic data), named by split and video hash; the split is decided by the hash of the video's content (or
of its folder, for several takes of one piece), so no video is ever in two splits. Each finished video gets
a status file, written last, so an interrupted build resumes where it stopped; videos that cannot give a
pair (no audio, no notes, no performer for the pose stage, more performers than labelled parts) are
skipped with the reason in the manifest rather than guessed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from ..errors import FoleyError, InputError
from ..instruments import INSTRUMENTS, Instrument, get_instrument
from ..keypoints import Keypoints
from ..midi import read_notes
from ..notes import Note
from ..outputs import write_json
from ..pose.extract import PoseSettings, extract_keypoints
from ..video import content_hash, probe
from .alignment import align
from .phrases import HELD_OUT_PERCENT
from .shards import Example, write_shard

AUDIO_RATE = 22050  # what the basic-pitch model was trained on
TRANSCRIBER = "basic-pitch 0.4.0, icassp_2022 nmp.onnx via onnxruntime"
INSTALL_HINT = ("basic-pitch is not installed; install it without TensorFlow: `pip install --no-deps "
                "basic-pitch==0.4.0 && pip install librosa 'resampy>=0.4.3' scikit-learn onnxruntime`")
DATASET_FORMAT = "foley-real-dataset"
DATASET_VERSION = 1
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
#: Folder names and URMP part abbreviations that name one of the engine's instruments.
ALIASES = {"acoustic-guitar": "guitar", "electric-bass": "bass", "horn": "french-horn", "sax": "saxophone",
           "contrabass": "double-bass", "vn": "violin", "va": "viola", "vc": "cello", "db": "double-bass",
           "fl": "flute", "ob": "oboe", "cl": "clarinet", "bn": "bassoon", "tpt": "trumpet", "hn": "french-horn",
           "tbn": "trombone", "tba": "tuba"}
_N_OVERLAP_FRAMES = 30  # basic-pitch's own window overlap, in model frames
_MIN_VISIBLE = 0.5  # a window needs its performer in at least this fraction of frames

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TranscriptionSettings:
    """basic-pitch's own defaults (predict()); pitches are also limited to the instrument's range."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    min_note_ms: float = 127.7


# ---------------------------------------------------------------------------------------------- audio


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
        if container.streams.video and container.streams.video[0].start_time is not None:
            video = container.streams.video[0]
            origin = float(video.start_time * video.time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, first = [], None
        try:
            for frame in container.decode(stream):
                if first is None and frame.pts is not None:
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
        raise FoleyError(f"{INSTALL_HINT} ({exc})") from exc
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
        for key, value in zip(parts, outputs):
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


# ----------------------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """One video and where its notes come from."""

    video: Path
    labels: str  # "audio" (the video's soundtrack), "audio-file", "midi" or "urmp"
    label_files: tuple[Path, ...]  # the audio file, MIDI file or URMP Notes files (empty: the video itself)
    instrument: str | None  # None when neither --instrument nor the folders name one
    group: Path  # the folder whose takes share a split with --split-by folder


def instrument_name(text: str) -> str | None:
    """The engine's instrument named by a folder name or URMP abbreviation, or None."""
    key = text.strip().lower().replace("_", "-").replace(" ", "-")
    key = ALIASES.get(key, key)
    return key if key in INSTRUMENTS else None


def discover(root: str | Path, instrument: str | None = None) -> list[Source]:
    """Every video under `root` with the best labels beside it: MIDI > URMP notes > audio file > soundtrack."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"videos folder not found: {root}")
    sources = []
    for video in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()):
        folder = video.parent
        siblings = [p for p in folder.iterdir() if p.is_file()]
        videos_here = [p for p in siblings if p.suffix.lower() in VIDEO_SUFFIXES]
        midis = [p for p in siblings if p.suffix.lower() in (".mid", ".midi")]
        only_pair = len(midis) == 1 and len(videos_here) == 1
        named = [p for p in midis if p.stem == video.stem] or (midis if only_pair else [])
        urmp = sorted(folder.glob("Notes_*.txt"))
        audio = [p for p in siblings if p.suffix.lower() in AUDIO_SUFFIXES and p.stem == video.stem]
        name = instrument or next((n for part in reversed(video.relative_to(root).parts[:-1])
                                   if (n := instrument_name(part))), None)
        if named:
            sources.append(Source(video, "midi", (named[0],), name, folder))
        elif urmp:
            sources.append(Source(video, "urmp", tuple(urmp), instrument, folder))
        elif audio:
            sources.append(Source(video, "audio-file", (audio[0],), name, folder))
        else:
            sources.append(Source(video, "audio", (), name, folder))
    return sources


def read_urmp_notes(path: str | Path, velocity: int = 80) -> list[Note]:
    """URMP `Notes_*.txt`: one note per line, "onset(s) frequency(Hz) duration(s)", tab or space separated."""
    notes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            onset, frequency, duration = (float(v) for v in fields[:3])
        except ValueError:
            raise InputError(f"{path}:{number}: expected onset, frequency and duration, got {line!r}") from None
        if frequency > 0 and duration > 0:
            pitch = int(round(69 + 12 * np.log2(frequency / 440.0)))
            notes.append(Note(onset, onset + duration, min(127, max(0, pitch)), velocity))
    return sorted(notes)


def urmp_instrument(path: Path) -> str | None:
    """The instrument of a URMP part file, from its abbreviation (Notes_2_vc_01_Jupiter.txt -> cello)."""
    match = re.match(r"Notes_\d+_([a-z]+)_", path.name)
    return instrument_name(match.group(1)) if match else None


def split_of(key: str) -> str:
    """train/val/test by the key's hash, with the held-out shares the synthetic data uses."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100
    if bucket < HELD_OUT_PERCENT["test"]:
        return "test"
    return "val" if bucket < HELD_OUT_PERCENT["test"] + HELD_OUT_PERCENT["val"] else "train"


# ----------------------------------------------------------------------------------------- examples


def crop(keypoints: Keypoints, start: float, end: float, performer: int | None = None) -> Keypoints:
    """The samples of [start, end) on the video clock, of one performer or all."""
    first = max(0, int(round((start - keypoints.start) * keypoints.rate)))
    last = min(keypoints.num_frames, int(round((end - keypoints.start) * keypoints.rate)))
    who = slice(None) if performer is None else slice(performer, performer + 1)
    return Keypoints(keypoints.rate, keypoints.start + first / keypoints.rate, keypoints.body[who, first:last],
                     keypoints.hands[who, first:last], keypoints.frame_size)


def clip_notes(notes: Sequence[Note], start: float, end: float) -> list[Note]:
    """Notes starting in [start, end), relative to start, cut at end."""
    return [Note(n.start - start, min(n.end, end) - start, n.pitch, n.velocity)
            for n in notes if start <= n.start < end and min(n.end, end) > n.start]


def performer_order(keypoints: Keypoints) -> list[int]:
    """Performers from image left to right (URMP seats parts left to right in track order)."""
    centres = []
    for p in range(keypoints.num_performers):
        joints = np.concatenate([keypoints.body[p], keypoints.hands[p].reshape(keypoints.num_frames, -1, 3)], axis=1)
        seen = joints[..., 2] > 0
        centres.append(float(np.median(joints[..., 0][seen])) if seen.any() else 0.5)
    return sorted(range(keypoints.num_performers), key=centres.__getitem__)


def windows(keypoints: Keypoints, parts: Sequence[tuple[int, str, list[Note]]], window: float, source: str,
            split: str) -> list[Example]:
    """Cut each (performer, instrument, notes on the video clock) into examples of `window` seconds.

    The last window is kept when at least half as long; windows where the performer is seen in fewer than
    half the frames are dropped, since their notes have nothing to be learned from."""
    examples = []
    end = keypoints.start + keypoints.num_frames / keypoints.rate
    start = keypoints.start
    while end - start >= window / 2:
        stop = min(start + window, end)
        for performer, name, notes in parts:
            part = crop(keypoints, start, stop, performer)
            seen = (part.body[0, ..., 2] > 0).any(axis=1) | (part.hands[0, ..., 2] > 0).any(axis=(1, 2))
            if part.num_frames and seen.mean() >= _MIN_VISIBLE:
                examples.append(Example(part, [clip_notes(notes, start, stop)], name,
                                        f"{source}@{start:.1f}s", split))
        start = stop
    return examples


# ------------------------------------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildConfig:
    instrument: str | None = None
    split_by: str = "video"  # or "folder"
    window: float = 16.0
    transcription: TranscriptionSettings = TranscriptionSettings()
    pose: PoseSettings = PoseSettings()

    def to_dict(self) -> dict:
        return asdict(self) | {"transcriber": TRANSCRIBER, "format": f"{DATASET_FORMAT}/{DATASET_VERSION}"}


def build_dataset(videos: str | Path, out: str | Path, config: BuildConfig = BuildConfig(),
                  progress: Progress | None = None) -> dict:
    """Turn every video under `videos` into shards in `out` (resumable); returns the manifest."""
    report = progress or (lambda message: None)
    videos = Path(videos)
    if config.split_by not in ("video", "folder"):
        raise InputError(f"--split-by must be video or folder, got {config.split_by!r}")
    if config.instrument:
        get_instrument(config.instrument)
    out = Path(out)
    status_dir = out / "sources"
    status_dir.mkdir(parents=True, exist_ok=True)
    settings = config.to_dict()
    records = []
    for source in discover(videos, config.instrument):
        digest = content_hash(source.video)
        status_path = status_dir / f"{digest[:16]}.json"
        if status_path.is_file():
            record = json.loads(status_path.read_text())
            if record.get("config") == settings:
                report(f"done before: {source.video.name} ({record['status']})")
                records.append(record)
                continue
        key = digest if config.split_by == "video" else str(source.group.relative_to(videos))
        record = {"video": str(source.video.relative_to(videos)), "sha256": digest, "labels": source.labels,
                  "label_files": [str(p.relative_to(videos)) for p in source.label_files],
                  "split": split_of(key), "config": settings}
        report(f"{source.video.name}: {source.labels} labels, split {record['split']}")
        try:
            record |= _build_one(source, record["split"], out / f"{record['split']}-{digest[:16]}.npz", config,
                                 report)
        except InputError as exc:
            record |= {"status": "skipped", "reason": str(exc)}
        report(f"{source.video.name}: {record['status']}" + (f" ({record['reason']})" if "reason" in record else ""))
        write_json(status_path, record)
        records.append(record)
    manifest = _manifest(records, settings)
    write_json(out / "manifest.json", manifest)
    return manifest


def _build_one(source: Source, split: str, shard: Path, config: BuildConfig, report: Progress) -> dict:
    """Labels, keypoints, performers and windows of one video; raises InputError to skip it."""
    info = probe(source.video)
    parts_notes: list[tuple[str, list[Note]]] = []
    extra: dict = {}
    if source.labels == "urmp":
        for path in source.label_files:
            name = config.instrument or urmp_instrument(path)
            if name is None:
                raise InputError(f"cannot tell the instrument of {path.name}; pass --instrument")
            parts_notes.append((name, read_urmp_notes(path)))
    else:
        if source.instrument is None:
            raise InputError("no instrument: pass --instrument or put the video in a folder named after one")
        instrument = get_instrument(source.instrument)
        if source.labels == "midi":
            notes = [n for track in read_notes(source.label_files[0]) for n in track]
        else:
            if source.labels == "audio" and not info.has_audio:
                raise InputError("the video has no audio stream to transcribe")
            report(f"{source.video.name}: transcribing with basic-pitch")
            audio = source.label_files[0] if source.label_files else source.video
            notes = transcribe(decode_audio(audio), instrument, config.transcription)
        parts_notes.append((instrument.name, notes))
    if not any(notes for _, notes in parts_notes):
        raise InputError("no notes in the labels (silent soundtrack, or nothing basic-pitch could hear)")
    report(f"{source.video.name}: extracting keypoints")
    keypoints = extract_keypoints(info.path, settings=config.pose)
    if keypoints.num_performers == 0:
        raise InputError("the pose stage found no performer in the video")
    if source.labels == "midi":  # an instrument's MIDI has its own clock: estimate the offset and keep it
        alignment = align(keypoints, parts_notes[0][1], keyboard=get_instrument(parts_notes[0][0]).family == "keys")
        extra["alignment"] = alignment.to_dict()
        parts_notes = [(name, [Note(n.start - alignment.offset, n.end - alignment.offset, n.pitch, n.velocity)
                               for n in notes if n.start >= alignment.offset]) for name, notes in parts_notes]
    if keypoints.num_performers != len(parts_notes):
        raise InputError(f"the pose stage found {keypoints.num_performers} performers for {len(parts_notes)} "
                         "labelled part(s); cannot tell who played what")
    order = performer_order(keypoints)
    parts = [(order[i], name, notes) for i, (name, notes) in enumerate(parts_notes)]
    examples = windows(keypoints, parts, config.window, f"video:{source.video.name}", split)
    if not examples:
        raise InputError("the performer is visible in too few frames of every window")
    write_shard(examples, shard)
    return extra | {"status": "ok", "shard": shard.name, "examples": len(examples),
                    "seconds": round(sum(e.duration for e in examples), 2),
                    "notes": sum(len(t) for e in examples for t in e.tracks),
                    "instruments": sorted({e.instrument for e in examples})}


def load_recording(folder: str | Path, instrument: str = "piano", offset: float | None = None,
                   settings: PoseSettings = PoseSettings(), margin: float = 1.0,
                   progress: Callable[[float, str], None] | None = None) -> tuple[Example, dict]:
    """A folder with one video and the MIDI recorded from the instrument, as one example on the video clock.

    The offset between the clocks is estimated from the performer's motion (alignment.align) unless given;
    the example covers the notes plus `margin` seconds, within the video. Returns the example and the
    provenance for the report (files, offset and how it was found, range, notes kept).
    """
    folder = Path(folder)
    videos = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    midis = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".mid", ".midi"))
    if len(videos) != 1 or len(midis) != 1:
        raise InputError(f"{folder} must hold exactly one video and one MIDI file "
                         f"(found {len(videos)} and {len(midis)})")
    name = get_instrument(instrument).name
    info = probe(videos[0])
    keypoints = extract_keypoints(info.path, settings=settings, progress=progress)
    notes = [n for track in read_notes(midis[0]) for n in track]
    if offset is None:
        alignment = align(keypoints, notes, keyboard=get_instrument(name).family == "keys")
        offset, found = alignment.offset, alignment.to_dict()
    else:
        found = {"offset": offset, "method": "given on the command line"}
    shifted = [Note(n.start - offset, n.end - offset, n.pitch, n.velocity) for n in notes if n.start - offset >= 0]
    start = max(0.0, min((n.start for n in shifted), default=0.0) - margin)
    end = min(info.duration, max((n.end for n in shifted), default=info.duration) + margin)
    kept = clip_notes(shifted, start, end)
    if not kept:
        raise InputError(f"no note of {midis[0].name} falls inside the video at offset {offset:.3f} s")
    example = Example(crop(keypoints, start, end), [kept], name, f"recording:{folder.name}", "real")
    return example, {"video": str(videos[0]), "midi": str(midis[0]), "alignment": found,
                     "range_seconds": [round(start, 3), round(end, 3)], "notes_in_midi": len(notes),
                     "notes_evaluated": len(kept)}


def _manifest(records: list[dict], settings: dict) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    counts: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    for record in ok:
        for name in record["instruments"]:
            counts.setdefault(record["split"], {}).setdefault(name, 0)
            counts[record["split"]][name] += record["examples"]
        seconds[record["split"]] = round(seconds.get(record["split"], 0.0) + record["seconds"], 2)
    return {"format": DATASET_FORMAT, "version": DATASET_VERSION, "config": settings,
            "videos": len(records), "built": len(ok), "skipped": len(records) - len(ok),
            "counts": counts, "seconds": seconds,
            "sources": [{k: v for k, v in r.items() if k != "config"} for r in records]}
