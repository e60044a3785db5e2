"""A recording for evaluation: one video and the MIDI recorded from the instrument, on the video's clock.

Also the two cuts every real example is made with, a range of keypoints and the notes inside it, both on the
video clock (the dataset build cuts windows with them too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError
from ..instruments import get_instrument
from ..keypoints import Keypoints
from ..midi import read_notes
from ..notes import Note
from ..pose.extract import PoseSettings, extract_keypoints
from ..video import probe
from .alignment import align
from .discovery import VIDEO_SUFFIXES
from .shards import Example


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


def load_recording(folder: str | Path, instrument: str = "piano", offset: float | None = None,
                   settings: PoseSettings = PoseSettings(), margin: float = 1.0,
                   progress: Callable[[float, str], None] | None = None,
                   within: tuple[float, float] | None = None) -> tuple[Example, dict]:
    """A folder with one video and the MIDI recorded from the instrument, as one example on the video clock.

    The offset between the clocks is estimated from the performer's motion (alignment.align) unless given;
    the example covers the notes plus `margin` seconds, within the video, or exactly the video seconds `within`
    (only the notes that start in them: a stretch of a long recording). Returns the example and the
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
    if within is not None:
        start, end = max(0.0, within[0]), min(info.duration, within[1])
    kept = clip_notes(shifted, start, end)
    if not kept:
        raise InputError(f"no note of {midis[0].name} falls inside the video at offset {offset:.3f} s")
    example = Example(crop(keypoints, start, end), [kept], name, f"recording:{folder.name}", "real")
    return example, {"video": str(videos[0]), "midi": str(midis[0]), "alignment": found,
                     "range_seconds": [round(start, 3), round(end, 3)], "notes_in_midi": len(notes),
                     "notes_evaluated": len(kept)}
