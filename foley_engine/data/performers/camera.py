"""How a camera and a pose tracker see the performers: view, framing, noise, dropouts and confidence.

The synthetic keypoints should look like MediaPipe/OpenPose output on real footage, not like clean motion
capture: joints jitter, hands vanish for a few frames, top-down piano shots show hands only, legs hide behind
instruments, and performers are framed anywhere in frames of any common shape. A missing joint always has
confidence 0 and coordinates 0 -- nothing is ever invented for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.signal import lfilter

from ...skeleton import BODY_INDEX, HAND_INDEX, NUM_BODY_JOINTS, NUM_HAND_JOINTS
from .motion import drift

VIEWS = ("front", "three_quarter", "top_down")
_FRAME_SIZES = ((1280, 720), (1920, 1080), (720, 1280), (1080, 1080), (640, 480))
_LEGS = [BODY_INDEX[f"{side}_{part}"] for side in ("left", "right")
         for part in ("knee", "ankle", "big_toe", "small_toe", "heel")]
_SMALL_TOES = [BODY_INDEX["left_small_toe"], BODY_INDEX["right_small_toe"]]  # MediaPipe has no such landmark
_HIDDEN_BY_INSTRUMENT = {"keys": 0.7, "mallets": 0.5, "accordion": 0.2, "bowed": 0.15, "plucked": 0.1,
                         "woodwind": 0.1, "brass": 0.1}


@dataclass(frozen=True)
class CameraView:
    """Camera placement plus everything about the footage and the tracker that is not the music."""

    name: str = "front"
    azimuth: float = 0.0  # degrees around the performer; 0 = facing them, positive = towards their left
    elevation: float = 8.0  # degrees above horizontal; 90 looks straight down
    roll: float = 0.0  # degrees of in-plane rotation
    distance: float = 4.0  # metres to the framed centre: small = strong perspective
    zoom: float = 0.8  # fraction of the frame the performers fill (above 1 crops them)
    offset: tuple[float, float] = (0.0, 0.0)  # framing shift, fraction of the frame
    frame_size: tuple[int, int] = (1280, 720)
    sway: float = 1.0  # body sway amplitude (1 = typical)
    breathing: float = 1.0  # breathing amplitude (1 = typical)
    jitter: float = 0.005  # body-joint tracker noise, standard deviation as a fraction of the frame
    hand_jitter: float = 0.015  # hand-joint tracker noise, standard deviation as a fraction of the hand's size
    smoothing: float = 0.5  # the tracker's landmark filter: 0 = white noise, towards 1 = slowly wandering
    dropout_rate: float = 0.05  # hand dropouts per second per hand
    body_visible: bool = True  # False: only the hands are tracked (top-down keyboard shots)
    legs_visible: bool = True

    @classmethod
    def clean(cls, name: str = "front", **changes: Any) -> CameraView:
        """A noiseless, dropout-free view: for tests and pictures where the motion itself must be seen."""
        base = cls.random(np.random.default_rng(0), "keys", name)
        return replace(base, **{"azimuth": 0.0 if name == "front" else base.azimuth, "roll": 0.0, "zoom": 0.8,
                                "offset": (0.0, 0.0), "jitter": 0.0, "hand_jitter": 0.0, "dropout_rate": 0.0,
                                "sway": 0.0,
                                "frame_size": (1280, 720), "legs_visible": base.body_visible, **changes})

    @classmethod
    def random(cls, rng: np.random.Generator, family: str, name: str | None = None) -> CameraView:
        """A view typical of performance videos of this instrument family (top-down only for keys)."""
        if name is None:
            names, weights = (VIEWS, (0.45, 0.25, 0.3)) if family == "keys" else (VIEWS[:2], (0.6, 0.4))
            name = str(rng.choice(names, p=weights))
        if name == "top_down":
            return cls(name=name, azimuth=180.0 + rng.uniform(-8, 8), elevation=rng.uniform(62, 90),
                       roll=rng.uniform(-6, 6), distance=rng.uniform(1.2, 2.5), zoom=rng.uniform(0.7, 1.0),
                       offset=tuple(rng.uniform(-0.06, 0.06, 2)), frame_size=_frame_size(rng),
                       sway=rng.uniform(0.3, 1.2), breathing=rng.uniform(0.5, 1.5),
                       jitter=rng.uniform(0.002, 0.006), hand_jitter=_hand_jitter(rng),
                       smoothing=rng.uniform(0.3, 0.75), dropout_rate=rng.uniform(0.0, 0.15),
                       body_visible=False, legs_visible=False)
        azimuth = rng.uniform(-15, 15) if name == "front" else rng.choice([-1, 1]) * rng.uniform(28, 55)
        return cls(name=name, azimuth=float(azimuth), elevation=rng.uniform(-5, 20), roll=rng.uniform(-4, 4),
                   distance=rng.uniform(2.5, 6.0), zoom=rng.uniform(0.55, 1.05),
                   offset=tuple(rng.uniform(-0.08, 0.08, 2)), frame_size=_frame_size(rng),
                   sway=rng.uniform(0.3, 1.5), breathing=rng.uniform(0.5, 1.5), jitter=rng.uniform(0.003, 0.01),
                   hand_jitter=_hand_jitter(rng), smoothing=rng.uniform(0.3, 0.75),
                   dropout_rate=rng.uniform(0.0, 0.15), body_visible=True,
                   legs_visible=bool(rng.random() > _HIDDEN_BY_INSTRUMENT.get(family, 0.1)))

    def rotation(self) -> np.ndarray:
        """World -> camera axes (x right, y up, z towards the camera)."""
        a, e, r = np.radians([self.azimuth, self.elevation, self.roll])
        yaw = np.array([[np.cos(a), 0.0, -np.sin(a)], [0.0, 1.0, 0.0], [np.sin(a), 0.0, np.cos(a)]])
        pitch = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(e), -np.sin(e)], [0.0, np.sin(e), np.cos(e)]])
        roll = np.array([[np.cos(r), -np.sin(r), 0.0], [np.sin(r), np.cos(r), 0.0], [0.0, 0.0, 1.0]])
        rotation: np.ndarray = roll @ pitch @ yaw
        return rotation

    def project(self, world: np.ndarray) -> np.ndarray:
        """(P, T, J, 3) world metres -> (P, T, J, 2) normalised image coordinates (x right, y down).

        The camera aims at the centre of what it frames and scales it to `zoom` of the frame, so every view
        draws performers at a plausible size wherever they stand."""
        framed = world if self.body_visible else world[:, :, NUM_BODY_JOINTS:]
        centre = framed.reshape(-1, 3).mean(axis=0)
        cam = (world - centre) @ self.rotation().T
        depth = np.maximum(self.distance - cam[..., 2], 0.1 * self.distance)
        plane = cam[..., :2] * (self.distance / depth)[..., None]
        plane[..., 1] *= -1.0  # image y points down
        width, height = self.frame_size
        seen = plane if self.body_visible else plane[:, :, NUM_BODY_JOINTS:]
        low, high = np.percentile(seen.reshape(-1, 2), [1, 99], axis=0)
        extent = np.maximum(high - low, 1e-6)
        pixels_per_metre = self.zoom * min(width / extent[0], height / extent[1])
        mid = (low + high) / 2.0
        pixels = (plane - mid) * pixels_per_metre + np.array([width, height]) * (0.5 + np.asarray(self.offset))
        normalised: np.ndarray = pixels / np.array([width, height])
        return normalised


def _hand_jitter(rng: np.random.Generator) -> float:
    """Hand landmark noise, log-uniform around what MediaPipe Hands shows in tracking mode on real footage (a
    still hand's landmarks wander by about 1 % of the hand's length between frames)."""
    return float(np.exp(rng.uniform(np.log(0.004), np.log(0.04))))


def _frame_size(rng: np.random.Generator) -> tuple[int, int]:
    width, height = _FRAME_SIZES[rng.choice(len(_FRAME_SIZES), p=(0.35, 0.3, 0.15, 0.1, 0.1))]
    return int(width), int(height)


def observe(view: CameraView, world: np.ndarray, rate: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """What a tracker reports for (P, T, 67, 3) world joints: body (P, T, 25, 3) and hands (P, T, 2, 21, 3).

    Adds jitter, tracker confidence in [0.5, 1] and dropouts; hidden or dropped joints get zeros."""
    performers, steps = world.shape[:2]
    xy = view.project(world)
    xy = xy + _tracker_noise(view, xy, rng)
    times = np.arange(steps) / rate
    confidence = _confidence(view, performers, world.shape[2], times, rng)
    visible = _visibility(view, xy, rate, rng)
    confidence = np.where(visible, confidence, 0.0)
    out = np.concatenate([xy * visible[..., None], confidence[..., None]], axis=-1).astype(np.float32)
    body = out[:, :, :NUM_BODY_JOINTS]
    hands = out[:, :, NUM_BODY_JOINTS:].reshape(performers, steps, 2, NUM_HAND_JOINTS, 3)
    return body, hands


def _tracker_noise(view: CameraView, xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landmark noise for (P, T, 67, 2) image positions, the way MediaPipe reports it.

    Body joints jitter by `view.jitter` of the frame; hand joints by `view.hand_jitter` of the hand's own image
    size, since hands are tracked on a crop scaled to the hand (a small hand in a wide shot is no noisier,
    relative to itself, than a close-up one), plus a smaller shake of the whole hand. Both pass through the
    one-pole low-pass that the trackers' landmark smoothing amounts to, so the noise wanders rather than
    flickering frame to frame (real tracks are far smoother than white noise of the same size)."""
    performers, steps = xy.shape[:2]
    width, height = view.frame_size
    aspect = np.array([1.0, width / height])  # a fraction of the frame width, per image axis
    noise = _smoothed_normal(rng, xy.shape, view.smoothing)
    noise[:, :, :NUM_BODY_JOINTS] *= view.jitter * aspect
    wrist, knuckle = HAND_INDEX["wrist"], HAND_INDEX["middle_mcp"]
    for side in range(2):
        start = NUM_BODY_JOINTS + side * NUM_HAND_JOINTS
        hand = slice(start, start + NUM_HAND_JOINTS)
        length = np.linalg.norm((xy[:, :, start + knuckle] - xy[:, :, start + wrist]) * view.frame_size, axis=-1)
        size = np.median(length, axis=1)[:, None, None, None] / width  # per performer, fraction of the width
        shake = _smoothed_normal(rng, (performers, steps, 1, 2), view.smoothing)
        noise[:, :, hand] = (noise[:, :, hand] + 0.5 * shake) * view.hand_jitter * size * aspect
    return noise


def _smoothed_normal(rng: np.random.Generator, shape: tuple[int, ...], smoothing: float) -> np.ndarray:
    """Unit-variance normal noise low-passed along time (axis 1) by y[t] = a y[t-1] + (1 - a) x[t]."""
    noise = lfilter([1.0 - smoothing], [1.0, -smoothing], rng.normal(0.0, 1.0, shape), axis=1)
    scaled: np.ndarray = noise * np.sqrt((1.0 + smoothing) / (1.0 - smoothing))
    return scaled


def _confidence(view: CameraView, performers: int, joints: int, times: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Slowly varying confidence in [0.5, 1]: per joint for the body (the side turned away from the camera
    scores lower), one score per hand for all its joints, as MediaPipe's handedness score is used."""
    base = rng.uniform(0.7, 0.97, (performers, 1, joints))
    if view.name == "three_quarter":
        far = "right" if view.azimuth > 0 else "left"
        far_joints = [i for name, i in BODY_INDEX.items() if name.startswith(far)]
        base[..., far_joints] -= rng.uniform(0.05, 0.2)
    wobble = np.stack([drift(rng, times, 0.06, 0.1, 1.0, dims=joints) for _ in range(performers)])
    confidence: np.ndarray = np.clip(base + wobble, 0.5, 1.0)
    for side in range(2):
        start = NUM_BODY_JOINTS + side * NUM_HAND_JOINTS
        confidence[:, :, start:start + NUM_HAND_JOINTS] = confidence[:, :, start:start + 1]
    return confidence


def _visibility(view: CameraView, xy: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """(P, T, 67) bool: what the tracker found, with the real tracker's rules (foley_engine.pose_mediapipe):
    small toes never, a body only while its neck is in the frame, a hand only while its wrist is; plus
    dropouts of 0.07-0.4 s."""
    performers, steps = xy.shape[:2]
    visible = np.ones(xy.shape[:3], dtype=bool)
    visible[:, :, _SMALL_TOES] = False
    neck = xy[:, :, BODY_INDEX["neck"]]
    visible[:, :, :NUM_BODY_JOINTS] &= ((neck >= 0.0) & (neck <= 1.0)).all(-1)[..., None]
    if not view.body_visible:
        visible[:, :, :NUM_BODY_JOINTS] = False
    elif not view.legs_visible:
        visible[:, :, _LEGS] = False
    duration = steps / rate
    frames = rate / 30.0
    for person in range(performers):
        for side in range(2):
            start = NUM_BODY_JOINTS + side * NUM_HAND_JOINTS
            hand = slice(start, start + NUM_HAND_JOINTS)
            wrist = xy[person, :, start]
            outside = (wrist < 0.0).any(-1) | (wrist > 1.0).any(-1)
            visible[person, outside, hand] = False
            for first, length in _dropouts(rng, view.dropout_rate * duration, steps, 2 * frames, 13 * frames):
                visible[person, first:first + length, hand] = False
        for first, length in _dropouts(rng, 0.15 * view.dropout_rate * duration, steps, frames, 7 * frames):
            visible[person, first:first + length] = False
    return visible


def _dropouts(rng: np.random.Generator, expected: float, steps: int, shortest: float, longest: float
              ) -> list[tuple[int, int]]:
    count = rng.poisson(expected)
    shortest, longest = max(1, round(shortest)), round(longest)
    return [(int(rng.integers(0, steps)), int(rng.integers(shortest, max(longest, shortest + 1))))
            for _ in range(count)]
