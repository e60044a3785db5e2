"""Pipeline benchmark: what `foley generate` runs by default, stage by stage, as real-time factors.

It calls the engine's one entry point with every default (the note source that looks for a keyboard, the
shipped model where none is found) on an empty keypoint cache, so the numbers are what a user waits for.
Real-time factor = seconds / clip seconds (below 1.0 is faster than real time). Peak RSS covers this process
and its pose workers. One run, no assertions: compare numbers across commits on the same machine. The last
line is `rtf R`: end-to-end seconds divided by clip seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from foley_engine.pipeline import generate
from foley_engine.pose.extract import PoseSettings, extract_keypoints
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

    clock = time.perf_counter()
    frames = sum(1 for _ in iter_frames(args.clip, start, end, max_size=PoseSettings().max_size))
    decode = time.perf_counter() - clock

    with tempfile.TemporaryDirectory() as cache:  # an empty cache: time the real pose work
        os.environ["FOLEY_CACHE_DIR"] = cache
        clock = time.perf_counter()
        result = generate(args.clip, args.instrument, start=start, end=end)
        total = time.perf_counter() - clock
        # The same range again, with the pose settings generate used: a cache hit should take well under a second.
        clock = time.perf_counter()
        extract_keypoints(args.clip, start, end, result.pose_settings)
        cache_hit = time.perf_counter() - clock

    rows = [(f"decode only ({frames} frames)", decode)]
    rows += [(stage, seconds) for stage, seconds in result.timings.items()]
    rows += [("cache hit (pose again)", cache_hit), (f"end to end ({result.performance.generator})", total)]
    print(f"clip: {args.clip.name}  {info.width}x{info.height}  range {start:.2f}-{end:.2f}s ({duration:.2f}s)  "
          f"{len(result.performance.notes)} notes")
    print(f"{'stage':<40}{'seconds':>9}{'x real time':>13}")
    for name, seconds in rows:
        print(f"{name:<40}{seconds:>9.2f}{seconds / duration:>13.3f}")
    print(f"{'peak RSS':<40}{peak_rss_mb():>9.0f} MB")
    print(f"rtf {total / duration:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
