"""Where a pose worker's time goes, per frame: decode, Pose following each person, discovery, Hands, the band.

Runs one worker's loop (mediapipe_runner.detect) in this process, with each part timed from inside, and
Hands at 2 slots, at 4 slots and as the worker runs it (HandFinder) side by side on the same frames, so the
cost of the slot count is measured under the same load. Prints milliseconds per frame for each part. No
assertions: compare the rows of one run (the machine may be shared), never absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foley_engine import video
from foley_engine.pose import people as pose_people
from foley_engine.pose.extract import PoseSettings
from foley_engine.pose.mediapipe_runner import HandFinder

SHARED = Path(__file__).resolve().parents[1].parent / "shared/media"


class Clock:
    """Seconds spent per named part, summed over the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1
        return timed


def profile(clip: Path, start: float, end: float, settings: PoseSettings) -> tuple[Clock, int, dict[str, int]]:
    """Time each part of a worker's per-frame loop over [start, end) of `clip`."""
    import mediapipe as mp

    clock = Clock()
    counts: dict[str, int] = defaultdict(int)
    detector = pose_people.PeopleDetector(settings.max_people, settings.min_detection_confidence,
                                          settings.min_tracking_confidence)
    # Every model the detector makes is timed: the finder as discovery, each person's own model as following.
    detector._finder.process = clock.wrap("pose: discovery searches", detector._finder.process)
    new_model = detector._new_model

    def timed_model() -> Any:
        model = new_model()
        model.process = clock.wrap("pose: following people", model.process)
        return model

    detector._new_model = timed_model  # type: ignore[method-assign]
    hands = {slots: mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=slots,
                                             model_complexity=settings.model_complexity,
                                             min_detection_confidence=settings.min_detection_confidence,
                                             min_tracking_confidence=settings.min_tracking_confidence)
             for slots in (2, settings.max_hands)}
    frames = video.iter_frames(clip, start, end, settings.max_size)
    count = 0
    with detector, HandFinder(settings) as finder:
        while True:
            tick = time.perf_counter()
            frame = next(frames, None)
            clock.seconds["decode + scale to RGB"] += time.perf_counter() - tick
            if frame is None:
                break
            count += 1
            tick = time.perf_counter()
            found = detector.process(frame.image, frame.time)
            clock.seconds["pose: whole PeopleDetector"] += time.perf_counter() - tick
            counts["bodies"] += len(found)
            for slots, model in hands.items():
                tick = time.perf_counter()
                result = model.process(frame.image)
                clock.seconds[f"hands: max_num_hands={slots}"] += time.perf_counter() - tick
                counts[f"hands seen with {slots} slots"] += len(result.multi_hand_landmarks or [])
            tick = time.perf_counter()
            result = finder.process(frame.image, frame.time, len(found))
            clock.seconds["hands: HandFinder (the worker's)"] += time.perf_counter() - tick
            counts["hands seen by HandFinder"] += len(result.multi_hand_landmarks or [])
    for model in hands.values():
        model.close()
    return clock, count, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=SHARED / "piano-furelise/video.mp4")
    parser.add_argument("--start", type=float, default=8.0)
    parser.add_argument("--end", type=float, default=13.0)
    args = parser.parse_args()
    if not args.clip.exists():
        print(f"pose_profile: clip not found: {args.clip} (pass --clip PATH)", file=sys.stderr)
        return 2
    info = video.probe(args.clip)
    start, end = video.resolve_range(info, args.start, args.end)
    clock, frames, counts = profile(args.clip, start, end, PoseSettings())
    print(f"clip: {args.clip.parent.name}/{args.clip.name}  {start:.2f}-{end:.2f}s  {frames} frames")
    print(f"{'part':<36}{'ms/frame':>10}{'calls/frame':>13}")
    for name, seconds in sorted(clock.seconds.items()):
        calls = clock.calls.get(name)
        per_frame = f"{calls / max(frames, 1):>13.2f}" if calls else f"{'':>13}"
        print(f"{name:<36}{1000 * seconds / max(frames, 1):>10.2f}{per_frame}")
    for name, value in sorted(counts.items()):
        print(f"{name:<36}{value / max(frames, 1):>10.2f} per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
