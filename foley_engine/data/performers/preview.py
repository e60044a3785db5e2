"""Pictures of synthetic performers, for eyeballing that each family moves like its players.

`python -m foley_engine.data.performers.preview docs/img` writes docs/img/performer-<family>.png: four frames of
the tracked skeleton and, below, the image-y trace of the joints that carry the note cues with every onset
marked, so a wrong timing or an unrecognisable pose is visible at a glance.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...instruments import FAMILIES, INSTRUMENTS, Instrument
from ...keypoints import Keypoints
from ...outputs import atomic_output
from ...skeleton import BODY_BONES, HAND_BONES, NUM_BODY_JOINTS, NUM_HAND_JOINTS
from ..phrases import sample_phrase
from . import animate, frame_times, render
from .camera import CameraView

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The instrument and view drawn for each family.
SHOWN = {"keys": ("piano", "front"), "accordion": ("accordion", "front"), "plucked": ("guitar", "front"),
         "bowed": ("cello", "front"), "woodwind": ("clarinet", "three_quarter"),
         "brass": ("trombone", "three_quarter"), "mallets": ("marimba", "front")}


def joints_xy(keypoints: Keypoints, performer: int) -> np.ndarray:
    """(T, 67, 3) body + left hand + right hand of one performer, in pixels (x, y) plus confidence."""
    hands = keypoints.hands[performer].reshape(keypoints.num_frames, 2 * NUM_HAND_JOINTS, 3)
    joints: np.ndarray = np.concatenate([keypoints.body[performer], hands], axis=1).astype(np.float64)
    joints[..., 0] *= keypoints.frame_size[0]
    joints[..., 1] *= keypoints.frame_size[1]
    return joints


def draw_family(family: str, path: Path, seed: int = 7, seconds: float = 6.0, view_name: str | None = None,
                instrument: Instrument | None = None) -> None:
    """Render one family's strip picture to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name, default_view = SHOWN[family]
    instrument = instrument or INSTRUMENTS[name]
    rng = np.random.default_rng(seed)
    track: list = []
    while len(track) < 12:  # a phrase busy enough to show the motion
        track = sample_phrase(instrument, seconds, rng, source="generated")[0]
    view = CameraView.clean(view_name or default_view)
    times = frame_times(seconds, 30.0)
    motion = animate(track, instrument, times, rng, view)
    keypoints = render([motion], view, 30.0, rng)
    joints = joints_xy(keypoints, 0)
    width, height = keypoints.frame_size
    cue_joints = [j for j, _ in sorted(((j, -sum(c.joint == j for c in motion.cues))
                                        for j in {c.joint for c in motion.cues}), key=lambda x: x[1])][:3]

    fig = plt.figure(figsize=(14, 7.5))
    grid = fig.add_gridspec(2, 4, height_ratios=(1.6, 1.0))
    onsets = [c.onset for c in motion.cues]
    shown = [min(int(round(t * 30.0)), len(times) - 1) for t in np.quantile(onsets, (0.1, 0.35, 0.6, 0.85))]
    seen = joints[joints[..., 2] > 0][:, :2]
    (left, top), (right, bottom) = seen.min(axis=0), seen.max(axis=0)
    margin = 0.08 * max(right - left, bottom - top)
    for column, frame in enumerate(shown):
        ax = fig.add_subplot(grid[0, column])
        _draw_skeleton(ax, joints[frame], cue_joints)
        ax.set_xlim(max(left - margin, 0), min(right + margin, width))
        ax.set_ylim(min(bottom + margin, height), max(top - margin, 0))
        ax.set_aspect("equal")
        ax.set_title(f"t = {times[frame]:.2f} s", fontsize=9)
        ax.tick_params(labelsize=6)
    trace = fig.add_subplot(grid[1, :])
    colours = ("tab:red", "tab:blue", "tab:green")
    for joint, colour in zip(cue_joints, colours, strict=False):  # at most as many joints as colours
        # the image axis the cue moves along around its onsets: y for strikes, x for bows, bellows, presses
        frames = [int(c.onset * 30.0) + k for c in motion.cues if c.joint == joint for k in range(-2, 2)]
        steps = np.abs(np.diff(joints[:, joint, :2], axis=0))[np.clip(frames, 0, len(times) - 2)]
        axis = int(np.argmax(steps.sum(axis=0)))
        value = joints[:, joint, axis] - np.median(joints[:, joint, axis])
        trace.plot(times, np.where(joints[:, joint, 2] > 0, value, np.nan), color=colour, lw=1.2,
                   label=f"{_joint_name(joint)} {'xy'[axis]}")
        for cue in motion.cues:
            if cue.joint == joint:
                trace.axvline(cue.onset, color=colour, lw=0.6, alpha=0.5)
    for frame in shown:
        trace.axvline(times[frame], color="black", lw=1.0, ls=":")
    trace.invert_yaxis()
    trace.set_xlabel("seconds (vertical lines: onsets of the notes each joint plays; dotted: frames above)")
    trace.set_ylabel("image x or y, px from median (y down)")
    trace.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{family}: {instrument.name}, {view.name} view, {len(track)} notes", fontsize=11)
    fig.tight_layout()
    with atomic_output(path, "preview", parents=True) as temp:
        fig.savefig(temp, dpi=80, format="png")
    plt.close(fig)


def _draw_skeleton(ax: Axes, joints: np.ndarray, highlight: list[int]) -> None:
    def bones(pairs: tuple, offset: int, colour: str, width: float) -> None:
        for a, b in pairs:
            if joints[a + offset, 2] > 0 and joints[b + offset, 2] > 0:
                ax.plot(joints[[a + offset, b + offset], 0], joints[[a + offset, b + offset], 1], color=colour,
                        lw=width)

    bones(BODY_BONES, 0, "tab:gray", 2.0)
    bones(HAND_BONES, NUM_BODY_JOINTS, "tab:orange", 0.8)
    bones(HAND_BONES, NUM_BODY_JOINTS + NUM_HAND_JOINTS, "tab:purple", 0.8)
    visible = joints[:, 2] > 0
    ax.scatter(joints[visible, 0], joints[visible, 1], s=3, color="black")
    for joint in highlight:
        if joints[joint, 2] > 0:
            ax.scatter(joints[joint, 0], joints[joint, 1], s=20, color="tab:red")


def _joint_name(joint: int) -> str:
    from ...skeleton import BODY_25, HAND_21

    if joint < NUM_BODY_JOINTS:
        return BODY_25[joint]
    side, index = divmod(joint - NUM_BODY_JOINTS, NUM_HAND_JOINTS)
    return f"{'left' if side == 0 else 'right'} {HAND_21[index]}"


def main(argv: list[str] | None = None) -> int:
    """Write every family's picture into the folder given (default docs/img)."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "docs/img")
    for family in FAMILIES:
        draw_family(family, folder / f"performer-{family}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
