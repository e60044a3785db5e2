"""Draw docs/img/blender-menu.png and docs/img/blender-result.png from a real headless Blender run.

bpy as a module has no window to screenshot, so this runs the extension in Blender (scripts/blender-driver.py,
real engine, the shared piano clip), then draws what Blender reports: the strip context menu's entries as
the registered menu's draw functions produced them, and the sequencer's strips (channels as rows, frame
ruler, each sound strip with its WAV's envelope). Run with the engine's venv (matplotlib):

    .venv/bin/python scripts/blender-screenshots.py [--clip ../shared/media/piano-furelise/video.mp4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import wave
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from blender_helpers import bpy_python, build_extension, run_driver  # noqa: E402 (found through the path above)

BACKGROUND, ROW, ROW_ALT, TEXT, DIM = "#1d1d1d", "#282828", "#2d2d2d", "#e6e6e6", "#8a8a8a"
COLORS = {"MOVIE": "#4d6f9c", "SOUND": "#2f8a7d", "COLOR": "#8c6d3b"}
FPS = 24
SCENE = {"fps": FPS, "others": [{"name": "Title card", "channel": 1, "start": 1, "end": 40}],
         "movies": [{"name": "Take 1 (top view)", "channel": 2, "start": 12, "media_start": 12.0, "duration": 60},
                    {"name": "Take 2", "channel": 2, "start": 90, "media_start": 12.0, "duration": 48}]}


def envelope(path: str, bins: int) -> np.ndarray:
    with wave.open(path) as wav:
        audio = np.abs(np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.int32))
    peaks = audio[: len(audio) // bins * bins].reshape(bins, -1).max(axis=1)
    return peaks / max(1, peaks.max())


def draw_result(strips: list[dict], png: Path) -> None:
    channels = max(strip["channel"] for strip in strips) + 1
    first = min(strip["start"] for strip in strips) - 6
    last = max(strip["end"] for strip in strips) + 6
    fig, ax = plt.subplots(figsize=(10, 0.62 * channels + 1.1), facecolor=BACKGROUND)
    ax.set_facecolor(BACKGROUND)
    for channel in range(1, channels + 1):
        ax.add_patch(Rectangle((first, channel - 0.5), last - first, 1, color=ROW if channel % 2 else ROW_ALT, lw=0))
        ax.text(first - 1, channel, str(channel), color=DIM, ha="right", va="center", fontsize=8)
    for strip in strips:
        y = strip["channel"] - 0.42
        ax.add_patch(Rectangle((strip["start"], y), strip["duration"], 0.84,
                               facecolor=COLORS.get(strip["type"], "#666"),
                               edgecolor="#ffffff" if strip["select"] else "#101010", lw=1.0))
        if strip["type"] == "SOUND" and strip.get("file"):
            shape = envelope(strip["file"], max(8, strip["duration"] * 2))
            xs = np.linspace(strip["start"] + 0.5, strip["end"] - 0.5, len(shape))
            ax.fill_between(xs, y + 0.3 - 0.24 * shape, y + 0.3 + 0.24 * shape, color="#9fe3d6", lw=0)
        label = strip["name"] + (f"  ·  {strip['foley']['instrument']}, seed {strip['foley']['seed']}"
                                 if strip.get("foley") else "")
        ax.text(strip["start"] + 1.2, y + (0.66 if strip["type"] == "SOUND" else 0.42), label, color=TEXT,
                fontsize=7.5, va="center", clip_on=True)
    ax.set_xlim(first - 4, last)
    ax.set_ylim(0.5, channels + 0.5)
    ax.set_yticks([])
    ticks = range((first // 12 + 1) * 12, last, 12)
    ax.set_xticks(list(ticks), [str(tick) for tick in ticks], color=DIM, fontsize=7)
    ax.tick_params(colors=DIM, length=3)
    for side in ax.spines.values():
        side.set_color("#3a3a3a")
    ax.set_title(f"Sequencer after Generate Foley ({FPS} fps scene, 30 fps movies): each sound strip starts and "
                 "ends with its movie strip", color=TEXT, fontsize=9, loc="left")
    fig.tight_layout()
    fig.savefig(png, dpi=120, facecolor=BACKGROUND)
    plt.close(fig)


def draw_menu(entries: list[dict], png: Path) -> None:
    rows = [entry for index, entry in enumerate(entries)  # Blender draws a run of separators as one
            if entry["kind"] != "separator" or index == 0 or entries[index - 1]["kind"] != "separator"]
    height = sum(0.35 if row["kind"] == "separator" else 1 for row in rows)
    fig = plt.figure(figsize=(3.4, 0.24 * height + 0.75), facecolor=BACKGROUND)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_facecolor("#181818")
    ax.set_xlim(0, 10)
    ax.set_ylim(-height - 0.6, 1.6)
    ax.axis("off")
    ax.text(0.2, 1.0, "Right-click on selected movie strips", color=DIM, fontsize=7.5, va="center")
    ax.add_patch(FancyBboxPatch((0.15, -height - 0.45), 9.7, height + 0.9, boxstyle="round,pad=0,rounding_size=0.25",
                                facecolor="#232323", edgecolor="#3d3d3d", lw=1))
    y = 0.0
    for row in rows:
        if row["kind"] == "separator":
            y -= 0.35
            ax.plot([0.5, 9.5], [y + 0.17, y + 0.17], color="#3a3a3a", lw=0.8)
            continue
        ours = row.get("id") == "sequencer.foley_generate"
        if ours:
            ax.add_patch(Rectangle((0.3, y - 0.95), 9.4, 0.9, color="#4772b3", lw=0))
        color = TEXT if row.get("enabled", True) else DIM
        ax.text(1.3, y - 0.5, row["label"], color=color, fontsize=8, va="center",
                weight="bold" if ours else "normal")
        if ours:
            ax.text(0.6, y - 0.5, "♪", color=TEXT, fontsize=9, va="center")
        if row["kind"] == "menu":
            ax.text(9.3, y - 0.5, "▸", color=DIM, fontsize=8, va="center", ha="right")
        y -= 1
    fig.savefig(png, dpi=130, facecolor=BACKGROUND)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "media" / "piano-furelise" / "video.mp4")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="foley-blender-shots-") as scratch:
        folder = Path(scratch)
        (folder / "project").mkdir()
        spec = SCENE | {"zip": str(build_extension(folder / "dist")), "clip": str(args.clip.resolve()),
                        "save_as": str(folder / "project" / "edit.blend")}
        result = run_driver(bpy_python(), "generate", spec, folder)
        run = result["runs"][0]
        if run.get("result") != ["FINISHED"]:
            raise SystemExit(f"Generate Foley failed: {run}")
        draw_result(run["strips"], args.out / "blender-result.png")
        draw_menu(result["menu"], args.out / "blender-menu.png")
    print(args.out / "blender-result.png", args.out / "blender-menu.png")


if __name__ == "__main__":
    main()
