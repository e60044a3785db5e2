"""Synthetic performers: MIDI in, the keypoints a pose tracker would report for a player of it out.

No dataset of real performances can be downloaded here, so the learned model is pretrained on parametric
players: each instrument family moves the way its players move (a pianist's fingertips strike keys, a
cellist's bow turns at each note), with every note's motion cue landing exactly on its onset, and a camera
model adds the views, framing, noise and dropouts of real footage.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import InputError
from ...instruments import Instrument
from ...keypoints import Keypoints
from ...notes import Note
from . import accordion, keys, mallets, strings, winds
from .camera import CameraView, observe
from .motion import Cue, Motion

__all__ = ["CameraView", "Cue", "Motion", "animate", "frame_times", "perform", "render"]

Animator = Callable[[list[Note], Instrument, np.ndarray, np.random.Generator, CameraView], Motion]
_ANIMATORS: dict[str, Animator] = {
    "keys": keys.animate,
    "accordion": accordion.animate,
    "plucked": strings.animate_plucked,
    "bowed": strings.animate_bowed,
    "woodwind": winds.animate,
    "brass": winds.animate,
    "mallets": mallets.animate,
}
_SPACING = {"keys": 1.7, "mallets": 1.8}  # metres between performers standing side by side


def frame_times(duration: float, rate: float) -> np.ndarray:
    """Sample times of a clip: frame i is at i / rate seconds."""
    return np.arange(max(1, int(round(duration * rate)))) / rate


def animate(track: list[Note], instrument: Instrument, times: np.ndarray, rng: np.random.Generator,
            view: CameraView) -> Motion:
    """One performer playing `track` on `instrument`, in world space (before the camera)."""
    return _ANIMATORS[instrument.motion_family](sorted(track), instrument, times, rng, view)


def render(motions: list[Motion], view: CameraView, rate: float, rng: np.random.Generator,
           spacing: float = 1.2) -> Keypoints:
    """What a tracker reports when `view` films these performers side by side `spacing` metres apart."""
    world = np.stack([m.joints for m in motions])
    world[..., 0] += (np.arange(len(motions)) - (len(motions) - 1) / 2.0)[:, None, None] * spacing
    body, hands = observe(view, world, rate, rng)
    return Keypoints(rate=rate, start=0.0, body=body, hands=hands, frame_size=view.frame_size)


def perform(tracks: list[list[Note]], instrument: Instrument, duration: float, rng: np.random.Generator,
            rate: float = 30.0, view: CameraView | None = None) -> Keypoints:
    """Keypoints of one performer per track playing `instrument` for `duration` seconds.

    Sample 0 is time 0 of the notes. `view` defaults to a random view typical for the instrument."""
    if not tracks:
        raise InputError("a performance needs at least one track (one per performer)")
    if view is None:
        view = CameraView.random(rng, instrument.family)
    times = frame_times(duration, rate)
    motions = [animate(track, instrument, times, rng, view) for track in tracks]
    return render(motions, view, rate, rng, _SPACING.get(instrument.family, 1.2))
