"""Generation's output pinned: the notes of fixed seeded generations, so that work on generation's speed
(issue 20) can show it changed nothing but the speed.

The fingerprints were taken from the code before that work (commit 0c4878d). The cases cover what the token
loop does differently: the shipped model at the default sampling and at temperature 1, greedy, top-k,
unguided, four takes of one performer in one batch, two performers of different prefix lengths in one batch
(left padding), and an untrained tiny model. A failure here means generation no longer gives the notes it
gave: if that is meant (a new checkpoint, a new sampling rule), take the fingerprints again and say why in
the commit. Float rounding that differs by a last bit between CPUs flips a sampled token only when a draw
lands within that bit of a boundary, which these few thousand tokens make unlikely.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from model_fixtures import random_joints, tiny_model

from foley_engine.data.performers import perform
from foley_engine.data.phrases import draw_phrase
from foley_engine.instruments import get_instrument
from foley_engine.model import load_model
from foley_engine.model.features import performer_joints
from foley_engine.model.generate import generate_tracks
from foley_engine.model.sampling import Sampling
from foley_engine.notes import Note


def fingerprint(takes: list[list[list[Note]]]) -> tuple[int, str]:
    """(number of notes, a hash of every note on the 10 ms grid, take by take and track by track)."""
    grid = [(round(n.start * 100), round(n.end * 100), n.pitch, n.velocity)
            for take in takes for track in take for n in track]
    return len(grid), hashlib.sha256(repr(grid).encode()).hexdigest()[:16]


def pianist(seconds: float, seed: int) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """bench/model_bench.py's synthetic pianist (seed 7 there): joints, frame rate, frame size."""
    instrument = get_instrument("piano")
    rng = np.random.default_rng(seed)
    phrase = draw_phrase(instrument, seconds, rng, "generated")
    keypoints = perform(phrase.tracks[:1], instrument, seconds, rng)
    return [performer_joints(keypoints.body[0], keypoints.hands[0])], keypoints.rate, keypoints.frame_size


SHIPPED = {  # name: (seconds, sampling, performers, variations, (notes, hash))
    "bench's one take": (60.0, Sampling(), 1, 1, (293, "b5bfafef1705d2d2")),
    "temperature 1": (20.0, Sampling(temperature=1.0), 1, 1, (117, "28c1dca8cf302290")),
    "greedy": (20.0, Sampling(temperature=0.0), 1, 1, (117, "596e7d72636a8e8b")),
    "top-k and top-p": (20.0, Sampling(temperature=1.0, top_k=5, top_p=0.9), 1, 1, (115, "ad261a4069897300")),
    "unguided": (20.0, Sampling(temperature=1.0, guided=False), 1, 1, (121, "c5ab029afd3818d9")),
    "four takes in a batch": (20.0, Sampling(temperature=1.0), 1, 4, (489, "e746a7c7e7a3ac2d")),
    "two performers, two takes": (20.0, Sampling(), 2, 2, (401, "3b4dfb393fe12e0d")),
}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_model_gives_the_pinned_notes(name):
    seconds, sampling, performers, variations, expected = SHIPPED[name]
    joints, rate, frame_size = pianist(seconds, 7)
    if performers == 2:  # a second pianist playing something else: the rows' prefixes differ in length
        joints += pianist(seconds, 8)[0]
    takes = generate_tracks(load_model("default").model, joints, rate, frame_size, get_instrument("piano"),
                            seconds, sampling=sampling, seed=0, variations=variations)
    assert fingerprint(takes) == expected


HOT = Sampling(temperature=1.5, top_k=0, top_p=1.0, guided=False)
TINY = {  # name: (instrument, model seed, performers, variations, sampling, (notes, hash))
    "unguided, two performers, two takes": ("flute", 3, 2, 2, HOT, (11, "288c92a9363c27f3")),
    "guided flute": ("flute", 3, 2, 1, Sampling(), (56, "44e15aeda964a0fb")),
    "percussion pieces": ("drums", 4, 1, 2, HOT, (10, "73c73ff93aaed796")),
    "guided percussion": ("drums", 4, 1, 1, Sampling(), (109, "7c1d26e4eeb2608e")),
}


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_model_gives_the_pinned_notes(name):
    """Other shapes than the shipped model's (d_model 32, 2 heads, 3 s windows), other instruments' masks."""
    instrument, model_seed, performers, variations, sampling, expected = TINY[name]
    joints = [random_joints(210, seed=p) for p in range(performers)]
    takes = generate_tracks(tiny_model(seed=model_seed), joints, 30.0, (1280, 720), get_instrument(instrument),
                            7.0, sampling=sampling, seed=1, variations=variations)
    assert fingerprint(takes) == expected
