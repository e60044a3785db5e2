"""One Generate Foley run: selection -> OTIO -> `foley timeline` subprocess -> sound strips.

The engine writes into a private job folder beside the outputs; only a finished run moves its WAVs out, so
a cancelled or failed run leaves nothing behind however the engine ended. Its summary line says which WAV is
whose and what made it; the timeline it writes beside them is not read. The operator drives a run from a
modal timer; scripts and background Blender call `wait()` instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from . import compat
from .engine import EngineJob, UserError, engine_info, find_engine, foley_sounds, missing_foley
from .strips import Generated, movie_strips, place_sounds, strip_source
from .timeline_io import slug, write_timeline


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
            selection, result = self.job_dir / "selection.otio", self.job_dir / "selection.foley.otio"
            write_timeline(list(self.sources.values()), self.rate, selection, scene.name)
        except OSError as error:
            self.cleanup()
            raise UserError(f"Cannot write foley audio to {self.folder}: {error.strerror or error}") from None
        sampling = self.info.samples(settings.model or self.info.defaults["model"])  # else the engine refuses it
        given = {"--instrument": settings.instrument, "--seed": settings.seed, "--model": settings.model,
                 "--temperature": settings.temperature if sampling else None}  # None: the engine's default
        self.job = EngineJob(engine, [
            str(selection), "-o", str(result), "--media-dir", str(self.job_dir), "--progress", "json", "--json",
            "--force", *(text for flag, value in given.items() if value is not None for text in (flag, str(value))),
            *(["--stems"] if settings.stems else [])])
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
        """Sound strips from the engine's summary; raises UserError when there is nothing to place."""
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
        by_strip = foley_sounds(self.job.summary, self.settings.stems)
        if not by_strip:
            raise UserError(outcome.warnings[0] if outcome.warnings else "Foley generated no audio")
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is None:
            raise UserError(f"Scene '{self.scene_name}' was deleted while foley was generated")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for strip, sounds in by_strip.items():
            outcome.created += self._place(scene, strip, sounds, stamp, outcome)
        if not outcome.created:
            raise UserError(outcome.warnings[-1])
        return outcome

    def _place(self, scene: Any, strip: str, sounds: list[dict], stamp: str, outcome: Outcome) -> list[str]:
        """Sound strips for the movie strip `strip` from its sounds (`foley_sounds`); their names, or none with a
        warning."""
        source = self.sources[strip]  # the summary's rows are the clips of the selection, named after its strips
        movie = next((item for item in compat.all_strips(scene) if item.name == source.name), None)
        if movie is None:
            outcome.warnings.append(f"Strip '{source.name}' was deleted while foley was generated")
            return []
        if compat.visible_range(movie) != (source.start, source.start + source.duration):
            outcome.warnings.append(f"Strip '{source.name}' was moved or trimmed meanwhile; generate again")
            return []
        summary = self.job.summary or {}  # what the run used: the user's options, else the engine's defaults
        seed, temperature = int(summary["seed"]), summary["temperature"]  # None: the model's own temperature
        temperature = float(self.info.defaults["temperature"] if temperature is None else temperature)
        stem = f"{slug(source.name)}.{slug(str(summary['instrument']))}.seed{seed}.{stamp}"
        placed = []
        for sound in sounds:
            wav = self._keep(Path(sound["wav"]), int(sound["performer"]), stem)
            placed.append((wav, Generated(
                source.name, str(sound["instrument"]), seed, temperature, str(source.filepath),
                str(summary.get("engine_version", "")), int(sound["notes"]), model=str(summary["model"]),
                performer=int(sound["performer"]))))
        return [strip.name for strip in place_sounds(scene, movie, placed, self.settings.channel)]

    def _keep(self, made: Path, performer: int, stem: str) -> Path:
        """Move a WAV the engine made out of the job folder to a new name in the output folder: it is already as
        long as its strip, a movie Blender plays slower or faster than real time included."""
        suffix = f".foley.performer{performer}.wav" if performer else ".foley.wav"
        wav, number = self.folder / f"{stem}{suffix}", 1
        while wav.exists():  # a run within the same second: earlier strips (and undo) keep their audio
            number += 1
            wav = self.folder / f"{stem}-{number}{suffix}"
        os.replace(made, wav)
        return wav
