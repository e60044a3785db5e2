"""Which videos a folder of real footage holds, and where each one's notes come from.

Folders that come with better labels than the soundtrack use them: a MIDI file beside the video (recorded from
the instrument; its clock is aligned to the video later), URMP note annotations (`Notes_*.txt`, one per part,
on the video's clock), or a separate audio file of the same name (MUSIC-style folders). The instrument is
named by --instrument, by a folder name, or by a URMP part's abbreviation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import InputError
from ..instruments import INSTRUMENTS
from ..notes import Note

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
#: Folder names and URMP part abbreviations that name one of the engine's instruments.
ALIASES = {"acoustic-guitar": "guitar", "electric-bass": "bass", "horn": "french-horn", "sax": "saxophone",
           "contrabass": "double-bass", "vn": "violin", "va": "viola", "vc": "cello", "db": "double-bass",
           "fl": "flute", "ob": "oboe", "cl": "clarinet", "bn": "bassoon", "tpt": "trumpet", "hn": "french-horn",
           "tbn": "trombone", "tba": "tuba"}


#: Where a video's notes come from: its soundtrack, an audio file beside it, a MIDI file, or URMP's note lists
Labels = Literal["audio", "audio-file", "midi", "urmp"]


@dataclass(frozen=True)
class Source:
    """One video and where its notes come from."""

    video: Path
    labels: Labels  # "audio" (the video's soundtrack), "audio-file", "midi" or "urmp"
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
