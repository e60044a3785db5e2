"""How the model's next token is drawn: temperature, top-k and top-p over the tokens the grammar allows.

`Sampling` also carries the onset guidance settings (which frames notes may start on), validated once, since
every window of a clip is decoded with the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..options import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn: temperature 0 is greedy; top_k 0 and top_p 1 switch those filters off.

    `guided` turns on onset guidance for models with an onset head: the frames onsets.py picks from the
    encoder's per-frame onset probability (peaks above the threshold, plus as many weaker peaks as the
    probability mass calls for) are the moments notes may start; the decoder must stop at each (time shifts
    cannot jump over one), must start at least one note there, and starts none elsewhere. The decoder still
    writes every event (which pitches, how loud, how long). `onset_threshold` and `onset_mass` None use the
    model's own, chosen on validation data when it was trained (calibration.py). `motion_floor` plays at
    least as many onsets per window as the motion-onset baseline finds strikes there, times the model's scale
    for the instrument (onsets.py says why).
    Unguided, the decoder places onsets on its own. Guidance exists because the dense onset head learns
    timing far faster than the autoregressive decoder does on a CPU budget (measured on synthetic validation
    data: onset F1 about 0.74 for the head vs 0.35 for free sampling after 800 steps).
    """

    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = DEFAULT_TOP_K
    top_p: float = DEFAULT_TOP_P
    guided: bool = True
    onset_threshold: float | None = None
    onset_mass: float | None = None
    motion_floor: bool = True

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.onset_threshold is not None and not 0 < self.onset_threshold < 1:
            raise ValueError(f"onset_threshold must be in (0, 1), got {self.onset_threshold}")
        if self.onset_mass is not None and self.onset_mass < 0:
            raise ValueError(f"onset_mass must be >= 0, got {self.onset_mass}")


class Uniforms:
    """A generator's uniform draws in [0, 1), drawn a block at a time: torch.rand(n) on the CPU fills in order,
    so the numbers are the ones n draws of one would give (a test pins it), for one call per block instead of
    one per sampled token (a few microseconds each)."""

    def __init__(self, generator: torch.Generator, block: int = 1024) -> None:
        self.generator, self.block = generator, block
        self._drawn: list[float] = []
        self._next = 0

    def take(self, count: int) -> list[float]:
        """The next `count` draws."""
        while self._next + count > len(self._drawn):
            self._drawn = self._drawn[self._next:] + torch.rand(
                self.block, generator=self.generator, dtype=torch.float64).tolist()
            self._next = 0
        taken = self._drawn[self._next:self._next + count]
        self._next += count
        return taken


def sample_tokens(logits: np.ndarray, allowed: np.ndarray, sampling: Sampling,
                  generator: torch.Generator | Uniforms) -> np.ndarray:
    """One token per row from (B, V) logits restricted to `allowed` (B, V); every row allows something.

    A row that allows a single token takes it without a random draw; the others draw one uniform each, in row
    order, and invert their filtered distribution at it (kernels.draw_rows: compiled, as this runs for every token and
    its numpy calls cost ~40 us a token; the same distribution as a sort and a multinomial over the whole
    vocabulary)."""
    from . import kernels  # numba, when the first token is drawn (kernels.py says why)

    free = int((allowed.sum(axis=1) > 1).sum()) if sampling.temperature else 0
    draws = np.array(_uniforms(generator, free), np.float64)
    chosen: np.ndarray = kernels.draw_rows(logits, allowed, sampling.temperature, sampling.top_k, sampling.top_p,
                                           draws)
    return chosen


def _uniforms(generator: torch.Generator | Uniforms, count: int) -> list[float]:
    """`count` uniform draws; none drawn (the generator untouched) for none asked."""
    if not count:
        return []
    if isinstance(generator, Uniforms):
        return generator.take(count)
    drawn: list[float] = torch.rand(count, generator=generator, dtype=torch.float64).tolist()
    return drawn
