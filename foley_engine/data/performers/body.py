"""The shared body: a BODY_25 skeleton in metres that sits or stands, sways, breathes and reaches.

World frame: origin at the performer's mid-hip, y up, z pointing from the performer towards the audience,
x towards the performer's LEFT (so a camera in front sees the performer's left side on the image's right, as
in real footage). Instrument modules only decide where the wrists and fingers must be; `Rig.assemble` bends
the arms (two-bone inverse kinematics) so the wrists get there and attaches the hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...skeleton import BODY_INDEX, LEFT, NUM_BODY_JOINTS, NUM_JOINTS, RIGHT
from .hands import HandGeometry, build_hand
from .motion import drift

_J = BODY_INDEX
_UPPER = [_J[name] for name in ("neck", "right_shoulder", "left_shoulder", "nose", "right_eye", "left_eye",
                                "right_ear", "left_ear")]
_HEAD = [_J[name] for name in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
_SHOULDERS = (_J["left_shoulder"], _J["right_shoulder"])  # indexed by LEFT, RIGHT
_ELBOWS = (_J["left_elbow"], _J["right_elbow"])
_WRISTS = (_J["left_wrist"], _J["right_wrist"])


@dataclass(frozen=True)
class Physique:
    """One performer's size and stance."""

    scale: float = 1.0  # overall size; 1.0 is an average adult
    seated: bool = True
    hand_scale: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator, seated: bool) -> Physique:
        scale = float(rng.uniform(0.88, 1.1))
        return cls(scale=scale, seated=seated, hand_scale=scale * float(rng.uniform(0.93, 1.07)))

    @property
    def upper_arm(self) -> float:
        return 0.29 * self.scale

    @property
    def forearm(self) -> float:
        return 0.26 * self.scale

    def rest(self) -> np.ndarray:
        """Rest positions (25, 3) of every body joint; arms hang and are replaced by the arm solver."""
        s = self.scale
        joints = np.zeros((NUM_BODY_JOINTS, 3))
        half = {"right": -1.0, "left": 1.0}
        for side, sign in half.items():
            joints[_J[f"{side}_shoulder"]] = (0.18 * sign, 0.50, 0.0)
            joints[_J[f"{side}_elbow"]] = (0.20 * sign, 0.21, 0.0)
            joints[_J[f"{side}_wrist"]] = (0.21 * sign, -0.05, 0.02)
            joints[_J[f"{side}_hip"]] = (0.10 * sign, 0.0, 0.0)
            joints[_J[f"{side}_eye"]] = (0.033 * sign, 0.735, 0.085)
            joints[_J[f"{side}_ear"]] = (0.075 * sign, 0.715, 0.0)
            if self.seated:
                joints[_J[f"{side}_knee"]] = (0.13 * sign, 0.0, 0.44)
                ankle, heel = (0.14, -0.43, 0.46), (0.14, -0.49, 0.41)
                big, small = (0.12, -0.5, 0.62), (0.18, -0.5, 0.58)
            else:
                joints[_J[f"{side}_knee"]] = (0.10 * sign, -0.44, 0.03)
                ankle, heel = (0.11, -0.86, 0.0), (0.11, -0.92, -0.05)
                big, small = (0.10, -0.93, 0.16), (0.15, -0.93, 0.13)
            joints[_J[f"{side}_ankle"]] = (ankle[0] * sign, *ankle[1:])
            joints[_J[f"{side}_heel"]] = (heel[0] * sign, *heel[1:])
            joints[_J[f"{side}_big_toe"]] = (big[0] * sign, *big[1:])
            joints[_J[f"{side}_small_toe"]] = (small[0] * sign, *small[1:])
        joints[_J["neck"]] = (0.0, 0.52, 0.0)
        joints[_J["nose"]] = (0.0, 0.70, 0.10)
        return joints * s


@dataclass
class ArmPlan:
    """What an instrument asks of the arms and hands, per frame; index 0 = performer's left, 1 = right."""

    wrist: np.ndarray  # (T, 2, 3) world positions the wrists should reach
    forward: np.ndarray  # (T, 2, 3) direction from wrist to knuckles
    palm: np.ndarray  # (T, 2, 3) direction the palm faces (fingers bend towards it)
    flex: np.ndarray  # (T, 2, 5, 3) finger joint flexion, radians
    elbow_hint: np.ndarray  # (2, 3) direction the elbows point to (down and out for most players)
    lateral: np.ndarray | None = None  # (T, 2, 5) fingertip sideways offset in metres, NaN = natural


def rotation(forward: np.ndarray, side: np.ndarray, twist: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations: lean forward (about x), lean sideways (about z), turn (about y); small angles."""
    cx, sx = np.cos(forward), np.sin(forward)
    cz, sz = np.cos(side), np.sin(side)
    cy, sy = np.cos(twist), np.sin(twist)
    one, zero = np.ones_like(forward), np.zeros_like(forward)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(-1, 3, 3)
    rz = np.stack([cz, sz, zero, -sz, cz, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    rotated: np.ndarray = ry @ rz @ rx
    return rotated


@dataclass
class Posture:
    """Torso motion over time: lean (T, 3) radians (forward, sideways towards the performer's left, turn),
    shift (T, 3) metres of whole-body translation, breath (T,) 0..1 chest rise, nod (T,) head nod radians."""

    lean: np.ndarray
    shift: np.ndarray
    breath: np.ndarray
    nod: np.ndarray

    @classmethod
    def idle(cls, rng: np.random.Generator, times: np.ndarray, sway: float, breathing: float) -> Posture:
        """A player who is never quite still: slow sway, a nodding head, breathing at 12-20 breaths/minute.

        Kept below ~0.5 Hz so it never looks like a note cue."""
        lean = drift(rng, times, 0.025 * sway, dims=3) + np.array([rng.uniform(-0.05, 0.12), 0.0, 0.0])
        shift = drift(rng, times, 0.006 * sway, dims=3)
        rate = rng.uniform(0.2, 0.33)
        breath = breathing * 0.35 * (1.0 + np.sin(2.0 * np.pi * rate * times + rng.uniform(0, 2 * np.pi)))
        nod = drift(rng, times, 0.03 * sway, dims=1)[:, 0]
        return cls(lean=lean, shift=shift, breath=breath, nod=nod)


class Rig:
    """One performer over time: torso motion and the arm/hand solver."""

    def __init__(self, physique: Physique, posture: Posture) -> None:
        self.physique = physique
        self.hands = HandGeometry(physique.hand_scale)
        self.rotation = rotation(posture.lean[:, 0], posture.lean[:, 1], posture.lean[:, 2])
        self.shift = posture.shift
        self.breath = posture.breath
        self.nod = posture.nod

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """Points fixed to the torso (e.g. a violin under the chin), (T, ..., 3) or (..., 3), into world space."""
        rotated, shape = self._rotated(local)
        world: np.ndarray = (rotated + self.shift[:, None]).reshape(shape)
        return world

    def turn(self, vectors: np.ndarray) -> np.ndarray:
        """Directions fixed to the torso, (T, ..., 3) or (..., 3), into world directions."""
        rotated, shape = self._rotated(vectors)
        return rotated.reshape(shape)

    def _rotated(self, values: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        """Torso-fixed 3-vectors turned with the torso each frame, as (T, n, 3), and the (T, ..., 3) shape they
        came in (one set for every frame when not given per frame)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1 or values.shape[0] != len(self.rotation):
            values = np.broadcast_to(values, (len(self.rotation),) + values.shape)
        return np.einsum("tij,tkj->tki", self.rotation, values.reshape(len(values), -1, 3)), values.shape

    def body(self) -> np.ndarray:
        """(T, 25, 3) body joints with the upper body leaning and breathing (arms still at rest)."""
        rest = self.physique.rest()
        steps = len(self.rotation)
        joints: np.ndarray = np.repeat(rest[None], steps, axis=0) + self.shift[:, None]
        upper = rest[_UPPER].copy()
        upper = np.repeat(upper[None], steps, axis=0)
        rise = 0.012 * self.physique.scale * self.breath
        upper[:, :3, 1] += rise[:, None]  # neck and shoulders rise with an inhale
        upper[:, :3, 2] += 0.4 * rise[:, None]
        head = upper[:, 3:] - upper[:, :1]
        head = np.einsum("tij,tkj->tki", rotation(self.nod, 0 * self.nod, 0 * self.nod), head)
        upper[:, 3:] = upper[:, :1] + head
        joints[:, _UPPER] = self.to_world(upper)
        return joints

    def assemble(self, arms: ArmPlan) -> np.ndarray:
        """All 67 joints (T, 67, 3): body, left hand, right hand, with the arms bent to reach the wrists."""
        body = self.body()
        out = np.empty((len(body), NUM_JOINTS, 3))
        out[:, :NUM_BODY_JOINTS] = body
        for side in (LEFT, RIGHT):
            shoulder = body[:, _SHOULDERS[side]]
            elbow, wrist = reach(shoulder, arms.wrist[:, side], arms.elbow_hint[side], self.physique.upper_arm,
                                 self.physique.forearm)
            out[:, _ELBOWS[side]] = elbow
            out[:, _WRISTS[side]] = wrist
            lateral = None if arms.lateral is None else arms.lateral[:, side]
            hand = build_hand(self.hands, side, wrist, arms.forward[:, side], arms.palm[:, side],
                              arms.flex[:, side], lateral)
            offset = NUM_BODY_JOINTS + 21 * side
            out[:, offset:offset + 21] = hand
        return out


def reach(shoulder: np.ndarray, target: np.ndarray, hint: np.ndarray, upper: float, fore: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone arm IK: elbow and wrist (T, 3) each; an out-of-reach target is approached as far as possible.

    Of the circle of possible elbows, the one nearest `hint` (a direction from the shoulder) is taken, which
    keeps the elbow where a player's elbow hangs instead of flipping between solutions.
    """
    span = target - shoulder
    dist = np.linalg.norm(span, axis=-1, keepdims=True)
    axis = span / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(upper - fore) + 1e-3, (upper + fore) * 0.999)
    wrist = shoulder + axis * dist
    along = (upper ** 2 - fore ** 2 + dist ** 2) / (2.0 * dist)
    height = np.sqrt(np.maximum(upper ** 2 - along ** 2, 0.0))
    pole = hint - (axis * hint).sum(-1, keepdims=True) * axis
    pole /= np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-9)
    return shoulder + along * axis + height * pole, wrist


def new_arm_plan(steps: int, flex: np.ndarray) -> ArmPlan:
    """An ArmPlan to fill in: hands in front of the belly, palms down, elbows hanging down and out."""
    wrist = np.broadcast_to(np.array([[0.15, 0.15, 0.25], [-0.15, 0.15, 0.25]]), (steps, 2, 3)).copy()
    forward = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (steps, 2, 3)).copy()
    palm = np.broadcast_to(np.array([0.0, -1.0, 0.0]), (steps, 2, 3)).copy()
    hint = np.array([[0.6, -1.0, -0.2], [-0.6, -1.0, -0.2]])
    return ArmPlan(wrist=wrist, forward=forward, palm=palm, flex=np.broadcast_to(flex, (steps, 2, 5, 3)).copy(),
                   elbow_hint=hint)
