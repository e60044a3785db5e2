"""How the model's next token is drawn: temperature, top-k and top-p over the tokens the grammar allows.

`Sampling` also carries the onset guidance settings (which frames notes may start on), validated once, since
every window of a clip is decoded with the same ones.
"""

from __future__ import annotations

from bisect import bisect_right
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

    Each row is filtered and drawn in numpy over its allowed tokens only, and a row that allows a single
    token takes it without a random draw: a token costs a few microseconds instead of a sort and a
    multinomial over the whole vocabulary in torch, for the same distribution. (Array methods rather than
    numpy's functions throughout: this runs for every token, and their wrappers cost a quarter of it.)"""
    rows = [row.nonzero()[0] for row in allowed]
    free = sum(len(ids) > 1 for ids in rows) if sampling.temperature else 0
    draws = iter(_uniforms(generator, free))
    chosen = []
    for b, ids in enumerate(rows):
        if len(ids) == 1:
            chosen.append(int(ids[0]))
        elif sampling.temperature == 0:
            chosen.append(int(ids[logits[b, ids].argmax()]))
        else:
            scaled = np.divide(logits[b, ids], sampling.temperature, dtype=np.float64)
            chosen.append(int(ids[_draw(scaled, sampling, next(draws))]))
    return np.array(chosen)


def _uniforms(generator: torch.Generator | Uniforms, count: int) -> list[float]:
    """`count` uniform draws; none drawn (the generator untouched) for none asked."""
    if not count:
        return []
    if isinstance(generator, Uniforms):
        return generator.take(count)
    drawn: list[float] = torch.rand(count, generator=generator, dtype=torch.float64).tolist()
    return drawn


def _draw(scaled: np.ndarray, sampling: Sampling, uniform: float) -> int:
    """Index into `scaled` logits of one token drawn from their top-k / top-p filtered softmax, by inverting
    the cumulative distribution at `uniform` in [0, 1). (The searches run on the cumulative sums as a list:
    bisect there is numpy's searchsorted on the same float64 values, without its call overhead.)"""
    index = None
    if sampling.top_k and sampling.top_k < len(scaled):
        kth = np.partition(scaled, -sampling.top_k)[-sampling.top_k]
        index = np.flatnonzero(scaled >= kth)  # ties with the k-th stay in
        scaled = scaled[index]
    weights = np.exp(scaled - scaled.max())
    order = (-weights).argsort(kind="stable")  # most likely first
    cumulative = weights[order].cumsum().tolist()
    kept = len(cumulative)
    if sampling.top_p < 1:  # the smallest set reaching top_p: the tokens with at most top_p before them
        kept = 1 + bisect_right(cumulative, sampling.top_p * cumulative[-1], 0, kept - 1)
    pick = min(bisect_right(cumulative, uniform * cumulative[kept - 1], 0, kept), kept - 1)
    chosen = int(order[pick])
    return chosen if index is None else int(index[chosen])
