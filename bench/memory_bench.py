"""Memory benchmark: peak memory of `foley generate` on a long 1080p30 clip, made here and deleted after.

The clip is the shared piano clip's own packets repeated until it is `--minutes` long (stream copy: seconds to
make, and real footage with a keyboard and hands, so every default stage runs: keyboard, pose, keys or model
notes, synthesis); with `--synthetic`, or without the shared clip, it is a moving picture drawn here (no
performer in it: `--allow-silence` then, so the run still goes through synthesis and writing). `foley
generate` runs as a user runs it, every option at its default, on an empty keypoint cache.

Memory is sampled from /proc every 0.2 s over the CLI and all its descendants (pose workers): "tree RSS" is
the sum of their resident sets (shared libraries counted once per process), "tree PSS" shares those pages
out (what the machine really spends), "largest process" is the peak of the biggest one (VmHWM, exact).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SHARED_CLIP = Path(__file__).resolve().parents[1].parent / "shared/media/piano-furelise/video.mp4"
SAMPLE_SECONDS = 0.2


def repeat_clip(source: Path, out: Path, seconds: float) -> float:
    """`source`'s video packets again and again (timestamps shifted) until `seconds`, cut at a keyframe."""
    with av.open(str(source)) as reader, av.open(str(out), "w") as writer:
        stream = reader.streams.video[0]
        target = writer.add_stream_from_template(stream)
        packets = [packet for packet in reader.demux(stream) if packet.dts is not None and packet.pts is not None]
        first = min(packet.pts for packet in packets)
        length = max(packet.pts + (packet.duration or 0) for packet in packets) - first
        limit = int(seconds / stream.time_base)
        for loop in range(int(limit // length) + 2):
            for packet in packets:
                shift = loop * length
                if packet.is_keyframe and packet.pts - first + shift >= limit:
                    return float((packet.pts - first + shift) * stream.time_base)
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = target
                writer.mux(packet)
                packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
    return seconds


def draw_clip(out: Path, seconds: float, size: tuple[int, int] = (1920, 1080), rate: int = 30) -> float:
    """A moving picture: a drifting gradient and a bouncing disc, H.264 at the fastest preset."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for index in range(round(seconds * rate)):
            shift = index * 4
            image = np.empty((height, width, 3), np.uint8)
            image[..., 0] = ((xs + shift) % 256).astype(np.uint8)
            image[..., 1] = ((ys + shift // 2) % 256).astype(np.uint8)
            image[..., 2] = 90
            cx = int(width / 2 + width / 3 * np.sin(index / 40))
            cy = int(height / 2 + height / 3 * np.cos(index / 55))
            image[(xs - cx) ** 2 + (ys - cy) ** 2 < 120 ** 2] = 240
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return seconds


def _tree(root: int) -> list[int]:
    """`root` and every process descended from it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, peak RSS) of one process in KiB; zeros once it is gone."""
    rss = pss = peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss, peak


class Sampler(threading.Thread):
    """Peaks of a process tree's memory, sampled until `stop` is set."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.rss = self.pss = self.largest = self.processes = self.cli = 0
        self.at_peak = (0.0, 0, 0)  # seconds from the start, the CLI's PSS, the other processes' PSS
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = _tree(self.pid)
            sizes = [_memory(pid) for pid in pids]
            self.rss = max(self.rss, sum(size[0] for size in sizes))
            total = sum(size[1] for size in sizes)
            if total > self.pss:
                self.pss = total
                self.at_peak = (time.perf_counter() - self.started, sizes[0][1], total - sizes[0][1])
            self.largest = max([self.largest, *(size[2] for size in sizes)])
            self.cli = max(self.cli, sizes[0][2])
            self.processes = max(self.processes, len(sizes))
            self.stop.wait(SAMPLE_SECONDS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the clip made (default 10)")
    parser.add_argument("--clip", type=Path, default=SHARED_CLIP, help="footage repeated into the long clip")
    parser.add_argument("--synthetic", action="store_true", help="draw the clip instead (nobody in it)")
    args = parser.parse_args()
    synthetic = args.synthetic or not args.clip.exists()
    with tempfile.TemporaryDirectory(prefix="foley-memory-bench-") as scratch:
        video = Path(scratch) / "long.mp4"
        clock = time.perf_counter()
        seconds = (draw_clip(video, args.minutes * 60) if synthetic
                   else repeat_clip(args.clip, video, args.minutes * 60))
        made = time.perf_counter() - clock
        what = "drawn, nobody in it" if synthetic else f"{args.clip.name} repeated"
        print(f"clip: {seconds / 60:.1f} min 1080p30 ({what}), {video.stat().st_size / 1e6:.0f} MB, "
              f"made in {made:.0f} s")
        command = [sys.executable, "-m", "foley_engine", "generate", str(video), "-o", str(Path(scratch) / "out"),
                   "--json", "--progress", "none", *(["--allow-silence"] if synthetic else [])]
        env = {**os.environ, "FOLEY_CACHE_DIR": str(Path(scratch) / "cache")}
        clock = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - clock
        sampler.stop.set()
        sampler.join()
    if proc.returncode != 0:
        print(f"bench: foley generate failed ({proc.returncode}): {stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        return 1
    summary = json.loads(stdout.strip().splitlines()[-1])
    timings = ", ".join(f"{stage} {value:.0f}" for stage, value in summary.get("timings", {}).items())
    print(f"source {summary.get('source')}, {summary.get('notes')} notes; stage seconds: {timings}")
    print(f"{'wall s':>8}{'x real time':>13}{'tree RSS MB':>13}{'tree PSS MB':>13}{'largest MB':>12}{'processes':>11}")
    print(f"{wall:>8.0f}{wall / seconds:>13.2f}{sampler.rss / 1024:>13.0f}{sampler.pss / 1024:>13.0f}"
          f"{sampler.largest / 1024:>12.0f}{sampler.processes:>11}")
    when, cli, others = sampler.at_peak
    print(f"at the PSS peak ({when:.0f} s in): foley {cli / 1024:.0f} MB, its workers {others / 1024:.0f} MB; "
          f"foley's own peak RSS {sampler.cli / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
