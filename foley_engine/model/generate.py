"""Sampling notes from the model: windows over long clips, grammar-masked sampling, notes carried across seams.

A clip is cut into windows of `config.window` seconds; each window after the first starts `config.overlap`
seconds before the previous one ended and is primed (teacher-forced) with the notes already written there,
including notes still sounding at the seam, then writes only from the seam on. So every moment of the clip is
written exactly once (no doubled notes) and a note held across a seam is one note: the next window sees it
sounding in its prefix and decides when it ends (no cut notes). All performers x variations of one window run
as one batch with a key/value cache, which is where the speed comes from.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..instruments import Instrument
from ..notes import Note
from ..options import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P
from .decoder import KVCache
from .features import pose_features
from .network import EncodedWindow, FoleyModel
from .onsets import motion_floor, motion_onset_frames, onset_frames
from .sequences import encode_window
from .vocabulary import EOS_TOKEN, NOTE_OFF, NOTE_ON, PAD_TOKEN, TIME_SHIFT, GrammarState

_FAR_STEPS = 10**9
_MAX_TOKENS_PER_SECOND = 120  # a window never writes more than this; ~30 notes/s with velocities


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


def sample_tokens(logits: np.ndarray, allowed: np.ndarray, sampling: Sampling,
                  generator: torch.Generator) -> np.ndarray:
    """One token per row from (B, V) logits restricted to `allowed` (B, V); every row allows something.

    Each row is filtered and drawn in numpy over its allowed tokens only, and a row that allows a single
    token takes it without a random draw: a token costs a few microseconds instead of a sort and a
    multinomial over the whole vocabulary in torch, for the same distribution. (Array methods rather than
    numpy's functions throughout: this runs for every token, and their wrappers cost a quarter of it.)"""
    rows = [row.nonzero()[0] for row in allowed]
    free = sum(len(ids) > 1 for ids in rows) if sampling.temperature else 0
    draws = iter(torch.rand(free, generator=generator, dtype=torch.float64).tolist() if free else ())
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


def _draw(scaled: np.ndarray, sampling: Sampling, uniform: float) -> int:
    """Index into `scaled` logits of one token drawn from their top-k / top-p filtered softmax, by inverting
    the cumulative distribution at `uniform` in [0, 1)."""
    index = None
    if sampling.top_k and sampling.top_k < len(scaled):
        kth = np.partition(scaled, -sampling.top_k)[-sampling.top_k]
        index = np.flatnonzero(scaled >= kth)  # ties with the k-th stay in
        scaled = scaled[index]
    weights = np.exp(scaled - np.maximum.reduce(scaled))
    order = (-weights).argsort(kind="stable")  # most likely first
    cumulative = weights[order].cumsum()
    kept = len(order)
    if sampling.top_p < 1:  # the smallest set reaching top_p: the tokens with at most top_p before them
        kept = 1 + int(cumulative[:-1].searchsorted(sampling.top_p * cumulative[-1], side="right"))
    pick = min(int(cumulative[:kept].searchsorted(uniform * cumulative[kept - 1], side="right")), kept - 1)
    chosen = int(order[pick])
    return chosen if index is None else int(index[chosen])


@dataclass
class TrackState:
    """The notes one performer x variation has so far, on the clip's grid (steps)."""

    notes: list[tuple[int, int, int, int]] = field(default_factory=list)  # closed (start, end, pitch, velocity)
    sounding: dict[int, tuple[int, int]] = field(default_factory=dict)  # pitch -> (start, velocity)

    def context(self, since: int, steps_per_second: int) -> list[Note]:
        """Notes that touch the time from `since` on, open ones with a far end, for priming a window."""
        sps = steps_per_second
        closed = [Note(s / sps, e / sps, p, v) for s, e, p, v in self.notes if e > since]
        return closed + [Note(s / sps, _FAR_STEPS / sps, p, v) for p, (s, v) in self.sounding.items()]

    def finish(self, end: int, steps_per_second: int) -> list[Note]:
        """All notes in seconds, sounding ones closed at `end`."""
        closed = self.notes + [(s, end, p, v) for p, (s, v) in self.sounding.items() if end > s]
        return sorted(Note(s / steps_per_second, e / steps_per_second, p, v) for s, e, p, v in closed)


def plan_windows(total: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """(start, resume, end) grid steps of each window; writing happens in [resume, end), end-to-end."""
    if window <= overlap:
        raise ValueError("window must be longer than its overlap")
    plans, resume = [], 0
    while True:
        start = max(0, resume - overlap)
        end = min(total, start + window)
        plans.append((start, resume, end))
        if end >= total:
            return plans
        resume = end


def window_inputs(joints: list[np.ndarray], frame_size: tuple[int, int], rate: float, first: int,
                  count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder inputs of frames [first, first + count) for each performer; frames past the clip are unseen."""
    features, masks = [], []
    for performer in joints:
        chunk = np.zeros((count, *performer.shape[1:]), np.float32)
        available = performer[first:first + count]
        chunk[:len(available)] = available
        f, m = pose_features(chunk, frame_size, rate)
        features.append(f)
        masks.append(m)
    return torch.from_numpy(np.stack(features)), torch.from_numpy(np.stack(masks))


def resample_joints(joints: np.ndarray, rate: float, target: float) -> np.ndarray:
    """Nearest-sample resampling of (T, 67, 3) joints to the model's frame rate (no invented positions)."""
    if abs(rate - target) < 1e-6:
        return joints
    count = max(1, int(round(len(joints) * target / rate)))
    index = np.clip(np.round(np.arange(count) * rate / target).astype(int), 0, len(joints) - 1)
    return joints[index]


@contextmanager
def single_thread() -> Iterator[None]:
    """One thread for torch's operations and numpy's BLAS during generation: a step is dozens of tiny
    operations, and waking a second thread for each costs more than it saves (measured ~30 % slower with 2
    threads at batch size 1, for torch and for numpy alike); on a busy CPU every parallel operation also waits
    for its slowest thread (the encoder measured 20x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


class WindowDecoder:
    """Decodes one window for a batch of tracks: prime with the prefix, then sample until the window's end."""

    def __init__(self, model: FoleyModel, instrument: Instrument, sampling: Sampling,
                 generator: torch.Generator, motion_frames: list[np.ndarray] | None = None) -> None:
        """`motion_frames`: each row's motion-onset frames on the clip's clock (Sampling.motion_floor)."""
        self.model, self.instrument, self.sampling, self.generator = model, instrument, sampling, generator
        self.motion_frames = motion_frames
        self.vocabulary = model.config.vocabulary
        self.step_cap = 3 * instrument.max_polyphony + 2  # events at one time step before time must move
        self._pad_only = np.zeros(self.vocabulary.size, dtype=bool)  # the mask of a finished row
        self._pad_only[PAD_TOKEN] = True
        self.tokens_written = 0  # for throughput reports

    def run(self, window: EncodedWindow, tracks: list[TrackState], start: int, resume: int, end: int) -> None:
        """Write the tracks' events in [resume, end) (grid steps), updating `tracks` in place."""
        v, sps, model = self.vocabulary, self.vocabulary.steps_per_second, self.model
        prefixes = [encode_window(track.context(start, sps), v, start / sps, end / sps, resume / sps)
                    for track in tracks]
        batch, longest = len(tracks), max(p.prefix for p in prefixes)
        tokens = torch.full((batch, longest), PAD_TOKEN, dtype=torch.long)
        times = torch.zeros((batch, longest), dtype=torch.long)
        states = []
        for b, prefix in enumerate(prefixes):
            tokens[b, longest - prefix.prefix:] = torch.tensor(prefix.tokens[:prefix.prefix])
            times[b, longest - prefix.prefix:] = torch.tensor(prefix.times[:prefix.prefix])
            state = GrammarState(v, self.instrument)
            for token in prefix.tokens[1:prefix.prefix]:
                state.advance(token)
            states.append(state)
        length = end - start
        budget = int(math.ceil((end - resume) / sps * _MAX_TOKENS_PER_SECOND)) + 8
        cache = model.new_cache(batch, longest + budget + length // v.max_shift_steps + 2, window.inputs)
        cache.valid[:, :longest] = tokens != PAD_TOKEN
        cache.valid[:, longest:] = True  # everything decoded from here on is real
        causal = torch.ones(longest, longest, dtype=torch.bool).tril()
        # Padding attends to itself only, so no row is fully masked (which would put NaNs in the cache).
        self_mask = causal & (cache.valid[:, None, None, :longest] | torch.eye(longest, dtype=torch.bool))
        logits = model.decode(window, tokens, times, self_mask, cache)[:, -1].detach().numpy()
        key_bias = cache.key_bias()
        done = [state.step >= length for state in states]
        onsets = self._guided_onsets(window, start, resume) if self.sampling.guided else [None] * batch
        self._sample(window, tracks, states, done, logits, cache, key_bias, start, length, budget, onsets)

    def _guided_onsets(self, window: EncodedWindow, start: int, resume: int) -> list[list[int] | None]:
        """Each row's guided onset steps (window-relative, sorted; onsets.py) for the window starting at grid
        step `start`, picked among the frames from `resume` on, so onsets in the primed prefix neither count
        nor crowd out later ones. None per row for a model without an onset head."""
        config = self.model.config
        if window.onsets is None:
            return [None] * window.inputs.shape[0]
        threshold = self.sampling.onset_threshold or config.onset_threshold
        mass = config.onset_mass if self.sampling.onset_mass is None else self.sampling.onset_mass
        steps_per_frame = self.vocabulary.steps_per_second / config.rate
        first = int(math.ceil((resume - start) / steps_per_frame - 1e-9))
        offset = round(start / steps_per_frame)  # the window's first frame on the clip's clock
        rows = window.onsets.detach().float().numpy()
        scale = config.motion_floor_scale.get(self.instrument.name, 1.0)
        floors = [0] * len(rows) if self.motion_frames is None else [
            motion_floor(frames, offset + first, offset + rows.shape[1], scale) for frames in self.motion_frames]
        return [[int(step) for step in np.round(onset_frames(row, threshold, mass, first, floor) * steps_per_frame)]
                for row, floor in zip(rows, floors)]

    def _sample(self, window: EncodedWindow, tracks: list[TrackState], states: list[GrammarState],
                done: list[bool], logits: np.ndarray, cache: KVCache, key_bias: np.ndarray | None,
                start: int, length: int, budget: int, onsets: list[list[int] | None]) -> None:
        """The token loop of run(): sample, record, step the cache, until every row reaches the end."""
        batch, v, model = len(tracks), self.vocabulary, self.model
        written, at_step, started = [0] * batch, [0] * batch, [False] * batch
        masks = np.zeros((batch, v.size), dtype=bool)
        while not all(done):
            for b in range(batch):
                masks[b] = self._allowed(states[b], done[b], length, written[b] >= budget,
                                         at_step[b] >= self.step_cap, onsets[b], started[b])
            chosen = self.choose(logits, masks, states, start)
            for b, token in enumerate(chosen.tolist()):
                if done[b]:
                    continue
                self._record(tracks[b], states[b], token, start)
                written[b] += 1
                self.tokens_written += 1
                kind = v.event(token)[0]
                at_step[b] = 0 if kind == TIME_SHIFT else at_step[b] + 1
                started[b] = kind == NOTE_ON or (started[b] and kind != TIME_SHIFT)
                done[b] = states[b].step >= length
            if all(done):
                break
            logits = model.step(window, chosen, np.array([s.step for s in states]), key_bias, cache)

    def choose(self, logits: np.ndarray, allowed: np.ndarray, states: list[GrammarState],
               start: int) -> np.ndarray:
        """The next token of every row: the sampling policy, one method so a test can swap in an oracle."""
        return sample_tokens(logits, allowed, self.sampling, self.generator)

    def _allowed(self, state: GrammarState, done: bool, length: int, over_budget: bool, crowded: bool,
                 onsets: list[int] | None, started: bool) -> np.ndarray:
        """GrammarState's mask, no EOS, no time past the window, the guards, and onset guidance (see
        Sampling): `onsets` are this row's guided onset steps (sorted), `started` whether a note began at
        this step. The result may be shared: read it, do not change it."""
        v = self.vocabulary
        if done:
            return self._pad_only
        mask = state.allowed_mask()
        mask[EOS_TOKEN] = False  # windows end by time, not by EOS
        remaining = length - state.step
        mask[v.time_shift_offset + min(remaining, v.max_shift_steps):v.velocity_offset] = False
        guided = self._guide(mask.copy(), state.step, onsets, started)
        # The guards end a runaway window, so they win over onset guidance when the two leave nothing.
        for candidate in (guided, mask):
            guarded = self._guard(candidate, remaining, over_budget, crowded)
            if guarded.any():
                return guarded
        return guarded

    def _guide(self, mask: np.ndarray, step: int, onsets: list[int] | None, started: bool) -> np.ndarray:
        """Onset guidance: time shifts stop at the next guided onset, notes start only on one, and one must."""
        if onsets is None:
            return mask
        v = self.vocabulary
        shifts = mask[v.time_shift_offset:v.velocity_offset]
        later = bisect_right(onsets, step)  # onsets[later] is the next onset after this step
        if later < len(onsets):
            shifts[onsets[later] - step:] = False  # stop at the next onset
        if not (later and onsets[later - 1] == step):
            mask[v.note_on_offset:v.note_off_offset] = False
            mask[v.velocity_offset:] = False
        elif not started and mask[v.note_on_offset:v.time_shift_offset].any():
            shifts[:] = False  # something must start here (after a note-off if every voice is busy)
        return mask

    def _guard(self, mask: np.ndarray, remaining: int, over_budget: bool, crowded: bool) -> np.ndarray:
        """Too many tokens in the window, or at one step: only time may move on (over budget: to the end)."""
        if not (over_budget or crowded):
            return mask
        v = self.vocabulary
        mask = mask.copy()
        mask[:v.time_shift_offset] = False
        mask[v.velocity_offset:] = False
        if over_budget:  # jump straight to the end of the window
            mask[v.time_shift_offset:v.time_shift_offset + min(remaining, v.max_shift_steps) - 1] = False
        return mask

    def _record(self, track: TrackState, state: GrammarState, token: int, start: int) -> None:
        kind, value = self.vocabulary.event(token)
        now = start + state.step
        if kind == NOTE_ON:
            bin_ = state.velocity_bin if state.velocity_bin is not None else self.vocabulary.velocity_bin(64)
            track.sounding[value] = (now, self.vocabulary.bin_velocity(bin_))
        elif kind == NOTE_OFF and value in track.sounding:
            begin, velocity = track.sounding.pop(value)
            if now > begin:  # an on and off at one step is no note, as in vocabulary.decode
                track.notes.append((begin, now, value, velocity))
        state.advance(token)


@torch.inference_mode()
def generate_tracks(model: FoleyModel, joints: list[np.ndarray], rate: float, frame_size: tuple[int, int],
                    instrument: Instrument, duration: float, *, sampling: Sampling = Sampling(),
                    seed: int | None = None, variations: int = 1,
                    stats: dict | None = None) -> list[list[list[Note]]]:
    """Notes for every performer, `variations` times: result[take][performer] is one sorted note track.

    `joints` holds each performer's (T, 67, 3) joints (features.performer_joints) sampled at `rate`; notes
    lie in [0, duration). The same seed and inputs give the same notes. `stats`, if given, receives the
    number of sampled tokens and windows (for throughput reports).
    """
    if variations < 1:
        raise ValueError(f"variations must be >= 1, got {variations}")
    if not joints:  # nobody seen: each take has no track
        return [[] for _ in range(variations)]
    model.eval()
    config, vocabulary = model.config, model.config.vocabulary
    sps = vocabulary.steps_per_second
    performers = len(joints)
    joints = [resample_joints(j, rate, config.rate) for j in joints]
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    generator = torch.Generator().manual_seed(seed)
    tracks = [TrackState() for _ in range(performers * variations)]
    ids = model.instrument_ids([instrument]).repeat(performers * variations, 1)
    motion = None
    if sampling.guided and sampling.motion_floor:
        found = [motion_onset_frames(j, config.rate, frame_size, instrument) for j in joints]
        motion = [found[row // variations] for row in range(performers * variations)]
    decoder = WindowDecoder(model, instrument, sampling, generator, motion)
    total = round(duration * sps)
    plans = plan_windows(total, round(config.window * sps), round(config.overlap * sps))

    def encode(start: int, end: int) -> EncodedWindow:
        with torch.inference_mode():  # inference mode is per thread, and this runs on the pool's
            first = round(start / sps * config.rate)
            count = max(1, round(end / sps * config.rate) - first)
            features, mask = window_inputs(joints, frame_size, config.rate, first, count)
            window = model.encode(features.repeat_interleave(variations, dim=0),
                                  mask.repeat_interleave(variations, dim=0), ids, end - start)
            model.prepare_step(window, weights)
            return window

    # Windows are encoded (and prepared for stepping) on a second thread, up to two ahead of the one sampling,
    # while this thread encodes the first: the encoder is a few large operations, so it hardly contends for the
    # GIL, and with a second core free its ~25-45 ms per window leave the token loop (two ahead keep it busy
    # where it is the slower of the two, as in a cold process); on a busy CPU it costs what it did inline.
    with single_thread(), ThreadPoolExecutor(max_workers=1) as pool:
        weights = model.step_weights()
        ahead = deque(pool.submit(encode, start, end) for start, _, end in plans[1:3])
        window = encode(plans[0][0], plans[0][2])
        for i, (start, resume, end) in enumerate(plans):
            if i:
                window = ahead.popleft().result()
                if i + 2 < len(plans):
                    ahead.append(pool.submit(encode, plans[i + 2][0], plans[i + 2][2]))
            decoder.run(window, tracks, start, resume, end)
    if stats is not None:
        stats.update(tokens=decoder.tokens_written, windows=len(plans))
    notes = [track.finish(total, sps) for track in tracks]
    return [[notes[p * variations + take] for p in range(performers)] for take in range(variations)]
