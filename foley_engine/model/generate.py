"""Sampling notes from the model: windows over long clips, grammar-masked sampling, notes carried across seams.

A clip is cut into windows of `config.window` seconds; each window after the first starts `config.overlap`
seconds before the previous one ended and is primed (teacher-forced) with the notes already written there,
including notes still sounding at the seam, then writes only from the seam on. So every moment of the clip is
written exactly once (no doubled notes) and a note held across a seam is one note: the next window sees it
sounding in its prefix and decides when it ends (no cut notes). All performers x variations of one window run
as one batch with a key/value cache, which is where the speed comes from. How a token is drawn lives in
sampling.py, the windows' plan and what carries across a seam in windows.py.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..instruments import Instrument
from ..notes import Note
from .decoder import KVCache
from .network import EncodedWindow, FoleyModel
from .onsets import motion_floor, motion_onset_frames, onset_frames
from .sampling import Sampling, Uniforms, sample_tokens
from .sequences import encode_window
from .vocabulary import EOS_TOKEN, NOTE_OFF, NOTE_ON, PAD_TOKEN, TIME_SHIFT, EventKind, GrammarState
from .windows import TrackState, plan_windows, resample_joints, window_inputs

_MAX_TOKENS_PER_SECOND = 120  # a window never writes more than this; ~30 notes/s with velocities


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
        self.uniforms = Uniforms(generator)  # the generator's draws, a block at a time
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
        done = [state.step >= length for state in states]
        onsets: list[list[int] | None] = (self._guided_onsets(window, start, resume) if self.sampling.guided
                                          else [None] * batch)
        self._sample(window, tracks, states, done, logits, cache, start, length, budget, onsets)

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
                for row, floor in zip(rows, floors, strict=True)]

    def _sample(self, window: EncodedWindow, tracks: list[TrackState], states: list[GrammarState],
                done: list[bool], logits: np.ndarray, cache: KVCache, start: int, length: int, budget: int,
                onsets: list[list[int] | None]) -> None:
        """The token loop of run(): sample, record, step the cache, until every row reaches the end."""
        batch, model = len(tracks), self.model
        written, at_step, started = [0] * batch, [0] * batch, [False] * batch
        masks = np.zeros((batch, self.vocabulary.size), dtype=bool)
        steps = np.array([state.step for state in states])  # the rows' grid steps, for model.step
        while not all(done):
            for b in range(batch):
                self._allow(masks[b], states[b], done[b], length, written[b] >= budget,
                            at_step[b] >= self.step_cap, onsets[b], started[b])
            chosen = self.choose(logits, masks, states, start)
            for b, token in enumerate(chosen.tolist()):
                if done[b]:
                    continue
                kind = self._record(tracks[b], states[b], token, start)
                written[b] += 1
                self.tokens_written += 1
                at_step[b] = 0 if kind == TIME_SHIFT else at_step[b] + 1
                started[b] = kind == NOTE_ON or (started[b] and kind != TIME_SHIFT)
                steps[b] = states[b].step
                done[b] = steps[b] >= length
            if all(done):
                break
            logits = model.step(window, chosen, steps, cache)

    def choose(self, logits: np.ndarray, allowed: np.ndarray, states: list[GrammarState],
               start: int) -> np.ndarray:
        """The next token of every row: the sampling policy, one method so a test can swap in an oracle."""
        return sample_tokens(logits, allowed, self.sampling, self.uniforms)

    def _allow(self, row: np.ndarray, state: GrammarState, done: bool, length: int, over_budget: bool,
               crowded: bool, onsets: list[int] | None, started: bool) -> None:
        """Write into `row` GrammarState's mask, no EOS, no time past the window, the guards, and onset
        guidance (see Sampling): `onsets` are this row's guided onset steps (sorted), `started` whether a
        note began at this step. In place: a token's masks are a dozen small numpy calls, and copies were a
        third of them."""
        if done:
            row[:] = self._pad_only
            return
        remaining = length - state.step
        self._base(row, state, remaining)
        self._guide(row, state.step, onsets, started)
        self._guard(row, remaining, over_budget, crowded)
        if not row.any():  # the guards end a runaway window, so they win over guidance when the two leave nothing
            self._base(row, state, remaining)
            self._guard(row, remaining, over_budget, crowded)

    def _base(self, row: np.ndarray, state: GrammarState, remaining: int) -> None:
        """GrammarState's mask without EOS (windows end by time) and without time past the window."""
        v = self.vocabulary
        row[:] = state.current_mask()
        row[EOS_TOKEN] = False
        row[v.time_shift_offset + min(remaining, v.max_shift_steps):v.velocity_offset] = False

    def _guide(self, mask: np.ndarray, step: int, onsets: list[int] | None, started: bool) -> None:
        """Onset guidance: time shifts stop at the next guided onset, notes start only on one, and one must."""
        if onsets is None:
            return
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

    def _guard(self, mask: np.ndarray, remaining: int, over_budget: bool, crowded: bool) -> None:
        """Too many tokens in the window, or at one step: only time may move on (over budget: to the end)."""
        if not (over_budget or crowded):
            return
        v = self.vocabulary
        mask[:v.time_shift_offset] = False
        mask[v.velocity_offset:] = False
        if over_budget:  # jump straight to the end of the window
            mask[v.time_shift_offset:v.time_shift_offset + min(remaining, v.max_shift_steps) - 1] = False

    def _record(self, track: TrackState, state: GrammarState, token: int, start: int) -> EventKind:
        """Add `token` to the row's notes and grammar state; its kind."""
        kind, value = self.vocabulary.event(token)
        now = start + state.step
        if kind == NOTE_ON and value is not None:
            bin_ = state.velocity_bin if state.velocity_bin is not None else self.vocabulary.velocity_bin(64)
            track.sounding[value] = (now, self.vocabulary.bin_velocity(bin_))
        elif kind == NOTE_OFF and value in track.sounding:
            begin, velocity = track.sounding.pop(value)
            if now > begin:  # an on and off at one step is no note, as in vocabulary.decode
                track.notes.append((begin, now, value, velocity))
        state.advance(token)
        return kind


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
    ids = model.instrument_ids([instrument]).repeat(performers, 1)
    decoder = WindowDecoder(model, instrument, sampling, generator)
    total = round(duration * sps)
    plans = plan_windows(total, round(config.window * sps), round(config.overlap * sps))

    def motion() -> list[np.ndarray] | None:
        """Each row's motion-onset frames for the floor (Sampling.motion_floor), or None without one."""
        if not (sampling.guided and sampling.motion_floor):
            return None
        found = [motion_onset_frames(j, config.rate, frame_size, instrument) for j in joints]
        return [found[row // variations] for row in range(performers * variations)]

    def encode(start: int, end: int) -> EncodedWindow:
        with torch.inference_mode():  # inference mode is per thread, and this runs on the pool's
            first = round(start / sps * config.rate)
            count = max(1, round(end / sps * config.rate) - first)
            features, mask = window_inputs(joints, frame_size, config.rate, first, count)
            window = model.encode(features, mask, ids, end - start).repeated(variations)
            model.prepare_step(window, weights)
            return window

    # Windows are encoded (and prepared for stepping) on a second thread, up to two ahead of the one sampling,
    # while this thread encodes the first: the encoder is a few large operations, so it hardly contends for the
    # GIL, and with a second core free its ~25-45 ms per window leave the token loop (two ahead keep it busy
    # where it is the slower of the two, as in a cold process); on a busy CPU it costs what it did inline.
    # The motion onsets (a pass of the baseline over the whole clip, ~5 % of a take) go first on that thread.
    with single_thread(), ThreadPoolExecutor(max_workers=1) as pool:
        weights = model.step_weights()  # before the motion onsets' thread starts: with it, this took 10x longer
        motion_frames = pool.submit(motion)  # first: the first window waits for it
        ahead = deque(pool.submit(encode, start, end) for start, _, end in plans[1:3])
        window = encode(plans[0][0], plans[0][2])
        decoder.motion_frames = motion_frames.result()
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
