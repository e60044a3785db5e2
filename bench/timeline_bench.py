"""Timeline benchmark: one many-clip timeline through `foley timeline` with 1 and with N local workers.

Each run starts from an empty keypoint cache, so every run does the same pose work. CPU time covers the
CLI and all its descendants (clip workers and their pose processes); "cores busy" = CPU seconds / wall
seconds, so 2.0 means both cores of a two-core machine were kept busy. One run each, no assertions. The last
line measures what the machine gives N busy processes right now: on a machine shared with other jobs, the
speed-up of N workers cannot exceed it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import opentimelineio as otio

from foley_engine.timeline.jobs import available_cpus, default_workers
from foley_engine.video import probe

SHARED_CLIP = Path(__file__).resolve().parents[1].parent / "shared/media/piano-furelise/video.mp4"


def build_timeline(video: Path, clips: int, seconds: float, path: Path) -> float:
    """`clips` clips of `seconds` each from distinct stretches of the video, 12 frames apart at 30 fps."""
    info = probe(video)
    rate = 30
    stride = (info.duration - seconds) / clips
    reference = otio.schema.ExternalReference(
        target_url=video.resolve().as_uri(),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                otio.opentime.RationalTime(int(info.duration * rate), rate)))
    track = otio.schema.Track("V1", kind=otio.schema.TrackKind.Video)
    for index in range(clips):
        source = otio.opentime.TimeRange(otio.opentime.RationalTime(round(index * stride * rate), rate),
                                         otio.opentime.RationalTime(round(seconds * rate), rate))
        track.append(otio.schema.Clip(name=f"take {index + 1}", media_reference=reference.clone(),
                                      source_range=source))
        track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(12, rate))))
    timeline = otio.schema.Timeline(f"{clips} clips")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return clips * seconds


def run(source: Path, out_dir: Path, jobs: int) -> tuple[float, float, dict]:
    """Wall and CPU seconds of one `foley timeline` run, and its JSON summary."""
    env = {**os.environ, "FOLEY_CACHE_DIR": str(out_dir / "cache")}
    command = [sys.executable, "-m", "foley_engine", "timeline", str(source), "-o", str(out_dir / "out.otio"),
               "--jobs", str(jobs), "--json", "--progress", "none"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"bench: foley timeline --jobs {jobs} failed: {proc.stderr.strip().splitlines()[-1:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout.splitlines()[-1])


def _spin(loops: int) -> float:
    """Seconds of a pure-Python loop: CPU only, no memory traffic to speak of."""
    clock = time.perf_counter()
    total = 0
    for value in range(loops):
        total += value
    return time.perf_counter() - clock


def machine_ceiling(workers: int, loops: int = 20_000_000) -> float:
    """How much faster `workers` CPU-bound processes get through `workers` loops than one process does, measured
    now: the most any `workers`-worker run can gain on this machine at this moment (other jobs on a shared
    machine take their share of the cores)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_spin, [1000] * workers))  # started
        alone = pool.submit(_spin, loops).result()
        together = max(pool.map(_spin, [loops] * workers))
    return workers * alone / together


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=SHARED_CLIP)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each clip")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    args = parser.parse_args()
    if not args.clip.exists():
        print(f"bench: clip not found: {args.clip} (pass --clip PATH)", file=sys.stderr)
        return 2
    cores = available_cpus()
    with tempfile.TemporaryDirectory(prefix="foley-timeline-bench-") as scratch:
        source = Path(scratch) / "bench.otio"
        footage = build_timeline(args.clip, args.clips, args.seconds, source)
        print(f"timeline: {args.clips} clips x {args.seconds:g}s of {args.clip.name} = {footage:.0f}s of video; "
              f"{cores} cores; default workers: {default_workers(args.clips)}")
        print(f"{'workers':>7}{'wall s':>9}{'CPU s':>9}{'cores busy':>12}{'x real time':>13}{'speed-up':>10}")
        baseline = None
        for jobs in args.jobs:
            out_dir = Path(scratch) / f"jobs{jobs}"
            out_dir.mkdir()
            wall, cpu, summary = run(source, out_dir, jobs)
            baseline = baseline or wall
            skipped = args.clips - summary["counts"]["rendered"]
            print(f"{summary['workers']:>7}{wall:>9.1f}{cpu:>9.1f}{cpu / wall:>12.2f}{wall / footage:>13.2f}"
                  f"{baseline / wall:>9.2f}x" + (f"  ({skipped} clips without a performer)" if skipped else ""))
    most = max(args.jobs)
    if most > 1:
        print(f"machine now: {most} CPU-bound processes run {machine_ceiling(most):.2f}x as fast as one "
              f"(the ceiling of the speed-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
