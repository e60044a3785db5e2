"""The motion source: notes played from the performers' motion, by the `--model` generator.

That generator is the learned model (foley_engine.model: "default" or a checkpoint) or the deterministic
baseline rules (baseline.py). Both see keypoints only, so this source can play any clip with a performer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from ..instruments import Instrument, instruments_for
from ..keypoints import Keypoints
from ..notes import Performance
from ..options import GeneratorOptions
from . import Progress, SourceClip, SourceNotes
from .baseline import GENERATOR_NAME as BASELINE_NAME
from .baseline import generate_baseline

if TYPE_CHECKING:
    from ..model import Sampling


class MotionSource:
    """The `--model` generator; the learned model's checkpoint is loaded by `load`, which `open_sources` or
    `Sources.prepare` call before the pose stage (a bad checkpoint fails there), unless the keys will play."""

    name = "model"
    stage = "notes"

    def __init__(self, options: GeneratorOptions) -> None:
        self.options = options
        self.sampling: Sampling | None = None

    def load(self) -> None:
        """Load the checkpoint (kept for this process's next clip) and check the sampling options; again is free."""
        if self.options.model == "baseline" or self.sampling is not None:
            return
        from ..model import Sampling, load_model

        load_model(self.options.model)
        defaults, options = Sampling(), self.options
        try:
            self.sampling = Sampling(
                defaults.temperature if options.temperature is None else options.temperature,
                defaults.top_k if options.top_k is None else options.top_k,
                defaults.top_p if options.top_p is None else options.top_p)
        except ValueError as exc:
            raise InputError(str(exc)) from None

    @property
    def description(self) -> str:
        """What plays, for progress messages."""
        return BASELINE_NAME if self.options.model == "baseline" else f"model {self.options.model}"

    def performances(self, keypoints: Keypoints, instrument: Instrument, duration: float) -> list[Performance]:
        """Every take of the performers in `keypoints` playing `instrument` (the model's own entry point)."""
        if self.options.model == "baseline":
            return [generate_baseline(keypoints, instrument, duration=duration, seed=self.options.seed)]
        from ..model import generate_performances

        self.load()
        assert self.sampling is not None  # load() sets it for every generator but the baseline
        return generate_performances(keypoints, instrument, model=self.options.model, duration=duration,
                                     seed=self.options.seed, sampling=self.sampling,
                                     variations=self.options.variations)

    def play(self, clip: SourceClip, progress: Progress) -> SourceNotes:
        """Every take, with each performer playing their own instrument.

        One instrument for all is one call for the whole ensemble. With one instrument each, every performer's
        part is generated on its own (the generators shape notes by instrument: range, family, polyphony) and
        take k of every part is joined into take k of the ensemble.
        """
        progress(0.0, self.description)
        keypoints, choice, duration = clip.keypoints, clip.instruments, clip.duration
        instruments = instruments_for(choice, keypoints.num_performers)  # a count that does not match fails
        if len(choice) == 1:
            return SourceNotes(self.performances(keypoints, choice[0], duration), self.name)
        parts = [self.performances(keypoints.performer(p), instrument, duration)
                 for p, instrument in enumerate(instruments)]
        takes = [
            Performance(instrument=instruments[0], duration=duration, tracks=[part[k].tracks[0] for part in parts],
                        generator=parts[0][k].generator, track_instruments=instruments)
            for k in range(len(parts[0]))
        ]
        return SourceNotes(takes, self.name)
