"""What the panel asks the engine for, and the takes it gets back.

Variations come from one engine call (the learned model samples all takes in one batch), and the engine
renders every take's audio, so each can be played.
The shipped learned model is the default, as in `foley generate`. Seed, temperature and variations are only
sent to a generator that samples: the baseline (motion-onset rules) is deterministic and refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from foley_engine import GeneratorOptions, Note, Performance, ProgressEvent

if TYPE_CHECKING:
    from foley_engine import FoleyResult

#: Model choices in the panel; a checkpoint file is passed to the engine as its path.
SHIPPED, BASELINE, FILE = "default", "baseline", "file"


@dataclass(frozen=True)
class Settings:
    """The controls' values; saved between sessions."""

    instrument: str = "piano"
    source: str = "auto"  # "auto" (keys when a keyboard is in view), "keys" or "model", as `foley --source`
    model: str = SHIPPED  # SHIPPED (the engine's default), BASELINE or FILE
    model_file: str = ""
    temperature: float = 0.8
    seed: int = 0
    variations: int = 1

    def model_spec(self) -> str:
        """What `generate(model=...)` takes: "default", "baseline" or a checkpoint path."""
        return self.model_file if self.model == FILE else self.model

    def samples(self) -> bool:
        """Whether the generator draws at random: only then do seed, temperature and variations matter."""
        return self.model != BASELINE

    def generator_options(self) -> GeneratorOptions:
        """The engine's GeneratorOptions for these controls (checked by the engine when made: a missing
        checkpoint file is the engine's one-line error)."""
        # the source is the str the settings store (the engine's Source type is not public): GeneratorOptions
        # checks it against SOURCES
        if not self.samples():
            return GeneratorOptions(source=self.source, model=self.model_spec())  # type: ignore[arg-type]
        return GeneratorOptions(source=self.source, model=self.model_spec(),  # type: ignore[arg-type]
                                seed=self.seed, temperature=self.temperature, variations=self.variations)


@dataclass(frozen=True)
class Request:
    video: Path
    start: float | None
    end: float | None
    settings: Settings
    soundfont: Path | None = None


@dataclass
class Take:
    """One variation: its notes and audio, plus the engine result it shares with its siblings (keypoints,
    video, range)."""

    number: int  # 1-based, as shown
    performance: Performance
    audio: np.ndarray  # (samples, 2) int16 at result.sample_rate
    result: FoleyResult
    settings: Settings = Settings()  # what it was generated with: what an export records, whatever the controls say now

    @property
    def tracks(self) -> list[list[Note]]:
        return self.performance.tracks

    @property
    def notes(self) -> list[Note]:
        return self.performance.notes

    @property
    def duration(self) -> float:
        return self.result.duration


def generate_takes(request: Request, progress: Callable[[ProgressEvent], None],
                   should_cancel: Callable[[], bool]) -> list[Take]:
    """Run the engine once; progress events carry the engine's stage names."""
    from foley_engine import generate  # loading the engine takes seconds: only once it is needed

    settings = request.settings
    result = generate(request.video, settings.instrument, start=request.start, end=request.end,
                      options=settings.generator_options(), soundfont=request.soundfont, progress=progress,
                      should_cancel=should_cancel)
    return [Take(number, performance, audio, result, settings)
            for number, (performance, audio) in enumerate(zip(result.takes, result.take_audio, strict=True), start=1)]
