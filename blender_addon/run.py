"""One Generate Foley run: selection -> OTIO -> `foley timeline` subprocess -> sound strips.

The engine writes into a private job folder beside the outputs; only a finished run moves its WAVs out, so
a cancelled or failed run leaves nothing behind however the engine ended. The operator drives a run from a
modal timer; scripts and background Blender call `wait()` instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import bpy

from . import compat
from .audio import stretch_wav, wav_samples
from .engine import EngineInfo, EngineJob, UserError, engine_info, find_engine, missing_foley
from .strips import Generated, movie_strips, place_sounds, strip_source
from .timeline_io import FoleyClip, read_foley_clips, slug, write_timeline


@dataclass(frozen=True)
class Settings:
    """What the user chose; None is "the engine's default" (`foley info` says which), and is not passed on."""

    instrument: str | None = None  # one for all performers, or one each left to right: "violin,guitar"
    seed: int | None = None
    temperature: float | None = None  # only for models that sample (`foley info`'s models)
    channel: int = 0  # 0: the nearest free channel to each movie strip
    engine_path: str = ""  # the add-on preference; empty: detect
    model: str | None = None  # `foley timeline --model`: a named model (`foley info`) or a checkpoint's path
    stems: bool = False  # `foley timeline --stems`: a sound strip per performer instead of one with the mix

    def resolved(self, info: EngineInfo) -> Used:
        """Every None replaced by the engine's default: what the run will actually use, and what a strip records."""
        chosen = {option.name: getattr(self, option.name) for option in fields(Used)}
        return Used(**{name: info.defaults[name] if value is None else value for name, value in chosen.items()})


@dataclass(frozen=True)
class Used:
    """The generator options a run used: the user's, else the engine's defaults."""

    instrument: str
    seed: int
    temperature: float
    model: str


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)  # sound strip names
    warnings: list[str] = field(default_factory=list)


def model_spec(choice: str, checkpoint: str) -> str:
    """The operator's model choice (a named model of the engine's, or "file") as `--model` takes it."""
    if choice != "file":
        return choice
    if not checkpoint.strip():
        raise UserError("Choose the model's checkpoint file, or another model")
    return os.path.normpath(bpy.path.abspath(checkpoint.strip()))  # a //relative path is relative to the .blend


def output_dir() -> Path:
    """`//foley` beside a saved .blend (stored as relative paths); a temp folder until it is saved."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//foley"))
    return Path(tempfile.gettempdir()) / "foley-blender"


class FoleyRun:
    def __init__(self, context: Any, settings: Settings):
        scene = compat.sequencer_scene(context)
        movies = movie_strips(context)
        if not movies:
            raise UserError("Select one or more movie strips first")
        self.settings = settings
        self.scene_name = scene.name
        self.rate = compat.scene_rate(scene)
        self.sources = {source.name: source for source in (strip_source(movie, self.rate) for movie in movies)}
        engine, _ = find_engine(settings.engine_path)
        self.info = engine_info(engine)
        self.folder = output_dir()
        self.made_folder = not self.folder.exists()
        self.job_dir: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.job_dir = Path(tempfile.mkdtemp(prefix=".foley-job-", dir=self.folder))
            selection, self.result = self.job_dir / "selection.otio", self.job_dir / "selection.foley.otio"
            write_timeline(list(self.sources.values()), self.rate, selection, scene.name)
        except OSError as error:
            self.cleanup()
            raise UserError(f"Cannot write foley audio to {self.folder}: {error.strerror or error}") from None
        given = [(flag, value) for flag, value in (("--instrument", settings.instrument), ("--seed", settings.seed),
                                                    ("--model", settings.model)) if value is not None]
        self.used = settings.resolved(self.info)
        sampling = settings.temperature is not None and self.info.samples(self.used.model)
        self.job = EngineJob(engine, [
            str(selection), "-o", str(self.result), "--media-dir", str(self.job_dir), "--progress", "json",
            "--json", "--force", *(text for flag, value in given for text in (flag, str(value))),
            "--track-name", "Foley", *(["--stems"] if settings.stems else [])],
            optional={"--temperature": f"{settings.temperature:g}"} if sampling else {})
        self.progress, self.message = 0.0, "starting the engine"

    def start(self) -> None:
        self.job.start()

    def update(self) -> bool:
        """Take in the engine's progress lines; True once it has finished."""
        for event in self.job.poll():
            if event.get("type") == "progress":
                self.progress = float(event.get("overall", self.progress))
                self.message = str(event.get("message") or event.get("stage", ""))
        return self.job.done

    def wait(self) -> None:
        self.job.wait()
        self.update()

    def cancel(self) -> None:
        self.job.cancel()
        self.cleanup()

    def cleanup(self) -> None:
        """The job folder always goes; the output folder too if this run made it and left it empty."""
        if self.job_dir is not None:
            shutil.rmtree(self.job_dir, ignore_errors=True)
        if self.made_folder and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    def finish(self) -> Outcome:
        """Sound strips from the engine's timeline; raises UserError when there is nothing to place."""
        try:
            return self._finish()
        finally:
            self.cleanup()

    def _finish(self) -> Outcome:
        if self.job.cancelled:
            raise UserError("Foley cancelled; nothing was changed")
        if self.job.returncode != 0 or self.job.summary is None:
            raise UserError(f"Foley failed: {self.job.failure()}")
        outcome = Outcome(warnings=missing_foley(self.job.summary))
        clips = read_foley_clips(self.result)
        if not clips:
            raise UserError(outcome.warnings[0] if outcome.warnings else "Foley generated no audio")
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is None:
            raise UserError(f"Scene '{self.scene_name}' was deleted while foley was generated")
        if self.job.ignored:
            outcome.warnings.append(f"This engine has no {', '.join(self.job.ignored)} yet; it used its default")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        by_strip: dict[str, list[FoleyClip]] = {}
        for clip in clips:  # the mix, or with --stems each performer's clip, left to right
            by_strip.setdefault(clip.strip, []).append(clip)
        for strip, found in by_strip.items():
            outcome.created += self._place(scene, strip, sorted(found, key=lambda clip: clip.performer), stamp,
                                           outcome)
        if not outcome.created:
            raise UserError(outcome.warnings[-1])
        return outcome

    def _place(self, scene: Any, strip: str, clips: list[FoleyClip], stamp: str, outcome: Outcome) -> list[str]:
        """Sound strips for the movie strip `strip` from its Foley clips; their names, or none with a warning."""
        source = self.sources.get(strip)
        if source is None:
            outcome.warnings.append(f"The engine returned foley for an unknown strip '{strip}'")
            return []
        movie = next((item for item in compat.all_strips(scene) if item.name == source.name), None)
        if movie is None:
            outcome.warnings.append(f"Strip '{source.name}' was deleted while foley was generated")
            return []
        if compat.visible_range(movie) != (source.start, source.start + source.duration):
            outcome.warnings.append(f"Strip '{source.name}' was moved or trimmed meanwhile; generate again")
            return []
        settings, summary = self.used, self.job.summary or {}
        sounds = []
        for clip in clips:
            stem = f"{slug(source.name)}.{slug(str(settings.instrument))}.seed{settings.seed}.{stamp}"
            wav = self._keep(clip, stem, round(source.duration / self.rate * self.info.sample_rate))
            sounds.append((wav, Generated(
                source.name, str(clip.metadata.get("instrument", settings.instrument)), settings.seed,
                settings.temperature, str(source.filepath), str(summary.get("engine_version", "")),
                int(clip.metadata.get("notes", 0)), model=settings.model, performer=clip.performer)))
        return [sound.name for sound in place_sounds(scene, movie, sounds, self.settings.channel)]

    def _keep(self, clip: FoleyClip, stem: str, samples: int) -> Path:
        """Move a clip's WAV out of the job folder to a new name (`samples` long) in the output folder."""
        suffix = f".foley.performer{clip.performer}.wav" if clip.performer else ".foley.wav"
        wav, number = self.folder / f"{stem}{suffix}", 1
        while wav.exists():  # a run within the same second: earlier strips (and undo) keep their audio
            number += 1
            wav = self.folder / f"{stem}-{number}{suffix}"
        if wav_samples(clip.wav) == samples:
            os.replace(clip.wav, wav)
        else:  # a movie Blender plays slower or faster than real time: stretch the audio under it
            stretch_wav(clip.wav, wav, samples)
        return wav
