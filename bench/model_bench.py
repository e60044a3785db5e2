"""Note-model benchmark: MIDI events (tokens) generated per second on this CPU, for the shipped checkpoint.

Keypoints come from the synthetic pianist (no video needed), so the number measures generation alone:
windows, grammar masks, sampling and the cached decoder. One performer, one take is the figure that counts
for `foley generate`; the batched line shows what --variations / several performers get per token.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from foley_engine.data.performers import perform
from foley_engine.data.phrases import draw_phrase
from foley_engine.errors import ModelError
from foley_engine.instruments import get_instrument
from foley_engine.model import load_model, warm_up
from foley_engine.model.features import performer_joints
from foley_engine.model.generate import Sampling, generate_tracks

TARGET = 2000  # events/s for one performer x one take: generation well ahead of what a clip needs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default' or a checkpoint path")
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length to generate")
    parser.add_argument("--instrument", default="piano")
    args = parser.parse_args()
    clock = time.perf_counter()
    try:
        loaded = load_model(args.model)
    except ModelError as error:  # no checkpoint yet: say so instead of failing the other benchmarks' run
        print(f"model bench skipped: {error}")
        return 0
    instrument = get_instrument(args.instrument)
    rng = np.random.default_rng(7)
    phrase = draw_phrase(instrument, args.seconds, rng, "generated")
    keypoints = perform(phrase.tracks[:1], instrument, args.seconds, rng)
    joints = [performer_joints(keypoints.body[0], keypoints.hands[0])]
    print(f"model {loaded.name}: {sum(t.numel() for t in loaded.model.parameters()) / 1e6:.2f} M parameters, "
          f"loaded in {time.perf_counter() - clock:.2f} s")
    # A process's first token loads the compiled step and sampler (~0.45 s with numba's import, once): shown here,
    # not in the rate.
    clock = time.perf_counter()
    warm_up()
    print(f"compiled code ready in {time.perf_counter() - clock:.2f} s (once a process, at its first token)")
    # The target is for a quiet machine: say how busy this one was, so a "not met" under load reads as such.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    for label, variations in (("1 performer x 1 take", 1), ("batched: 1 performer x 4 takes", 4)):
        stats: dict = {}
        clock, cpu = time.perf_counter(), time.process_time()
        takes = generate_tracks(loaded.model, joints, keypoints.rate, keypoints.frame_size, instrument,
                                args.seconds, sampling=Sampling(), seed=0, variations=variations, stats=stats)
        seconds, cpu = time.perf_counter() - clock, time.process_time() - cpu
        notes = sum(len(track) for take in takes for track in take)
        # CPU seconds (both threads: the token loop and the encoder ahead of it) read better than wall time on
        # a busy machine, where the wall clock also counts the time other processes had the cores.
        print(f"generation, {label}: {stats['tokens']} events in {seconds:.2f} s = "
              f"{stats['tokens'] / seconds:,.0f} events/s ({notes} notes, {stats['windows']} windows, "
              f"{args.seconds / seconds:.1f}x real time, {cpu:.2f} CPU s)")
        if variations == 1:
            met = stats["tokens"] / seconds >= TARGET
            print(f"target >= {TARGET:,} events/s (1 performer x 1 take): {'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
