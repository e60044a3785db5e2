"""A rendered person who claps, steps in place, walks past, drums at a kit or plays congas or a tabla, with the
true times of every clap, footfall, stroke and kick, for testing the strike source on footage that MediaPipe
really sees a person in.

Drawn figures (tests/drawn_drummer.py) are not seen as people by MediaPipe's Pose; a shaded 3-D mannequin is:
a head with eyes and hair, a shirt, trousers and shoes, built from capsules in real Blender (`bpy`, the
Workbench engine, a fraction of a second a frame) and moved by the motions below. Each motion knows its own
contact times: hands meeting (`clap_separation`) and heels landing (`foot_height`, `walking_foot`), each a
cusp (a fast approach that stops at once), the way a real clap or footfall ends.

The motion is plain Python (the truth in the tests and the frames Blender renders come from the same
functions); the rendering runs in the bpy interpreter as `python rendered_people.py SPEC.json FRAMES_DIR`,
and `render_person` (pytest's side) runs it and encodes the frames to H.264 with PyAV.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

#: Body sizes in metres: a person about 1.75 m tall, facing the camera at azimuth 0.
SHOULDER_X, SHOULDER_Z, HIP_X, HIP_Z = 0.19, 1.40, 0.10, 0.95
UPPER_ARM, FOREARM, THIGH, SHIN = 0.29, 0.26, 0.45, 0.43
ANKLE_HEIGHT, HEEL_BACK, TOE_FRONT = 0.07, 0.05, 0.17
#: Hands: the wrists' separation when the palms meet, and when they are open between claps.
CLAP_CONTACT, CLAP_OPEN = 0.06, 0.42
#: A stepping foot's lift (m) and how long it is off the floor (s).
STEP_LIFT, STEP_SWING = 0.16, 0.36
#: Walking: speed (m/s), how far ahead of the hips a heel lands (m), the hips' height (knees a little bent),
#: the swinging foot's lift (m) and time off the floor (s).
WALK_SPEED, WALK_REACH, WALK_HIP_Z, WALK_LIFT, WALK_SWING = 1.1, 0.25, 0.90, 0.10, 0.40
#: Drumming standing at a kit (no drums drawn: the strokes are the body's): where each piece is struck, by which
#: hand (m; x to the camera's right at azimuth 0, so the person's right is -x), within an arm's reach; how high a
#: stick hand rises between strokes (m) and how long it takes to come in before the first and go after the last
#: (s); a kick's heel lift (m) and time off the pedal (s).
KIT = {"snare right": ("right", (-0.10, -0.32, 1.00)), "snare left": ("left", (0.10, -0.32, 1.00)),
       "ride": ("right", (-0.40, -0.30, 1.30)), "crash": ("left", (0.38, -0.28, 1.36)),
       "floor tom": ("right", (-0.40, -0.20, 0.95))}
#: Hand drums played standing (congas): each hand on its own drum, at the waist and an arm's reach in front.
HAND_DRUMS = {"high conga": ("right", (-0.15, -0.36, 0.92)), "low conga": ("left", (0.17, -0.36, 0.90)),
              "dayan": ("right", (-0.14, -0.30, 0.88)), "bayan": ("left", (0.18, -0.30, 0.86))}
STROKE_LIFT, STROKE_LEAD = 0.18, 0.3
#: A stroke from the wrist (a tabla's): the hand, HAND_LENGTH long, lies FLICK_DOWN below level on the drum and
#: turns FLICK_TURN up at the top of a stroke (radians): its fingertips travel about 9 cm, its wrist 2 cm.
HAND_LENGTH, FLICK_DOWN, FLICK_TURN = 0.18, 0.15, 0.55
KICK_LIFT, KICK_SWING = 0.12, 0.3
#: Drumming seated: the hips' height on a stool and how far in front of them the feet rest on the pedals (m).
SEAT_HIP_Z, SEAT_FEET = 0.62, 0.40


@dataclass(frozen=True)
class PersonSpec:
    """What one clip shows: `action` "claps", "steps" (in place) or "walk" (towards the person's front, which
    faces the camera at azimuth 0, crossing the frame's middle halfway through the clip), the contact times
    (s; for steps and walks, alternate feet starting with the right), the clip's length, size and rate, and
    the camera's azimuth (degrees round the person, 0 facing them, 90 from their left), elevation (degrees it
    looks down from, over a point 1 m up: 0 level, 90 overhead) and distance (m)."""

    action: str
    contacts: tuple[float, ...]
    seconds: float
    size: tuple[int, int] = (640, 360)
    rate: int = 30
    azimuth: float = 0.0
    elevation: float = 0.0
    distance: float = 4.6
    shirt: tuple[float, float, float] = (0.10, 0.30, 0.70)
    backdrop: tuple[float, float, float] = (0.70, 0.70, 0.65)
    lens: float = 35.0
    across: float = 0.0  # m: where the person stands, towards the camera's right at azimuth 0 (several people)
    pieces: tuple[str, ...] = ()  # "drums": the KIT or HAND_DRUMS piece each of `contacts` strikes
    kicks: tuple[float, ...] = ()  # "drums": the right heel's landings on the kick pedal (s); the left rests
    flicks: bool = False  # "drums": the hands strike from the wrist, fingers first (a tabla), not the forearm
    seated: bool = False  # "drums": on a stool (SEAT_HIP_Z), the pieces lowered with the body, feet forward


def _cusp(u: float) -> float:
    """0 at u = 0 and 1, 1 halfway, leaving and meeting 0 steeply: an impact's fast approach and abrupt stop."""
    return math.sin(math.pi * min(max(u, 0.0), 1.0)) ** 0.6


def clap_separation(time: float, claps: tuple[float, ...]) -> float:
    """The wrists' separation (m) at `time`: open at rest, closing to contact at each clap and opening again;
    before the first clap and after the last the hands take 0.35 s to come from and go back to rest."""
    lead = 0.35
    if not claps or time <= claps[0] - lead or time >= claps[-1] + lead:
        return CLAP_OPEN
    if time <= claps[0]:
        return CLAP_CONTACT + (CLAP_OPEN - CLAP_CONTACT) * _cusp(0.5 * (claps[0] - time) / lead)
    if time >= claps[-1]:
        return CLAP_CONTACT + (CLAP_OPEN - CLAP_CONTACT) * _cusp(0.5 * (time - claps[-1]) / lead)
    after = max(index for index, clap in enumerate(claps) if clap <= time)
    start, end = claps[after], claps[after + 1]
    return CLAP_CONTACT + (CLAP_OPEN - CLAP_CONTACT) * _cusp((time - start) / (end - start))


def foot_height(time: float, landings: tuple[float, ...], lift: float = STEP_LIFT, swing: float = STEP_SWING
                ) -> float:
    """One foot's lift above the floor (m) at `time`: it leaves the floor `swing` before each of its `landings`,
    `lift` high at most, and comes down on it."""
    for landing in landings:
        if landing - swing < time < landing:
            return lift * _cusp((time - landing + swing) / swing)
    return 0.0


def _stroke(time: float, side: str, spec: PersonSpec) -> tuple[tuple[float, float, float], float] | None:
    """Where a drumming hand's piece is at `time` (m, before `across`) and how far it is lifted (0 on the piece,
    1 at the top), or None for a hand that plays nothing: it comes down on each of its strokes' pieces (KIT or
    HAND_DRUMS) steeply and stops there (a cusp), rising between strokes while it moves on to the next piece."""
    places = KIT | HAND_DRUMS
    strokes = [(time_, places[piece][1]) for time_, piece in zip(spec.contacts, spec.pieces, strict=True)
               if places[piece][0] == side]
    if not strokes:
        return None
    first, last = strokes[0], strokes[-1]
    if time <= first[0]:
        return first[1], _cusp(0.5 * min(1.0, (first[0] - time) / STROKE_LEAD))
    if time >= last[0]:
        return last[1], _cusp(0.5 * min(1.0, (time - last[0]) / STROKE_LEAD))
    after = max(index for index, (start, _) in enumerate(strokes) if start <= time)
    (start, here), (end, there) = strokes[after], strokes[after + 1]
    u = (time - start) / (end - start)
    eased = 0.5 - 0.5 * math.cos(math.pi * u)
    return tuple(a + (b - a) * eased for a, b in zip(here, there, strict=True)), _cusp(u)  # type: ignore[return-value]


def stick_hand(time: float, side: str, spec: PersonSpec) -> tuple[float, float, float] | None:
    """Where a drumming hand is at `time` (m, before `across`), or None for a hand that plays nothing: on its
    piece at each stroke (_stroke), STROKE_LIFT above it at the top of a stroke; a hand striking from the wrist
    (`spec.flicks`) rises a tenth as far, its forearm following the hand."""
    stroke = _stroke(time, side, spec)
    if stroke is None:
        return None
    (x, y, z), lifted = stroke
    return x, y, z + STROKE_LIFT * lifted * (0.1 if spec.flicks else 1.0)


def flicking_fingers(time: float, side: str, spec: PersonSpec) -> tuple[float, float, float] | None:
    """Where a hand striking from the wrist (`spec.flicks`, a tabla's strokes) points its fingers at `time`: a
    hand length from the wrist, forward and FLICK_DOWN below level on the drum, turned FLICK_TURN up at the
    top of a stroke; None for a hand that plays nothing."""
    stroke, wrist = _stroke(time, side, spec), stick_hand(time, side, spec)
    if stroke is None or wrist is None:
        return None
    angle = -FLICK_DOWN + FLICK_TURN * stroke[1]
    return wrist[0], wrist[1] - HAND_LENGTH * math.cos(angle), wrist[2] + HAND_LENGTH * math.sin(angle)


def walking_foot(time: float, landings: tuple[float, ...], spec: PersonSpec) -> tuple[float, float]:
    """A walking foot's (y, lift) at `time`: it stays on its footprint, and in the WALK_SWING before each of
    its `landings` swings to the next one, WALK_REACH ahead of where the hips will be then, landing heel first
    and abruptly."""
    def footprint(landing: float) -> float:
        return walk_y(landing, spec) - WALK_REACH

    previous = None
    for landing in landings:
        if time < landing - WALK_SWING:
            break
        if time < landing:
            u = (time - landing + WALK_SWING) / WALK_SWING
            start = footprint(previous) if previous is not None else footprint(landing - 2 * WALK_SWING - 0.3)
            eased = 0.5 - 0.5 * math.cos(math.pi * u)
            return start + (footprint(landing) - start) * eased, WALK_LIFT * _cusp(u)
        previous = landing
    if previous is None:
        return footprint(landings[0] - 2 * WALK_SWING - 0.3) if landings else walk_y(time, spec), 0.0
    return footprint(previous), 0.0


def walk_y(time: float, spec: PersonSpec) -> float:
    """Where the walker's hips are along y (m): walking towards -y, at 0 halfway through the clip."""
    return -WALK_SPEED * (time - spec.seconds / 2) if spec.action == "walk" else 0.0


def _elbow(root: tuple[float, float, float], end: tuple[float, float, float], first: float, second: float,
           pole: tuple[float, float, float]) -> tuple[float, float, float]:
    """The middle joint of a two-bone limb from `root` to `end` bending towards `pole` (two-bone IK)."""
    d = [e - r for e, r in zip(end, root, strict=True)]
    reach = math.sqrt(sum(c * c for c in d)) or 1e-9
    reach_c = min(reach, first + second - 1e-6)
    along = (first ** 2 - second ** 2 + reach_c ** 2) / (2 * reach_c)
    out = math.sqrt(max(first ** 2 - along ** 2, 0.0))
    axis = [c / reach for c in d]
    dot = sum(p * a for p, a in zip(pole, axis, strict=True))
    side = [p - dot * a for p, a in zip(pole, axis, strict=True)]
    norm = math.sqrt(sum(c * c for c in side)) or 1e-9
    return tuple(r + along * a + out * s / norm for r, a, s in zip(root, axis, side, strict=True))  # type: ignore


def joints(time: float, spec: PersonSpec) -> dict[str, tuple[float, float, float]]:
    """Every joint's place (m; x to the camera's right at azimuth 0, y away from it, z up) at `time`."""
    y = walk_y(time, spec)
    drop = {"walk": HIP_Z - WALK_HIP_Z, "drums": HIP_Z - SEAT_HIP_Z if spec.seated else 0.0}.get(spec.action, 0.0)
    placed: dict[str, tuple[float, float, float]] = {"root": (0.0, y, -drop), "head": (0.0, y, 1.63 - drop),
                                                     "neck": (0.0, y, 1.47 - drop)}
    claps = spec.contacts if spec.action == "claps" else ()
    half = clap_separation(time, claps) / 2
    for name, sign in (("right", -1.0), ("left", 1.0)):  # the person's right is the camera's left
        shoulder = (sign * SHOULDER_X, y, SHOULDER_Z - drop)
        wrist = (sign * half, -0.30, 1.24) if spec.action == "claps" else (sign * 0.27, y - 0.04, 0.86 - drop)
        if spec.action == "drums":  # the pieces are placed for a standing player: lowered with a seated one
            x, y_, z = stick_hand(time, name, spec) or (sign * 0.27, -0.04, 0.86)
            wrist = (x, y_, z - drop)
        placed[f"{name}_shoulder"], placed[f"{name}_wrist"] = shoulder, wrist
        fingers = flicking_fingers(time, name, spec) if spec.action == "drums" and spec.flicks else None
        if fingers is not None:
            placed[f"{name}_fingers"] = (fingers[0], fingers[1], fingers[2] - drop)
        placed[f"{name}_elbow"] = _elbow(shoulder, wrist, UPPER_ARM, FOREARM, (sign * 1.0, 0.3, -1.0))
        landings = spec.contacts[0 if name == "right" else 1::2] if spec.action in ("steps", "walk") else ()
        hip = (sign * HIP_X, y, HIP_Z - drop)
        if spec.action == "walk":
            foot_y, lift = walking_foot(time, landings, spec)
            ankle = (sign * 0.11, foot_y, ANKLE_HEIGHT + lift)
        elif spec.action == "drums":
            lift = foot_height(time, spec.kicks if name == "right" else (), KICK_LIFT, KICK_SWING)
            ankle = (sign * 0.11, -SEAT_FEET if spec.seated else 0.0, ANKLE_HEIGHT + lift)
        else:
            lift = foot_height(time, landings)
            ankle = (sign * 0.11, -0.6 * lift, ANKLE_HEIGHT + lift)
        placed[f"{name}_hip"], placed[f"{name}_ankle"] = hip, ankle
        placed[f"{name}_knee"] = _elbow(hip, ankle, THIGH, SHIN, (0.0, -1.0, 0.0))
        placed[f"{name}_heel"] = (ankle[0], ankle[1] + HEEL_BACK, ankle[2] - ANKLE_HEIGHT + 0.03)
        placed[f"{name}_toe"] = (ankle[0], ankle[1] - TOE_FRONT, ankle[2] - ANKLE_HEIGHT + 0.03 + 0.3 * lift)
    return {joint: (x + spec.across, y, z) for joint, (x, y, z) in placed.items()}


#: (from joint, to joint, radius, material) of every capsule of the body.
_BONES = (
    ("neck", "head", 0.05, "skin"),
    ("right_shoulder", "left_shoulder", 0.065, "shirt"),
    ("right_hip", "left_hip", 0.11, "trousers"),
)
_LIMBS = (("shoulder", "elbow", 0.05, "shirt"), ("elbow", "wrist", 0.04, "skin"), ("hip", "knee", 0.075, "trousers"),
          ("knee", "ankle", 0.058, "trousers"), ("heel", "toe", 0.045, "shoes"))


def _render(people: list[PersonSpec], frames: Path) -> None:  # pragma: no cover - runs inside the bpy interpreter
    """Render every person of `people` in one scene, with the first one's camera, size and rate."""
    import bpy  # noqa: I001 - first: it puts Blender's own modules (bmesh, mathutils) on the path
    import bmesh
    from mathutils import Matrix, Quaternion, Vector

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    spec = people[0]
    colours = {"skin": (0.80, 0.55, 0.42), "trousers": (0.15, 0.15, 0.18), "shoes": (0.05, 0.03, 0.02),
               "eyes": (0.02, 0.02, 0.02), "hair": (0.10, 0.06, 0.03), "floor": (0.45, 0.42, 0.40),
               "backdrop": spec.backdrop, **{f"shirt {index}": person.shirt for index, person in enumerate(people)}}
    materials = {}
    for name, rgb in colours.items():
        material = bpy.data.materials.new(name)
        material.diffuse_color = (*rgb, 1.0)
        materials[name] = material

    def translation(x: float, y: float, z: float):
        return Matrix.Translation((x, y, z))

    def mesh_object(name: str, build, material: str):
        data = bpy.data.meshes.new(name)
        shape = bmesh.new()
        build(shape)
        shape.to_mesh(data)
        shape.free()
        for polygon in data.polygons:
            polygon.use_smooth = True
        made = bpy.data.objects.new(name, data)
        made.data.materials.append(materials[material])
        made.rotation_mode = "QUATERNION"
        scene.collection.objects.link(made)
        return made

    def capsule(name: str, length: float, radius: float, material: str):
        def build(shape) -> None:
            bmesh.ops.create_cone(shape, cap_ends=True, segments=20, radius1=radius, radius2=radius, depth=length,
                                  matrix=translation(0, 0, length / 2))
            for z in (0.0, length):
                bmesh.ops.create_uvsphere(shape, u_segments=20, v_segments=10, radius=radius,
                                          matrix=translation(0, 0, z))
        return mesh_object(name, build, material)

    def ellipsoid(name: str, radii: tuple[float, float, float], material: str):
        def build(shape) -> None:
            bmesh.ops.create_uvsphere(shape, u_segments=24, v_segments=12, radius=1.0)
            bmesh.ops.scale(shape, vec=radii, verts=shape.verts)
        return mesh_object(name, build, material)

    def person(index: int, who: PersonSpec):
        """Build one person; their (bones, root, hands), moved by `pose`."""
        shirt = f"shirt {index}"
        start = joints(0.0, who)
        bones = []
        for a, b, radius, material in _BONES + tuple((f"{side}_{a}", f"{side}_{b}", r, m)
                                                       for side in ("right", "left") for a, b, r, m in _LIMBS):
            length = (Vector(start[b]) - Vector(start[a])).length
            look = shirt if material == "shirt" else material
            bones.append((a, b, capsule(f"{index} {a}-{b}", length, radius, look)))
        root = bpy.data.objects.new(f"{index} root", None)  # the torso and head walk with it
        scene.collection.objects.link(root)
        still = [(capsule(f"{index} torso", 0.38, 0.165, shirt), (0, 0, 1.02)),
                 (ellipsoid(f"{index} head", (0.095, 0.105, 0.125), "skin"), (0, 0, 1.63)),
                 (ellipsoid(f"{index} hair", (0.10, 0.10, 0.09), "hair"), (0, 0.015, 1.70)),
                 (ellipsoid(f"{index} nose", (0.016, 0.02, 0.02), "skin"), (0, -0.102, 1.615))]
        still += [(ellipsoid(f"{index} eye", (0.014, 0.01, 0.014), "eyes"), (x, -0.092, 1.65))
                  for x in (-0.034, 0.034)]
        for part, place in still:
            part.parent, part.location = root, place
        hands = {side: mesh_object(f"{index} {side} hand", _hand_builder(bmesh, translation, side), "skin")
                 for side in ("right", "left")}
        return bones, root, hands

    built = [(who, *person(index, who)) for index, who in enumerate(people)]
    mesh_object("floor", lambda shape: bmesh.ops.create_grid(shape, x_segments=1, y_segments=1, size=10), "floor")
    backdrop = mesh_object("backdrop", lambda shape: bmesh.ops.create_grid(shape, x_segments=1, y_segments=1,
                                                                           size=10), "backdrop")
    angle = math.radians(spec.azimuth)
    backdrop.location = (-2.5 * math.sin(angle), 2.5 * math.cos(angle), 5)  # behind the people, facing the camera
    backdrop.rotation_quaternion = Quaternion((0, 0, 1), angle) @ Quaternion((1, 0, 0), math.pi / 2)

    camera_data = bpy.data.cameras.new("camera")
    camera_data.lens = spec.lens
    camera = bpy.data.objects.new("camera", camera_data)
    scene.collection.objects.link(camera)
    down = math.radians(spec.elevation)
    level = spec.distance * math.cos(down)
    camera.location = (level * math.sin(angle), -level * math.cos(angle), 1.0 + spec.distance * math.sin(down))
    camera.rotation_mode = "XYZ"
    camera.rotation_euler = (math.pi / 2 - down, 0.0, angle)
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light, shading.color_type, shading.show_shadows = "STUDIO", "MATERIAL", True
    scene.render.resolution_x, scene.render.resolution_y = spec.size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"

    def pose(scene_now, _depsgraph=None) -> None:
        for who, bones, root, hands in built:
            placed = joints((scene_now.frame_current - 1) / spec.rate, who)
            root.location = placed["root"]
            for a, b, made in bones:
                made.location = placed[a]
                made.rotation_quaternion = (Vector(placed[b]) - Vector(placed[a])).to_track_quat("Z", "Y")
            for side, hand in hands.items():
                wrist = Vector(placed[f"{side}_wrist"])
                facing = Vector((1.0 if side == "right" else -1.0, 0.0, 0.0))  # the palm: to the midline
                if who.action == "claps":  # palms facing, fingers forward and up
                    along = Vector((0.0, -0.6, 0.8))
                elif f"{side}_fingers" in placed:  # striking from the wrist, palm down on the drum
                    along, facing = (Vector(placed[f"{side}_fingers"]) - wrist).normalized(), Vector((0, 0, -1.0))
                else:  # hanging along the forearm, palms towards the thighs
                    along = (wrist - Vector(placed[f"{side}_elbow"])).normalized()
                palm = (facing - facing.dot(along) * along).normalized()
                hand.rotation_quaternion = Matrix((palm, along.cross(palm), along)).transposed().to_quaternion()
                hand.location = wrist

    bpy.app.handlers.frame_change_pre.append(pose)
    scene.frame_start, scene.frame_end = 1, round(spec.seconds * spec.rate)
    scene.render.fps = spec.rate
    scene.render.filepath = str(frames) + "/"
    bpy.ops.render.render(animation=True)


def _hand_builder(bmesh, translation, side: str):  # pragma: no cover - runs inside the bpy interpreter
    """A hand in its own frame (z from the wrist along the fingers, x the palm's normal, y across it): a palm,
    four fingers and a thumb on the side towards the body's front."""
    def build(shape) -> None:
        bmesh.ops.create_uvsphere(shape, u_segments=20, v_segments=10, radius=1.0, matrix=translation(0, 0, 0.045))
        palm = [vert for vert in shape.verts]
        bmesh.ops.scale(shape, vec=(0.018, 0.042, 0.05), verts=palm, space=translation(0, 0, -0.045))
        for across, length in ((-0.027, 0.062), (-0.009, 0.075), (0.009, 0.072), (0.027, 0.058)):
            _finger(shape, bmesh, translation, (0.0, across, 0.085), (0.0, across * 1.15, 0.085 + length), 0.0085)
        thumb_side = -1.0 if side == "right" else 1.0
        _finger(shape, bmesh, translation, (0.0, thumb_side * 0.035, 0.03), (0.012, thumb_side * 0.07, 0.08), 0.01)
    return build


def _finger(shape, bmesh, translation, base, tip, radius: float) -> None:  # pragma: no cover - bpy side
    """A capsule from `base` to `tip` added to the bmesh `shape`."""
    from mathutils import Vector
    a, b = Vector(base), Vector(tip)
    turn = (b - a).to_track_quat("Z", "Y").to_matrix().to_4x4()
    bmesh.ops.create_cone(shape, cap_ends=True, segments=10, radius1=radius, radius2=radius, depth=(b - a).length,
                          matrix=translation(*((a + b) / 2)) @ turn)
    for point in (a, b):
        bmesh.ops.create_uvsphere(shape, u_segments=10, v_segments=6, radius=radius, matrix=translation(*point))


def render_person(spec: PersonSpec, out: Path, python: Path) -> Path:
    """Render `spec` with the bpy interpreter `python` and write it to `out` as an H.264 video."""
    return render_people([spec], out, python)


def render_people(people: list[PersonSpec], out: Path, python: Path) -> Path:
    """Render everyone in `people` in one scene (the first one's camera, size and rate) with the bpy
    interpreter `python`, and write it to `out` as an H.264 video."""
    import av
    import cv2

    frames = out.parent / f"{out.stem}-frames"
    frames.mkdir(parents=True, exist_ok=True)
    spec_path = frames / "people.json"
    spec_path.write_text(json.dumps([asdict(person) for person in people]))
    done = subprocess.run([str(python), __file__, str(spec_path), str(frames)], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    spec = people[0]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=spec.rate)
        stream.width, stream.height, stream.pix_fmt = *spec.size, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for path in sorted(frames.glob("*.png")):
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return out


def _spec(fields: dict) -> PersonSpec:
    """A PersonSpec from its JSON form (lists back to tuples)."""
    return PersonSpec(**{name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()})


if __name__ == "__main__":  # pragma: no cover - the bpy side
    _render([_spec(fields) for fields in json.loads(Path(sys.argv[1]).read_text())], Path(sys.argv[2]))
