"""The engine's one entry point: video -> keypoints -> notes -> MIDI + WAV, with progress and clean failure.

`generate` keeps everything in memory and is what the panel and the timeline stage call; `generate_files`
adds the all-or-nothing writing of `NAME.foley.mid`, `NAME.foley.wav` and `NAME.keypoints.npz` the CLI does
(and with `stems`, one `NAME.foley.performerN.wav` per performer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import NoPerformerError
from .instruments import InstrumentChoice, parse_instruments
from .keyboard import KeyboardGeometry
from .keyboard.follow import CameraMotion
from .keypoints import Keypoints
from .midi import write_midi
from .notes import Note, Performance
from .options import GeneratorOptions
from .outputs import OutputSet, ensure_writable_dir, refuse_existing, stem_path, stem_pattern
from .pose.extract import PoseSettings, extract
from .progress import ProgressCallback, StageProgress
from .sources import SourceClip, SourceNotes, open_sources
from .sources.keys import keys_pose_settings
from .synth import SAMPLE_RATE, Progress, find_soundfont, render, render_stems, require_fluidsynth, write_wav
from .video import VideoInfo, probe, resolve_range

#: Relative cost of each stage, measured on the shared 1080p clip: pose dominates.
STAGE_WEIGHTS = {"probe": 0.01, "keyboard": 0.06, "pose": 0.75, "keys": 0.04, "notes": 0.03, "synth": 0.08,
                 "write": 0.03}


@dataclass
class FoleyResult:
    video: VideoInfo
    start: float  # seconds on the video clock
    end: float
    keypoints: Keypoints  # on the video clock
    performance: Performance  # in the audio's time: the video's divided by `speed`
    audio: np.ndarray  # (samples, 2) int16 at `sample_rate`; exactly the range's length (divided by `speed`)
    sample_rate: int = SAMPLE_RATE
    timings: dict[str, float] = field(default_factory=dict)
    takes: list[Performance] = field(default_factory=list)  # --variations: every take, `performance` first
    stems: list[np.ndarray] = field(default_factory=list)  # generate(stems=True): each performer alone, like audio
    keyboard: KeyboardGeometry | None = None  # the keyboard the notes were read off, if they were
    source_note: str = ""  # why the notes came from where they did, when that is not what was asked
    take_audio: list[np.ndarray] = field(default_factory=list)  # every take's mix, like audio (the first is audio)
    speed: float = 1.0  # generate(speed=...): video seconds per second of audio
    pose_settings: PoseSettings = field(default_factory=PoseSettings)  # what the keypoints were found with
    source: str = "model"  # the note source that played: "keys", "model" or "strikes"; a band's, "model+strikes"
    camera_motion: CameraMotion | None = None  # keys: how the camera moved the keys (None: it stood still)
    performer_sources: list[str] = field(default_factory=list)  # a band's: each performer's source (sources/)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def summary(self) -> dict:
        """A JSON-ready description for `--json`, the adapters and the panel."""
        instrument = self.performance.instrument
        return {
            "status": "ok",
            "engine_version": __version__,
            "video": str(self.video.path),
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "instrument": instrument.name,
            "program": instrument.program,
            "generator": self.performance.generator,
            "source": self.source,
            **({"source_note": self.source_note} if self.source_note else {}),
            **({"keyboard": keyboard_summary(self.keyboard, self.camera_motion)} if self.keyboard is not None else {}),
            "performers": self.performer_summaries(),
            "notes": len(self.performance.notes),
            "sample_rate": self.sample_rate,
            "samples": int(self.audio.shape[0]),
            **({"speed": self.speed} if self.speed != 1 else {}),
            "timings": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
        }

    def performer_summaries(self) -> list[dict]:
        """Each performer, left to right: instrument, where in the frame (normalised box), notes played."""
        performance = self.performance
        return [
            {"index": p + 1, "instrument": performance.instrument_of(p).name,
             "program": performance.instrument_of(p).program, "box": self.keypoints.screen_box(p),
             "body": bool(np.any(self.keypoints.body[p, :, :, 2] > 0)), "notes": len(track),
             **({"source": self.performer_sources[p]} if self.performer_sources else {})}
            for p, track in enumerate(performance.tracks)
        ]


def output_paths(video: Path, out_dir: Path) -> dict[str, Path]:
    name = Path(video).stem
    return {
        "midi": out_dir / f"{name}.foley.mid",
        "wav": out_dir / f"{name}.foley.wav",
        "keypoints": out_dir / f"{name}.keypoints.npz",
    }


def generate(video: str | Path, instrument: InstrumentChoice = "piano", *, start: float | None = None,
             end: float | None = None, options: GeneratorOptions = GeneratorOptions(),
             soundfont: str | Path | None = None, allow_silence: bool = False,
             pose_settings: PoseSettings = PoseSettings(), progress: ProgressCallback | None = None,
             should_cancel: Callable[[], bool] | None = None, stems: bool = False,
             speed: float = 1.0) -> FoleyResult:
    """Turn the range [start, end) of a silent video into notes and audio of exactly that length.

    `options` says where the notes come from and how the learned model samples (GeneratorOptions; by default
    the keys when a keyboard is in view, else the shipped model with seed 0, so the same video gives the same
    notes, as in `foley timeline`); with `options.variations` > 1 every take is kept and the audio is of the
    first. `instrument` is one instrument for every performer, or one per performer left to right
    ("violin,guitar"): then each performer's part is generated for their own instrument, and their number must
    match. `stems` also renders each performer alone (`FoleyResult.stems`), for editors who mix players
    separately. `speed` (default 1: as shot) is for a clip an editor plays faster or slower (video seconds per
    second on its timeline): the notes are read off the range as shot, then every time is divided by `speed`
    before synthesis, so the tempo follows the picture and the pitches stay, and the audio lasts (end - start)
    / speed; the keypoints stay on the video clock."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    stages = StageProgress(STAGE_WEIGHTS, progress, should_cancel)
    timings: dict[str, float] = {}
    choice = parse_instruments(instrument)
    sources = open_sources(options, choice)  # fails before pose
    # Fail before the expensive pose stage when audio could not be made anyway.
    soundfont_path = find_soundfont(soundfont, *choice)  # a whole soundfont with these programs
    require_fluidsynth()

    clock = time.perf_counter()
    stages.report("probe", 0.0, Path(video).name)
    info = probe(video)
    start, end = resolve_range(info, start, end)
    stages.report("probe", 1.0, f"{info.width}x{info.height} @ {float(info.frame_rate):.3f} fps")
    timings["probe"] = time.perf_counter() - clock

    clock = time.perf_counter()
    band = sources.prepare(info.path, start, end, choice, stages.stage("keyboard"))  # a keyboard, before pose
    if band is not None:  # the keys will play: the pose stage need only find the fingertips
        pose_settings = keys_pose_settings(pose_settings, float(info.frame_rate))
    else:  # what the source that will play needs of the pose stage (the strikes: wrists, no Hands where seen)
        pose_settings = sources.pose_settings(choice, pose_settings)
    timings["keyboard"] = time.perf_counter() - clock

    clock = time.perf_counter()
    keypoints, band_rows = extract(info.path, start, end, pose_settings, progress=stages.stage("pose"), band=band)
    timings["pose"] = time.perf_counter() - clock

    clock = time.perf_counter()
    duration = end - start
    if keypoints.num_performers == 0:
        if not allow_silence:
            raise NoPerformerError(
                f"no performer visible in {info.path.name} between {start:.2f}s and {end:.2f}s",
                hint="use --allow-silence to write a silent track of the right length")
        played = SourceNotes([Performance(instrument=choice[0], duration=duration, generator="silence")]
                             * options.variations, "model")
    else:
        played = sources.play(SourceClip(info.path, start, end, keypoints, choice, band_rows), stages.stage)
    takes = played.takes if speed == 1 else _retimed(played.takes, speed)
    performance = takes[0]
    stages.report("notes", 1.0, f"{len(performance.notes)} notes")
    timings["notes"] = time.perf_counter() - clock

    clock = time.perf_counter()
    num_samples = int(round(duration / speed * SAMPLE_RATE))
    # Every take's mix, then the first take's stems: equal shares of "synth". Takes that are the same notes
    # (the keys source plays what was pressed, whatever the variation) are rendered once.
    distinct = list({id(take): take for take in takes}.values())
    renders = len(distinct) + (len(performance.tracks) if stems else 0)
    synth = stages.stage("synth")
    rendered = {id(take): render(take, soundfont=soundfont_path, num_samples=num_samples,
                                 progress=_within(synth, index / renders, (index + 1) / renders))
                for index, take in enumerate(distinct)}
    stem_audio = render_stems(performance, soundfont_path, num_samples=num_samples,
                              progress=_within(synth, len(distinct) / renders, 1.0)) if stems else []
    timings["synth"] = time.perf_counter() - clock
    return FoleyResult(info, start, end, keypoints, performance, rendered[id(performance)], SAMPLE_RATE, timings,
                       takes, stem_audio, played.keyboard, played.note, [rendered[id(take)] for take in takes],
                       speed, pose_settings, played.source, played.camera_motion, played.performer_sources)


def _retimed(takes: list[Performance], speed: float) -> list[Performance]:
    """Each take played `speed` times as fast: every note's start and end divided by it, pitches and velocities
    kept. Takes that are one object (the same notes) stay one, so they are still rendered once."""
    faster = {id(take): replace(take, duration=take.duration / speed, tracks=[
        [Note(note.start / speed, note.end / speed, note.pitch, note.velocity) for note in track]
        for track in take.tracks]) for take in takes}
    return [faster[id(take)] for take in takes]


def _within(progress: Progress, low: float, high: float) -> Progress:
    """`progress` for one part of a stage, from `low` to `high` of it."""
    def part(fraction: float, message: str = "") -> None:
        progress(low + (high - low) * fraction, message)

    return part


def keyboard_summary(keyboard: KeyboardGeometry, camera_motion: CameraMotion | None = None) -> dict:
    """What the summary says about the keyboard the notes were read off, with the keys right under the camera,
    whose presses barely show (keyboard/view.py): notes there are often missed; and, when the camera moved and
    the keys were followed (keyboard/follow.py), by how many pixels at most (of the frames the keys are read in)."""
    pitches = [key.pitch for key in keyboard.keys]
    return {"keys": len(pitches), "lowest": min(pitches), "highest": max(pitches),
            "pitch_evidence": keyboard.pitch_evidence, "confidence": round(keyboard.confidence, 3),
            "under_camera": list(keyboard.under_camera),
            **({"camera_moved_px": round(camera_motion.largest_shift(keyboard), 2)} if camera_motion else {})}


def check_options(options: GeneratorOptions) -> None:
    """Refuse now what `generate` would refuse at its notes stage, a corrupt checkpoint included (it is loaded,
    and stays loaded for this process's next `generate`)."""
    open_sources(options)


def generate_files(video: str | Path, out_dir: str | Path, *, force: bool = False,
                   preview: str | Path | None = None, stems: bool = False, progress: ProgressCallback | None = None,
                   should_cancel: Callable[[], bool] | None = None,
                   **settings: Any) -> tuple[FoleyResult, dict[str, Path]]:
    """`generate`, then write MIDI, WAV, keypoints and the `preview` (.png or .mp4, if named) all-or-nothing
    into `out_dir`: the preview is one of the set, so a preview that cannot be written leaves no other file.

    `stems` adds each performer's own WAV (`wav_performer1`, ...: NAME.foley.performer1.wav, ...) to the same
    set. How many there are is known only after pose, so stems of an earlier run are refused up front instead."""
    out_dir = ensure_writable_dir(Path(out_dir))
    paths = output_paths(Path(video), out_dir)
    options: GeneratorOptions = settings.get("options", GeneratorOptions())
    for take in range(2, options.variations + 1):  # further takes: MIDI only
        paths[f"midi_take{take}"] = out_dir / f"{Path(video).stem}.foley.take{take}.mid"
    if preview is not None:
        paths["preview"] = Path(preview)
    if stems:
        refuse_existing(sorted(out_dir.glob(stem_pattern(paths["wav"]))), force)
    with OutputSet(list(paths.values()), force=force) as outputs:  # refuses existing files before any work
        result = generate(video, progress=progress, should_cancel=should_cancel, stems=stems, **settings)
        stages = StageProgress(STAGE_WEIGHTS, progress, should_cancel)
        clock = time.perf_counter()
        outputs.write(paths["midi"], partial(write_midi, result.performance))
        stages.report("write", 0.3, paths["midi"].name)
        outputs.write(paths["wav"], partial(write_wav, result.audio, sample_rate=result.sample_rate))
        stages.report("write", 0.6, paths["wav"].name)
        for performer, stem in enumerate(result.stems, start=1):
            path = paths[f"wav_performer{performer}"] = stem_path(paths["wav"], performer)
            outputs.add(path)
            outputs.write(path, partial(write_wav, stem, sample_rate=result.sample_rate))
        outputs.write(paths["keypoints"], result.keypoints.save)
        for take, performance in enumerate(result.takes[1:], start=2):
            outputs.write(paths[f"midi_take{take}"], partial(write_midi, performance))
        if preview is not None:
            from .preview import KeysShown, render_preview  # OpenCV loads only for a preview

            stages.report("write", 0.7, paths["preview"].name)
            names = [p["instrument"] for p in result.performer_summaries()]
            keys = (KeysShown(result.keyboard, result.performance.notes, result.start, result.camera_motion)
                    if result.keyboard is not None else None)
            outputs.write(paths["preview"], partial(render_preview, video, result.keypoints, start=result.start,
                                                    end=result.end, names=names, keys=keys))
        result.timings["write"] = time.perf_counter() - clock
    stages.report("write", 1.0, f"wrote {len(paths)} files to {out_dir}")
    return result, paths
