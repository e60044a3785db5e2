"""Writing the chosen take: its .wav + .mid, or the updated timeline, through the engine; and the JSON an editor
adapter reads back.

The engine writes the take's files all-or-nothing (`write_take`) and places it on a timeline exactly as
`foley timeline --clips NAME` would (`place_take`), so a failure or a cancel never leaves half a file where an
editor would import it, and a timeline exported from the panel is the one the command would have written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path

from foley_engine import OutputError, TimelineOptions, place_take, write_take

from .generation import Take


def take_paths(video: Path, out_dir: Path) -> dict[str, Path]:
    """NAME.foley.wav and NAME.foley.mid, the names `foley generate` writes."""
    return {"wav": out_dir / f"{video.stem}.foley.wav", "mid": out_dir / f"{video.stem}.foley.mid"}


def export_take(take: Take, wav: Path, mid: Path) -> dict[str, Path]:
    """Write the take's audio and notes; both appear together or neither does. Replaces existing files
    (the caller asked the user)."""
    write_take(take.performance, take.audio, wav, mid, take.result.sample_rate, force=True)
    return {"wav": wav, "mid": mid}


def export_timeline(source: Path, output: Path, clip: int, take: Take) -> dict[str, Path]:
    """SOURCE plus a Foley track holding the take at clip `clip`'s place (the engine's 1-based index), written
    to OUTPUT with the take's WAV and MIDI beside it; replaces existing files (the caller asked the user)."""
    settings = take.settings
    options = TimelineOptions(instrument=settings.instrument,
                              generator=dataclasses.replace(settings.generator_options(), variations=1))
    return place_take(source, output, clip, take.performance, take.audio, options,
                      sample_rate=take.result.sample_rate, force=True)


def result_record(take: Take, outputs: dict[str, Path], clip: str | None = None) -> dict:
    """What an editor adapter reads back: the engine's summary for this take, its settings and the files."""
    settings = take.settings
    record = take.result.summary() | {
        "generator": take.performance.generator, "notes": len(take.notes),
        "take": take.number, "model": settings.model_spec(),
        "outputs": {kind: str(path) for kind, path in outputs.items()},
    }
    if settings.samples():
        record |= {"seed": settings.seed, "temperature": settings.temperature, "variations": settings.variations}
    if clip is not None:
        record["clip"] = clip
    return record


def write_result(path: Path, record: dict) -> None:
    """The record as JSON at `path`, whole or not at all (the adapter reads it once the panel exits 0)."""
    temp = path.with_name(f".{path.name}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(temp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
