"""Generation: grammar and range masks, seeds, the key/value cache, and notes carried across window seams."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from model_fixtures import TINY, random_joints, tiny_model

from foley_engine.instruments import get_instrument
from foley_engine.model import generate as gen
from foley_engine.model import kernels, windows
from foley_engine.model import sampling as sampler
from foley_engine.model.generate import generate_tracks
from foley_engine.model.sampling import Sampling
from foley_engine.model.vocabulary import NOTE_OFF, NOTE_ON, PAD_TOKEN, TIME_SHIFT, VELOCITY, VOCABULARY, GrammarState
from foley_engine.model.windows import plan_windows
from foley_engine.notes import Note

HOT = Sampling(temperature=1.5, top_k=0, top_p=1.0, guided=False)  # untrained and hot: many notes


def _generate(model, instrument="flute", seconds=7.0, performers=1, **options):
    frames = int(seconds * 30)
    joints = [random_joints(frames, seed=p) for p in range(performers)]
    return generate_tracks(model, joints, 30.0, (1280, 720), get_instrument(instrument), seconds, **options)


@pytest.mark.parametrize("instrument", ["flute", "violin", "piano"])
def test_generated_notes_obey_range_polyphony_and_clip(instrument):
    inst = get_instrument(instrument)
    notes = _generate(tiny_model(seed=1), instrument, sampling=HOT, seed=0)[0][0]
    assert notes, "a hot untrained model should write some notes"
    for note in notes:
        assert inst.lowest <= note.pitch <= inst.highest
        assert 0 <= note.start < note.end <= 7.0
    events = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes], key=lambda e: (e[0], e[1]))
    assert max(np.cumsum([e[1] for e in events])) <= inst.max_polyphony
    for pitch in {n.pitch for n in notes}:
        same = [n for n in notes if n.pitch == pitch]
        assert all(a.end <= b.start for a, b in zip(same, same[1:], strict=False)), "one pitch sounds once at a time"


def test_same_seed_same_notes_other_seed_other_notes():
    model = tiny_model(seed=2)
    first = _generate(model, sampling=HOT, seed=11)
    assert _generate(model, sampling=HOT, seed=11) == first
    assert _generate(model, sampling=HOT, seed=12) != first


def test_variations_are_distinct_takes_for_every_performer():
    takes = _generate(tiny_model(seed=3), "piano", performers=2, sampling=HOT, seed=5, variations=3)
    assert len(takes) == 3 and all(len(take) == 2 for take in takes)
    assert takes[0] != takes[1] != takes[2]


def test_nobody_seen_gives_takes_without_tracks():
    assert generate_tracks(tiny_model(), [], 30.0, (640, 360), get_instrument("piano"), 2.0, variations=2) == [[], []]


def test_sampling_filters():
    logits = np.array([[0.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    allowed = np.array([[True, True, True, False]])
    generator = torch.Generator().manual_seed(0)
    assert sampler.sample_tokens(logits, allowed, Sampling(temperature=0.0), generator).item() == 2
    picks = {sampler.sample_tokens(logits, allowed, Sampling(1.0, top_k=2, top_p=1.0), generator).item()
             for _ in range(50)}
    assert picks == {1, 2}
    picks = {sampler.sample_tokens(logits, allowed, Sampling(1.0, top_k=0, top_p=0.5), generator).item()
             for _ in range(50)}
    assert picks == {2}


def test_sampling_draws_follow_the_filtered_distribution_and_forced_rows_draw_nothing():
    """Inverting the CDF at evenly spread uniforms reproduces the top-k / top-p filtered softmax exactly
    (up to the grid), and a row with a single allowed token leaves the generator untouched."""
    scaled = np.array([2.0, 1.0, 0.5, 0.0, -1.0, 1.0])
    for sampling in (Sampling(1.0, top_k=0, top_p=1.0), Sampling(1.0, top_k=4, top_p=1.0),
                     Sampling(1.0, top_k=0, top_p=0.8), Sampling(1.0, top_k=3, top_p=0.7)):
        logits = torch.tensor(scaled, dtype=torch.float32)[None]
        allowed = torch.ones_like(logits, dtype=torch.bool)
        if sampling.top_k:
            kth = logits.topk(sampling.top_k).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = logits.softmax(-1)[0].double()
        if sampling.top_p < 1:
            ranked, order = probs.sort(descending=True)
            drop = (ranked.cumsum(0) - ranked > sampling.top_p)
            probs[order[drop]] = 0.0
            probs /= probs.sum()
        picks = np.bincount([kernels._draw(scaled, sampling.top_k, sampling.top_p, (i + 0.5) / 10000)
                             for i in range(10000)],
                            minlength=len(scaled))
        np.testing.assert_allclose(picks / 10000, probs.numpy(), atol=2e-4)
    generator = torch.Generator().manual_seed(3)
    state = generator.get_state()
    allowed = np.zeros((2, 6), dtype=bool)
    allowed[0, 4] = allowed[1, 2] = True
    assert sampler.sample_tokens(np.ones((2, 6), np.float32), allowed, Sampling(), generator).tolist() == [4, 2]
    assert torch.equal(generator.get_state(), state)


@pytest.mark.parametrize("instrument", ["piano", "violin", "drums"])
def test_grammar_mask_follows_its_rules_on_random_walks(instrument):
    """GrammarState's mask (built from a template for speed) against its rules written out plainly, on random
    walks through the grammar: polyphony reached, velocities repeated, percussion pieces, EOS."""
    inst, v = get_instrument(instrument), VOCABULARY
    rng = np.random.default_rng(4)
    for _ in range(10):
        state = GrammarState(v, inst)
        for _ in range(150):
            expected = np.zeros(v.size, dtype=bool)
            if state.finished:
                expected[PAD_TOKEN] = True
            else:
                expected[2] = True  # EOS
                playable = {key for _, key in inst.pieces} if inst.pieces else set(range(inst.lowest,
                                                                                         inst.highest + 1))
                sounding = set(np.flatnonzero(state.sounding).tolist())
                for pitch in range(128):
                    expected[v.token(NOTE_ON, pitch)] = (pitch in playable and pitch not in sounding
                                                         and len(sounding) < inst.max_polyphony)
                    expected[v.token(NOTE_OFF, pitch)] = pitch in sounding
                expected[v.time_shift_offset:v.velocity_offset] = True
                for bin_ in range(v.velocity_bins):
                    expected[v.token(VELOCITY, bin_)] = not state._after_velocity and bin_ != state.velocity_bin
            mask = state.allowed_mask()
            assert np.array_equal(mask, expected)
            if state.finished:
                break
            state.advance(int(rng.choice(np.flatnonzero(mask))))


def test_block_drawn_uniforms_are_the_one_at_a_time_draws():
    """Uniforms draws a block at a time; sampling must see the numbers single draws would have given, across
    block boundaries and for several rows at once."""
    single = torch.Generator().manual_seed(9)
    expected = [torch.rand(1, generator=single, dtype=torch.float64).item() for _ in range(40)]
    blocks = sampler.Uniforms(torch.Generator().manual_seed(9), block=16)
    taken = blocks.take(1) + blocks.take(3) + blocks.take(0) + blocks.take(20) + blocks.take(16)
    assert taken == expected


@pytest.mark.parametrize("ffn", [64, 96, 32])
def test_cached_decoding_equals_full_recomputation(ffn):
    """Greedy tokens and logits from the KV cache match re-running the whole prefix, at feed-forward widths
    equal to other products' (3 x d_model, d_model) and not: the compiled step (kernels.py) sizes its scratch
    rows from each weight's shape."""
    model = tiny_model(seed=4, config=dataclasses.replace(TINY, ffn=ffn))
    inst = get_instrument("piano")
    frames = int(model.config.window * 30)
    from foley_engine.model.features import pose_features
    features, mask = pose_features(random_joints(frames, seed=9), (1280, 720), 30.0)
    window = model.encode(torch.from_numpy(features)[None], torch.from_numpy(mask)[None],
                          model.instrument_ids([inst]))
    state, tokens, times = GrammarState(VOCABULARY, inst), [1], [0]
    cache = model.new_cache(1, 64, window.inputs)
    cache.valid[:] = True
    with torch.no_grad():
        cached = model.decode(window, torch.tensor([tokens]), torch.tensor([times]), None, cache)[:, -1].numpy()
        for _ in range(30):
            full = model.decode(window, torch.tensor([tokens]), torch.tensor([times]))[:, -1]
            torch.testing.assert_close(torch.from_numpy(cached), full, atol=1e-4, rtol=1e-4)
            allowed = torch.from_numpy(state.allowed_mask())[None]
            token = int(full.masked_fill(~allowed, float("-inf")).argmax())
            state.advance(token)
            tokens.append(token)
            times.append(state.step)
            cached = model.step(window, np.array([token]), np.array([state.step]), cache)


def test_cached_steps_of_a_left_padded_batch_equal_full_recomputation():
    """step() on a batch whose rows have prefixes of different lengths (left padding hidden as cache.valid marks it)
    gives each row the logits decode() computes from that row's real tokens alone."""
    model = tiny_model(seed=8)
    inst = get_instrument("piano")
    frames = int(model.config.window * 30)
    features, mask = windows.window_inputs([random_joints(frames, seed=s) for s in (3, 4)], (1280, 720), 30.0, 0,
                                       frames)
    ids = model.instrument_ids([inst, inst])
    rows = [([1, 280, 370, 62], [0, 22, 22, 22]), ([1, 265], [0, 7])]  # (tokens, times); the second is padded
    tokens = torch.tensor([rows[0][0], [PAD_TOKEN] * 2 + rows[1][0]])
    times = torch.tensor([rows[0][1], [0, 0] + rows[1][1]])
    with torch.no_grad():
        window = model.encode(features, mask, ids)
        alone = [model.encode(features[b:b + 1], mask[b:b + 1], ids[b:b + 1]) for b in range(2)]
        cache = model.new_cache(2, 16, window.inputs)
        cache.valid[:, :4] = tokens != PAD_TOKEN
        cache.valid[:, 4:] = True
        causal = torch.ones(4, 4, dtype=torch.bool).tril()
        model.decode(window, tokens, times, causal & (cache.valid[:, None, None, :4] | torch.eye(4).bool()), cache)
        for token, step in ((75, 30), (269, 41), (80, 41)):  # arbitrary events, the same for both rows
            cached = model.step(window, np.array([token, token]), np.array([step, step]), cache)
            for b, (row_tokens, row_times) in enumerate(rows):
                row_tokens.append(token)
                row_times.append(step)
                full = model.decode(alone[b], torch.tensor([row_tokens]), torch.tensor([row_times]))[:, -1]
                torch.testing.assert_close(torch.from_numpy(cached[b:b + 1]), full, atol=1e-4, rtol=1e-4)


def test_a_step_past_the_caches_capacity_is_refused_not_written_out_of_bounds():
    """The compiled step does not check its indices: a cache too small for a window would be written past its
    end, silently. step() refuses instead, as the torch layout's indexing did."""
    model = tiny_model(seed=2)
    frames = int(model.config.window * 30)
    features, mask = windows.window_inputs([random_joints(frames, seed=2)], (1280, 720), 30.0, 0, frames)
    with torch.no_grad():
        window = model.encode(features, mask, model.instrument_ids([get_instrument("piano")]))
        cache = model.new_cache(1, 3, window.inputs)
        cache.valid[:] = True
        model.decode(window, torch.tensor([[1, 280]]), torch.tensor([[0, 22]]), None, cache)
        model.step(window, np.array([62]), np.array([22]), cache)  # the third and last position
        with pytest.raises(IndexError, match="3 positions"):
            model.step(window, np.array([62]), np.array([22]), cache)
    assert cache.length == 3


def test_left_padded_batch_row_equals_the_row_alone():
    model = tiny_model(seed=5)
    inst = get_instrument("piano")
    decoder = gen.WindowDecoder(model, inst, Sampling(temperature=0.0), torch.Generator().manual_seed(0))
    frames = int(model.config.window * 30)
    features, mask = windows.window_inputs([random_joints(frames, seed=1)], (1280, 720), 30.0, 0, frames)
    held = windows.TrackState(notes=[(0, 40, 62, 70), (20, 90, 65, 90)], sounding={67: (80, 50)})
    fresh = windows.TrackState()

    def run(tracks):
        ids = model.instrument_ids([inst]).repeat(len(tracks), 1)
        window = model.encode(features.repeat(len(tracks), 1, 1, 1), mask.repeat(len(tracks), 1, 1), ids, 300)
        decoder.run(window, tracks, 0, 100, 300)
        return tracks

    import copy
    alone = run([copy.deepcopy(held)])[0]
    together = run([copy.deepcopy(fresh), copy.deepcopy(held)])[1]
    assert alone == together


def _oracle(target: list[Note]):
    """A sampling policy that writes `target` exactly, whatever the model says: tests the windowing alone."""
    grid = [(round(n.start * 100), round(n.end * 100), n.pitch, n.velocity) for n in VOCABULARY.quantise(target)]

    def choose(self, logits, allowed, states, start):
        picks = []
        for row, state in enumerate(states):
            if bool(allowed[row, PAD_TOKEN]):
                picks.append(PAD_TOKEN)
                continue
            now = start + state.step
            due_off = [p for s, e, p, _ in grid if e == now and state.sounding[p]]
            due_on = sorted((p, v) for s, e, p, v in grid if s == now and not state.sounding[p])
            if due_off:
                picks.append(VOCABULARY.token(NOTE_OFF, due_off[0]))
            elif due_on:
                pitch, velocity = due_on[0]
                bin_ = VOCABULARY.velocity_bin(velocity)
                picks.append(VOCABULARY.token(NOTE_ON, pitch) if state.velocity_bin == bin_
                             else VOCABULARY.token(VELOCITY, bin_))
            else:
                upcoming = [s for s, *_ in grid if s > now] + [e for s, e, *_ in grid if s <= now < e]
                shifts = np.flatnonzero(allowed[row, VOCABULARY.time_shift_offset:VOCABULARY.velocity_offset])
                longest = int(shifts.max()) + 1
                picks.append(VOCABULARY.token(TIME_SHIFT, min([longest] + [u - now for u in upcoming])))
        return np.array(picks)
    return choose


def test_notes_cross_window_seams_whole(monkeypatch):
    """Window 3 s, overlap 1 s: writing spans are [0,3) [3,5) [5,7) [7,9) [9,10). Notes held across seams,
    starting or ending exactly on one, and repeated on both sides of one must come out exactly once, whole."""
    model = tiny_model(seed=6)
    assert plan_windows(1000, 300, 100) == [(0, 0, 300), (200, 300, 500), (400, 500, 700), (600, 700, 900),
                                            (800, 900, 1000)]
    target = [Note(0.2, 0.9, 60, 80), Note(1.5, 6.2, 64, 100),  # held across two seams
              Note(2.9, 3.0, 67, 40), Note(3.0, 3.4, 69, 40),  # ends / starts exactly at a seam
              Note(4.5, 5.0, 71, 60), Note(5.0, 5.5, 72, 60), Note(6.8, 7.2, 62, 30), Note(7.3, 7.9, 62, 30),
              Note(8.0, 9.7, 48, 120), Note(9.5, 10.0, 50, 70)]  # the last one sounds to the very end
    monkeypatch.setattr(gen.WindowDecoder, "choose", _oracle(target))
    notes = _generate(model, "piano", seconds=10.0, seed=0, sampling=Sampling(guided=False))[0][0]
    assert notes == VOCABULARY.quantise(target)


def test_onset_guidance_starts_notes_exactly_at_the_onset_heads_peaks():
    model = tiny_model(seed=7)
    inst = get_instrument("piano")
    decoder = gen.WindowDecoder(model, inst, Sampling(temperature=1.5, onset_threshold=0.5),
                                torch.Generator().manual_seed(0))
    frames = int(model.config.window * 30)
    features, mask = windows.window_inputs([random_joints(frames, seed=2)], (1280, 720), 30.0, 0, frames)
    window = model.encode(features, mask, model.instrument_ids([inst]), 300)
    window.onsets = torch.zeros(1, frames)
    window.onsets[0, [6, 30, 31, 60, 84]] = torch.tensor([0.9, 0.7, 0.8, 0.6, 0.95])  # 30/31: one stroke
    track = windows.TrackState()
    decoder.run(window, [track], 0, 0, 300)
    starts = {start for start, *_ in track.notes} | {start for start, _ in track.sounding.values()}
    assert starts == {20, 103, 200, 280}


def test_the_compiled_code_made_at_install_is_loaded_not_compiled_and_only_once_tokens_are_drawn():
    """`make venv` runs warm_up() so that no clip waits ~4 s for numba to compile generation's token step and
    sampler: a later process must find both in numba's cache (hits, no compilation). Loading a model must not
    import numba (its compiler is ~100 MB, and a clip's pose stage, after the model is loaded, is where memory
    peaks). The warm-up leaves torch's global random state alone."""
    from foley_engine.model import warm_up
    state = torch.get_rng_state()
    warm_up()
    assert torch.equal(torch.get_rng_state(), state)
    probe = ("import sys; from foley_engine.model import load_model, warm_up; load_model(); "
             "print(int('numba' in sys.modules)); warm_up(); from foley_engine.model import kernels; "
             "print(*(sum(getattr(f.stats, k).values()) for f in (kernels.decoder_step, kernels.draw_rows) "
             "for k in ('cache_hits', 'cache_misses')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert list(map(int, done.stdout.split())) == [0, 1, 0, 1, 0]
