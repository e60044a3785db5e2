"""Real training pairs from real footage: keypoints from the video, notes from its sound or its labels.

Any musician's video carries its soundtrack, so the notes can come from there (transcription.py: basic-pitch).
Folders that come with better labels use them instead (discovery.py): a MIDI file beside the video (recorded
from the instrument: its clock is aligned to the video by `alignment.align` and the estimate is kept in the
manifest) or URMP note annotations; MUSIC-style folders (a video plus a separate audio file of the same name)
are transcribed from that audio file.

`build_dataset` writes one shard per source video (shards.write_shard, so training reads it like the
synthetic data), named by split and video hash; the split is decided by the hash of the video's content (or
of its folder, for several takes of one piece; splits.split_of), so no video is ever in two splits. Each
finished video gets a status file, written last, so an interrupted build resumes where it stopped; videos that
cannot give a pair (no audio, no notes, no performer for the pose stage, more performers than labelled parts)
are skipped with the reason in the manifest rather than guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..instruments import get_instrument
from ..keypoints import Keypoints
from ..midi import read_notes
from ..notes import Note
from ..outputs import write_json
from ..pose.extract import PoseSettings, extract_keypoints
from ..video import content_hash, probe
from .alignment import align
from .discovery import Source, discover, read_urmp_notes, urmp_instrument
from .recordings import clip_notes, crop
from .shards import Example, write_shard
from .splits import split_of
from .transcription import TRANSCRIBER, TranscriptionSettings, decode_audio, transcribe

DATASET_FORMAT = "foley-real-dataset"
#: 2: splits by splits.split_of (crc32, as the synthetic data); version 1 builds are rebuilt, not mixed in.
DATASET_VERSION = 2
_MIN_VISIBLE = 0.5  # a window needs its performer in at least this fraction of frames

Progress = Callable[[str], None]


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
        for stale in out.glob(f"*-{digest[:16]}.npz"):  # an earlier build's shard, maybe in another split
            stale.unlink()
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
