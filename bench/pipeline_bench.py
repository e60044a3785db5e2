"""Pipeline benchmark: times every stage of one real run and prints each as a real-time factor.

Real-time factor = stage seconds / clip seconds (below 1.0 is faster than real time). Peak RSS covers this
process and its pose workers. One run, no assertions: compare numbers across commits on the same machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from foley_engine.baseline import generate_baseline
from foley_engine.instruments import get_instrument
from foley_engine.pose import PoseSettings, extract_keypoints
from foley_engine.synth import SAMPLE_RATE, find_soundfont, render
from foley_engine.video import iter_frames, probe, resolve_range

SHARED_CLIP = Path(__file__).resolve().parents[1].parent / "shared/media/piano-furelise/video.mp4"


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=SHARED_CLIP)
    parser.add_argument("--instrument", default="piano")
    parser.add_argument("--start", type=float, default=None)
    parser.add_argument("--end", type=float, default=None)
    args = parser.parse_args()
    if not args.clip.exists():
        print(f"bench: clip not found: {args.clip} (pass --clip PATH)", file=sys.stderr)
        return 2
    info = probe(args.clip)
    start, end = resolve_range(info, args.start, args.end)
    duration = end - start
    rows: list[tuple[str, float]] = []

    clock = time.perf_counter()
    frames = sum(1 for _ in iter_frames(args.clip, start, end, max_size=PoseSettings().max_size))
    rows.append((f"decode ({frames} frames)", time.perf_counter() - clock))

    with tempfile.TemporaryDirectory() as cache:  # an empty cache: time the real pose work
        clock = time.perf_counter()
        keypoints = extract_keypoints(args.clip, start, end, cache_dir=Path(cache))
        rows.append(("pose", time.perf_counter() - clock))
        clock = time.perf_counter()  # the same range again: a cache hit should take well under a second
        extract_keypoints(args.clip, start, end, cache_dir=Path(cache))
        rows.append(("cache hit (pose again)", time.perf_counter() - clock))

    clock = time.perf_counter()
    performance = generate_baseline(keypoints, get_instrument(args.instrument), duration=duration)
    rows.append((f"notes ({len(performance.notes)}, baseline)", time.perf_counter() - clock))

    clock = time.perf_counter()
    render(performance, soundfont=find_soundfont(), num_samples=round(duration * SAMPLE_RATE))
    rows.append(("synth", time.perf_counter() - clock))

    total = sum(seconds for name, seconds in rows if not name.startswith(("decode", "cache hit")))
    print(f"clip: {args.clip.name}  {info.width}x{info.height}  range {start:.2f}-{end:.2f}s ({duration:.2f}s)")
    print(f"{'stage':<28}{'seconds':>9}{'x real time':>13}")
    for name, seconds in rows + [("total (pose+notes+synth)", total)]:
        print(f"{name:<28}{seconds:>9.2f}{seconds / duration:>13.3f}")
    print(f"{'peak RSS':<28}{peak_rss_mb():>9.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
