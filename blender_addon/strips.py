"""Reading movie strips as engine input and placing the generated sound strips: the add-on's VSE logic.

Times follow the picture: a strip's visible frames, its trim and its start (before frame 1 too) are read in
scene frames at `fps / fps_base`; which second of the movie each frame shows comes from the strip's content
length against the movie's real duration, so a movie Blender plays frame by frame at another frame rate is
handled as the speed change it is.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bpy

from . import compat
from .engine import UserError
from .timeline_io import StripSource

#: Custom property group on every generated sound strip (the same namespace the engine uses in OTIO).
PROP = "foley"
NAME_PREFIX = "Foley · "
MAX_CHANNEL = 128


@dataclass(frozen=True)
class Generated:
    """What is recorded on a sound strip, to find and replace it on the next run."""

    source: str  # the movie strip's name
    instrument: str
    seed: int
    temperature: float
    media: str  # the movie file
    engine_version: str
    notes: int
    model: str  # the model the engine says it used: what `--model` was given, else its default
    performer: int = 0  # 0: the mix of all performers; else this performer's own sound (1 = leftmost)


def movie_path(strip: Any) -> Path:
    """The movie's absolute path; relative paths need the .blend to be saved, they are relative to it."""
    if strip.filepath.startswith("//") and not bpy.data.filepath:
        raise UserError(f"Save the .blend first: movie strip '{strip.name}' uses a path relative to it "
                        f"({strip.filepath})")
    path = Path(os.path.normpath(bpy.path.abspath(strip.filepath)))
    if not path.is_file():
        raise UserError(f"The movie of strip '{strip.name}' is not there: {path}")
    return path


def _movie_length(path: Path) -> tuple[float, float]:
    """(seconds, fps) of a movie, as Blender's own decoder sees it; leaves no data-block behind."""
    before = set(bpy.data.movieclips)
    try:
        clip = bpy.data.movieclips.load(str(path), check_existing=True)
    except RuntimeError as error:
        raise UserError(f"Blender cannot read the movie {path.name}: {error}") from None
    try:
        return clip.frame_duration / clip.fps, clip.fps
    finally:
        if clip not in before:
            bpy.data.movieclips.remove(clip)


def strip_source(strip: Any, rate: float) -> StripSource:
    """The seconds of media a movie strip shows, and over which scene frames."""
    path = movie_path(strip)
    seconds, fps = _movie_length(path)
    # animation_offset_* trim the movie itself (in its own frames) before the strip's content starts.
    shown = seconds - (strip.animation_offset_start + strip.animation_offset_end) / fps
    frames = compat.content_length(strip)
    speed = shown / (frames / rate)
    # Blender either plays the movie in real time or frame by frame; the measured speed differs from the
    # exact one only by the rounding of the content to whole frames (at most one frame over the content).
    nearest = min((1.0, rate / fps), key=lambda exact: abs(speed / exact - 1))
    if abs(speed / nearest - 1) <= 1 / frames:
        speed = nearest
    start, end = compat.visible_range(strip)
    media_start = strip.animation_offset_start / fps + (start - compat.content_start(strip)) * speed / rate
    return StripSource(strip.name, path, strip.channel, start, end - start, media_start, speed)


def movie_strips(context: Any) -> list[Any]:
    return [strip for strip in compat.selected_strips(context) if strip.type == "MOVIE"]


def generated_for(scene: Any, source: str) -> list[Any]:
    """Sound strips an earlier run made for the movie strip named `source`."""
    return [strip for strip in compat.strips(scene)
            if strip.type == "SOUND" and strip.get(PROP) is not None and strip[PROP].get("source") == source]


def free_channel(scene: Any, start: int, end: int, near: int, first_choice: int = 0) -> int:
    """`first_choice` if nothing is there over [start, end), else the nearest such channel to `near`, below first."""
    busy: dict[int, list[tuple[int, int]]] = {}
    for strip in compat.strips(scene):
        busy.setdefault(strip.channel, []).append(compat.visible_range(strip))

    def free(channel: int) -> bool:
        return 1 <= channel <= MAX_CHANNEL and all(end <= s or e <= start for s, e in busy.get(channel, ()))

    if first_choice and free(first_choice):
        return first_choice
    for distance in range(1, MAX_CHANNEL):
        for channel in (near - distance, near + distance):
            if free(channel):
                return channel
    raise UserError(f"No free channel for the foley of frames {start}-{end}")


def sound_name(movie: str, performer: int = 0) -> str:
    """`Foley · movie` for the mix, `Foley · movie · performer 2` for a performer's own sound."""
    return f"{NAME_PREFIX}{movie}" + (f" · performer {performer}" if performer else "")


def place_sounds(scene: Any, movie: Any, sounds: list[tuple[Path, Generated]], channel: int = 0) -> list[Any]:
    """Sound strips under (or over) `movie` that start and end with it, replacing the previous ones: one with
    the mix, or one per performer, left to right, each on the next free channel below the one before.

    `channel` 0 means the nearest free channel to the movie; replaced strips keep their channels when free.
    """
    previous = sorted(generated_for(scene, movie.name), key=lambda strip: strip[PROP].get("performer", 0))
    kept = [strip.channel for strip in previous]
    for strip in previous:
        compat.strips(scene).remove(strip)
    start, end = compat.visible_range(movie)
    near, placed = channel or movie.channel, []
    for number, (wav, generated) in enumerate(sounds):
        first_choice = (channel if number == 0 else 0) or (kept[number] if number < len(kept) else 0)
        near = free_channel(scene, start, end, near, first_choice)  # the next one goes nearest to this one
        sound = compat.strips(scene).new_sound(name=sound_name(movie.name, generated.performer), filepath=str(wav),
                                               channel=near, frame_start=start)
        compat.set_visible_range(sound, start, end)
        if bpy.data.filepath:
            sound.sound.filepath = bpy.path.relpath(str(wav))  # the project folder can move
        sound[PROP] = asdict(generated)
        placed.append(sound)
    return placed
