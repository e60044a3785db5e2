"""The shared snare clip as other cameras would deliver it, played as `drums` and scored against its own soundtrack.

Only one real percussion clip with a soundtrack may be tested on here (../shared/media/snare-solo, testing only),
so it is re-made as other cameras would show the same drummer: re-encoded, smaller, mirrored, noisy, rolled, at
other frame rates, far back in a wide shot, on a handheld camera, and in two close-ups. Each copy goes through
`foley generate`'s own path (`pipeline.generate`, the default source: the strike source for percussion) and is
scored as README says: onset F1 within 50 ms at the best clock lag within +-0.1 s (every 5 ms), over the first
8 s, beside chance at the copy's own note density searched the same way (20 draws). It prints the README's
table. The copies are written to --out (a temp folder unless given) and never into the repository.

    .venv/bin/python scripts/snare-cameras.py [--out FOLDER] [--only TEXT ...]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from foley_engine.evaluation.scoring import onset_f1_at_best_lag
from foley_engine.evaluation.soundtrack import soundtrack_reference
from foley_engine.instruments import get_instrument
from foley_engine.pipeline import generate

SNARE = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "snare-solo" / "video.mp4"
SECONDS = 8.0
Frame = np.ndarray


def _frames() -> tuple[float, list[Frame]]:
    with av.open(str(SNARE)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return float(stream.average_rate or 24), frames


def _write(path: Path, frames: Iterator[Frame], rate: float, size: tuple[int, int], crf: int = 20) -> Path:
    """H.264 at `rate`, each frame fitted to `size`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            if (frame.shape[1], frame.shape[0]) != size:
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path


def _noisy(frame: Frame, rng: np.random.Generator) -> Frame:
    """Half the contrast, and sensor noise of 6 grey levels."""
    return np.clip(128 + (frame.astype(np.float32) - 128) * 0.5 + rng.normal(0, 6, frame.shape), 0, 255
                   ).astype(np.uint8)


def _warped(frame: Frame, degrees: float, scale: float, shift: tuple[float, float] = (0.0, 0.0),
            border: int = cv2.BORDER_CONSTANT) -> Frame:
    height, width = frame.shape[:2]
    matrix = np.asarray(cv2.getRotationMatrix2D((width / 2, height / 2), degrees, scale), np.float64)
    matrix[:, 2] += shift
    return np.asarray(cv2.warpAffine(frame, matrix, (width, height), borderMode=border, borderValue=(60, 60, 60)))


def _sway(count: int, pixels: float, degrees: float) -> np.ndarray:
    """A handheld camera's drift per frame (x px, y px, roll degrees): smoothed noise, about 1-3 Hz, whose
    standard deviation is `pixels` and `degrees`."""
    raw = np.random.default_rng(1).normal(size=(count + 50, 3))
    kernel = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    smooth = np.stack([np.convolve(raw[:, axis], kernel / kernel.sum(), mode="same") for axis in range(3)], 1)
    smooth = smooth[25:25 + count]
    return np.asarray(smooth / smooth.std(axis=0) * np.array([pixels, pixels, degrees]))


def _far(frame: Frame, size: tuple[int, int], scale: float) -> Frame:
    """The whole frame fitted to `size`, shrunk by `scale`, standing at the bottom of a grey frame."""
    width, height = size
    small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 60, np.uint8)
    left = (width - small.shape[1]) // 2
    canvas[height - small.shape[0]:, left:left + small.shape[1]] = small
    return canvas


def _cropped(frame: Frame, region: tuple[int, int, int, int]) -> Frame:
    x, y, width, height = region
    return frame[y:y + height, x:x + width]


def variants(out: Path) -> dict[str, Callable[[], Path]]:
    """Each copy's README label -> what makes it (in `out`)."""
    rate, frames = _frames()
    count, full = len(frames), (frames[0].shape[1], frames[0].shape[0])
    rng = np.random.default_rng(0)

    def at(new_rate: float) -> Iterator[Frame]:  # nearest earlier frame: a faster rate repeats some
        return (frames[min(count - 1, int(k * rate / new_rate + 1e-6))] for k in range(int(count * new_rate / rate)))

    def copy(name: str, make: Callable[[Path], Path]) -> Callable[[], Path]:
        return lambda: make(out / f"{name}.mp4")

    def swayed(pixels: float, degrees: float) -> Iterator[Frame]:
        drift = _sway(count, pixels, degrees)
        return (_warped(f, roll, 1.06, (dx, dy), cv2.BORDER_REFLECT)
                for f, (dx, dy, roll) in zip(frames, drift, strict=True))

    return {
        "as it is": lambda: SNARE,
        "re-encoded, 1280x720": copy("reencoded", lambda p: _write(p, iter(frames), rate, full)),
        "640x360": copy("small", lambda p: _write(p, iter(frames), rate, (640, 360))),
        "640x360, crf 30": copy("small-crf30", lambda p: _write(p, iter(frames), rate, (640, 360), 30)),
        "mirrored (camera on his other side)": copy("mirrored", lambda p: _write(
            p, (f[:, ::-1] for f in frames), rate, full)),
        "half the contrast, sensor noise": copy("noisy", lambda p: _write(
            p, (_noisy(f, rng) for f in frames), rate, full)),
        "rolled 15° (and 0.85 of its size)": copy("rolled", lambda p: _write(
            p, (_warped(f, 15, 0.85) for f in frames), rate, full)),
        "30 frames a second (every fifth frame a repeat, as 24 fps film delivered at 30)": copy(
            "fps30", lambda p: _write(p, at(30.0), 30.0, full)),
        "15 frames a second": copy("fps15", lambda p: _write(p, at(15.0), 15.0, full)),
        "far back: a quarter of a 1280x720 frame's height": copy("far-quarter", lambda p: _write(
            p, (_far(f, full, 0.25) for f in frames), rate, full)),
        "far back: a fifth of 1280x720 (hands 11 px)": copy("far-fifth", lambda p: _write(
            p, (_far(f, full, 0.2) for f in frames), rate, full)),
        "far back: 0.45 of a 640x360 frame's height (hands 13 px)": copy("far-small", lambda p: _write(
            p, (_far(cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA), (640, 360), 0.45) for f in frames),
            rate, (640, 360))),
        "handheld: swayed 8 px and 1°": copy("sway-8", lambda p: _write(p, swayed(8.0, 1.0), rate, full)),
        "handheld: swayed 20 px and 2°": copy("sway-20", lambda p: _write(p, swayed(20.0, 2.0), rate, full)),
        "close-up: from the chest down, 1280x720": copy("chest-down", lambda p: _write(
            p, (_cropped(f, (260, 140, 740, 416)) for f in frames), rate, full)),
        "close-up: the hands and the drum, 640x360": copy("hands", lambda p: _write(
            p, (_cropped(f, (400, 330, 600, 338)) for f in frames), rate, (640, 360))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where the copies are written (a temp folder unless given)")
    parser.add_argument("--only", nargs="*", default=[], help="only the copies whose label holds one of these")
    args = parser.parse_args()
    if not SNARE.exists():
        raise SystemExit(f"snare-cameras: {SNARE} is not here (../shared beside the checkout)")
    out = args.out or Path(tempfile.mkdtemp(prefix="snare-cameras-"))
    out.mkdir(parents=True, exist_ok=True)
    drums = get_instrument("drums")
    reference = [note for note in soundtrack_reference(SNARE, drums).notes if note.start < SECONDS]
    names = {key: name for name, key in drums.pieces}
    print("| the shared snare clip ... | notes | onset F1 | chance | pieces |\n|---|---|---|---|---|")
    for label, make in variants(out).items():
        if args.only and not any(word in label for word in args.only):
            continue
        result = generate(make(), "drums")
        notes = [note for track in result.performance.tracks for note in track if note.start < SECONDS]
        pieces = ", ".join(sorted({names[note.pitch] for note in notes}))
        f1 = onset_f1_at_best_lag(reference, notes, SECONDS)
        chance = onset_f1_at_best_lag(reference, notes, SECONDS, draws=20)
        print(f"| {label} | {len(notes)} | {f1:.3f} | {chance:.3f}"
              f" | {pieces} |", flush=True)


if __name__ == "__main__":
    main()
