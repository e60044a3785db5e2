"""Rendered piano keyboards with known geometry, for testing foley_engine.keyboard without real footage.

A keyboard of 88, 76, 61 or 49 keys is drawn flat in its own plane (x in white-key widths from the lowest
white key's left edge, y from the fallboard (0) to the player's edge (1)) and projected into the frame by a
pinhole camera tilted off vertical, then rolled in the image and fitted into the frame (optionally so that
one end of the keyboard runs out of it). Colours, lighting gradient, background, noise and skin-coloured
hands are drawn on top, so a test can vary everything a real recording varies and still know every key's
true pitch and centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

#: (lowest, highest) MIDI pitch of the common keyboard sizes.
LAYOUTS = {88: (21, 108), 76: (28, 103), 61: (36, 96), 49: (36, 84)}
WHITE_CLASSES = (0, 2, 4, 5, 7, 9, 11)
#: Black-key centres in white-key widths from their octave's C, as real pianos build them: the C-E group
#: splits 3 white widths into 5 equal back widths, F-B splits 4 into 7. "even" is the 7/12 idealisation.
BLACK_OFFSETS = {
    "grouped": {1: 0.9, 3: 2.1, 6: 3 + 1.5 * 4 / 7, 8: 5.0, 10: 3 + 5.5 * 4 / 7},
    "even": {1: 0.875, 3: 2.042, 6: 3.792, 8: 4.958, 10: 6.125},
}
_KEY_LENGTH_MM, _WHITE_WIDTH_MM = 150.0, 23.5
SKIN = (224, 172, 140)


@dataclass(frozen=True)
class Style:
    """Colours (RGB) and surface details of the instrument and the room."""

    white: tuple[int, int, int] = (238, 236, 228)
    black: tuple[int, int, int] = (22, 22, 24)
    body: tuple[int, int, int] = (30, 28, 28)
    felt: tuple[int, int, int] = (120, 20, 30)
    gap: tuple[int, int, int] = (90, 90, 90)  # the thin line between white keys
    background: str = "noise"  # "noise", "wood" or "room"
    black_offsets: str = "grouped"
    black_length: float = 0.63  # of the white keys' visible length
    black_width: float = 0.58  # of a white key's width


@dataclass(frozen=True)
class Camera:
    """Where the camera looks from: tilt off vertical, its azimuth (-90 = from the player's side, 0 = from the
    high end), in-plane roll in the frame (180 puts the player at the top), how the keyboard fills it, and
    the lens's radial distortion (distorted = c + (p - c)(1 + k r^2), r in half-diagonals; k < 0: barrel)."""

    tilt: float = 0.0
    azimuth: float = -90.0
    roll: float = 0.0
    distance: float = 1.3  # camera distance in keyboard widths: smaller = stronger perspective
    fill: float = 0.9  # fraction of the frame's width (or height) the shown part of the keyboard spans
    shown: tuple[float, float] | None = None  # white-key range fitted into the frame (None = all)
    distortion: float = 0.0


@dataclass
class RenderedKeyboard:
    """The frames plus the truth: the plane-to-frame homography (before the lens distortion) and, per visible
    key, its centre and the local white-key width in frame pixels."""

    frames: list[np.ndarray]
    homography: np.ndarray
    keys: int
    lowest: int
    centres: dict[int, np.ndarray] = field(default_factory=dict)  # pitch -> (x, y) pixel centre
    white_widths: dict[int, float] = field(default_factory=dict)  # pitch -> local white-key width in pixels

    def inside(self, pitch: int, margin: float) -> bool:
        """Whether the key's centre lies at least `margin` white-key widths inside the frame."""
        height, width = self.frames[0].shape[:2]
        x, y = self.centres[pitch]
        pad = margin * self.white_widths[pitch]
        return pad <= x <= width - pad and pad <= y <= height - pad


def key_layout(keys: int, style: Style = Style()) -> list[tuple[int, bool, float, float]]:
    """(pitch, black, x_left, x_right) of every key in plane units, lowest first."""
    lowest, highest = LAYOUTS[keys]
    offsets = BLACK_OFFSETS[style.black_offsets]
    layout, white = [], 0
    for pitch in range(lowest, highest + 1):
        pitch_class = pitch % 12
        if pitch_class in WHITE_CLASSES:
            layout.append((pitch, False, float(white), float(white + 1)))
            white += 1
        else:
            c_left = white - WHITE_CLASSES.index(pitch_class - 1) - 1  # the C of this octave, in white keys
            centre = c_left + offsets[pitch_class]
            layout.append((pitch, True, centre - style.black_width / 2, centre + style.black_width / 2))
    return layout


def _camera_homography(camera: Camera, span: tuple[float, float]) -> np.ndarray:
    """Plane -> image homography of a pinhole camera looking at the middle of the shown span of keys."""
    width_mm = (span[1] - span[0]) * _WHITE_WIDTH_MM
    target = np.array([(span[0] + span[1]) / 2 * _WHITE_WIDTH_MM, -0.5 * _KEY_LENGTH_MM, 0.0])
    tilt, azimuth = math.radians(camera.tilt), math.radians(camera.azimuth)
    direction = np.array([math.sin(tilt) * math.cos(azimuth), math.sin(tilt) * math.sin(azimuth), math.cos(tilt)])
    centre = target + camera.distance * width_mm * direction
    z_axis = -direction
    x_axis = np.array([1.0, 0.0, 0.0]) - z_axis[0] * z_axis
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    rotation = np.stack([x_axis, y_axis, z_axis])
    translation = -rotation @ centre
    # World Y points away from the player, so a camera above the keys sees the player's side at the bottom.
    plane_to_world = np.diag([_WHITE_WIDTH_MM, -_KEY_LENGTH_MM, 1.0])
    return np.column_stack([rotation[:, 0], rotation[:, 1], translation]) @ plane_to_world


def project(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), homography).reshape(-1, 2)


@dataclass(frozen=True)
class _Lens:
    k: float
    size: tuple[int, int]

    def distort(self, points: np.ndarray) -> np.ndarray:
        centre, radius = (np.array(self.size) - 1) / 2, math.hypot(*self.size) / 2
        offset = (points - centre) / radius
        return centre + offset * (1 + self.k * np.sum(offset ** 2, axis=-1, keepdims=True)) * radius

    def source_maps(self, supersample: int) -> tuple[np.ndarray, np.ndarray]:
        """For every pixel of the supersampled distorted picture, where it comes from in the supersampled
        ideal one (for cv2.remap)."""
        centre, radius = (np.array(self.size) - 1) / 2, math.hypot(*self.size) / 2
        width, height = self.size[0] * supersample, self.size[1] * supersample
        x = ((np.arange(width) - (supersample - 1) / 2) / supersample - centre[0]) / radius
        y = ((np.arange(height) - (supersample - 1) / 2) / supersample - centre[1]) / radius
        observed = np.hypot(*np.meshgrid(x, y))
        # The lens is radial: ideal = observed * shrink(|observed|), solved once on a fine table of radii.
        table = np.linspace(0, float(observed.max()) + 1e-6, 4096)
        shrink = np.ones_like(table)
        for _ in range(60):
            shrink = 1 / (1 + self.k * (table * shrink) ** 2)
        scale = np.interp(observed, table, shrink)
        map_x = (centre[0] + x[None, :] * scale * radius) * supersample + (supersample - 1) / 2
        map_y = (centre[1] + y[:, None] * scale * radius) * supersample + (supersample - 1) / 2
        return map_x.astype(np.float32), map_y.astype(np.float32)


def _fit_into_frame(homography: np.ndarray, camera: Camera, span: tuple[float, float],
                    size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Roll the camera image, then scale and shift it so the shown span of the keyboard fills `camera.fill`."""
    corners = np.array([[span[0], -0.4], [span[1], -0.4], [span[1], 1.1], [span[0], 1.1]])
    roll = math.radians(camera.roll)
    rotate = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]])
    projected = project(rotate @ homography, corners)
    low, high = projected.min(axis=0), projected.max(axis=0)
    scale = camera.fill * min(size[0] / (high[0] - low[0]), size[1] / (high[1] - low[1]))
    slack = np.array(size) - scale * (high - low)
    offset = slack * (0.5 + rng.uniform(-0.15, 0.15, 2)) - scale * low
    fit = np.array([[scale, 0, offset[0]], [0, scale, offset[1]], [0, 0, 1]])
    return fit @ rotate @ homography


def _background(size: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    width, height = size
    if kind == "wood":
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        grain = np.sin(xx / 9.0 + 3 * np.sin(yy / 57.0)) * 0.5 + 0.5
        base = np.array([150, 95, 55], np.float32)
        image = base * (0.7 + 0.3 * grain[..., None])
    elif kind == "room":
        image = np.empty((height, width, 3), np.float32)
        image[:] = np.linspace(60, 170, height, dtype=np.float32)[:, None, None]
        for _ in range(12):
            x, y = rng.integers(0, width), rng.integers(0, height)
            colour = rng.uniform(20, 230, 3)
            cv2.rectangle(image, (int(x), int(y)), (int(x + rng.integers(20, width // 3)),
                                                    int(y + rng.integers(20, height // 3))), colour.tolist(), -1)
    else:
        coarse = rng.uniform(30, 200, (max(2, height // 40), max(2, width // 40), 3)).astype(np.float32)
        image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return image


#: What a pressed key shows from above, in white-key widths: the gaps beside a pressed white key open and the
#: neighbours' side walls show in them; a pressed black key drops, its top catches less light and its front
#: and sides show (a camera is never exactly overhead).
_WALL = 0.07
_PRESSED_WHITE_SHADE = 0.9


def keyboard_canvas(keys: int, style: Style, ppw: int, pressed: frozenset[int] = frozenset()
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The keyboard drawn flat (RGB float) and the canvas -> plane transform; the canvas spans the cheek blocks
    (1 white key either side), the fallboard (0.5 key lengths) and the key slip (0.1). Keys of the `pressed`
    pitches are drawn down."""
    layout = key_layout(keys, style)
    whites = sum(1 for _, black, _, _ in layout if not black)
    ppy = ppw * _KEY_LENGTH_MM / _WHITE_WIDTH_MM
    x0, y0 = -1.0, -0.5
    width, height = int((whites + 2) * ppw), int(1.6 * ppy)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = style.body
    wall = tuple(0.55 * channel for channel in style.gap)

    def box(x_left: float, x_right: float, y_top: float, y_bottom: float, colour: tuple[float, ...]) -> None:
        cv2.rectangle(canvas, (round((x_left - x0) * ppw), round((y_top - y0) * ppy)),
                      (round((x_right - x0) * ppw) - 1, round((y_bottom - y0) * ppy) - 1), colour, -1)

    box(0, whites, -0.04, 0, style.felt)
    box(0, whites, 0, 1, style.gap)
    gap = 0.05
    for pitch, black, left, right in layout:
        if not black:
            down = pitch in pressed
            box(left + gap / 2, right - gap / 2, 0, 1,
                tuple(_PRESSED_WHITE_SHADE * c for c in style.white) if down else style.white)
            if down:
                box(left + gap / 2, left + gap / 2 + _WALL, 0, 1, wall)
                box(right - gap / 2 - _WALL, right - gap / 2, 0, 1, wall)
    box(0, whites, 1 - 0.01, 1, style.gap)  # the gap in front of the keys, as thin as those between them
    for pitch, black, left, right in layout:
        if black:
            if pitch in pressed:
                box(left - _WALL / 2, right + _WALL / 2, 0, style.black_length + _WALL, wall)
                box(left, right, 0, style.black_length, tuple(min(255.0, 1.8 * c + 12) for c in style.black))
            else:
                box(left, right, 0, style.black_length, style.black)
    for pitch, black, left, right in layout:
        if not black and pitch in pressed:  # the black neighbours' side walls, inside the pressed key
            for _, other_black, other_left, other_right in layout:
                if other_black and other_left < left < other_right:
                    box(other_right, other_right + _WALL, 0, style.black_length, wall)
                if other_black and other_left < right < other_right:
                    box(other_left - _WALL, other_left, 0, style.black_length, wall)
    canvas_to_plane = np.array([[1 / ppw, 0, x0], [0, 1 / ppy, y0], [0, 0, 1]])
    return canvas, canvas_to_plane


def _hand(homography: np.ndarray, x: float, scale: float) -> list[np.ndarray]:
    """Polygons (frame pixels) of a hand whose palm is over the keys' front at white-key position x, with the
    fingers reaching towards the black keys and the forearm leaving towards the player."""
    def ellipse(cx: float, cy: float, half_w: float, half_h: float) -> np.ndarray:
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        return np.stack([cx + half_w * np.cos(angles), cy + half_h * np.sin(angles)], axis=1)

    polygons = [ellipse(x, 1.05, 2.2 * scale, 0.22), np.array([[x - 1.6 * scale, 1.1], [x + 1.6 * scale, 1.1],
                                                              [x + 1.3 * scale, 3.0], [x - 1.3 * scale, 3.0]])]
    for finger in range(5):
        fx = x + (finger - 2) * 0.95 * scale
        length = 0.42 if finger in (1, 2, 3) else 0.3
        polygons.append(ellipse(fx, 1.0 - length, 0.38 * scale, length))
    return [project(homography, polygon) for polygon in polygons]


@dataclass
class Stage:
    """What every picture of one rendered keyboard shares: where it lies in the frame, the room and the light."""

    layout: list[tuple[int, bool, float, float]]
    homography: np.ndarray  # plane -> frame pixels, before the lens
    up: np.ndarray  # frame pixels -> supersampled pixels
    big: tuple[int, int]  # supersampled size
    ppw: int  # canvas pixels per white key
    to_big: np.ndarray  # canvas -> supersampled pixels
    keyboard: np.ndarray  # the unpressed keyboard, supersampled (RGB float)
    mask: np.ndarray  # where the keyboard covers the room, supersampled
    scene: np.ndarray  # room and keyboard, supersampled
    light: np.ndarray  # brightness gradient, supersampled
    lens: _Lens
    maps: tuple[np.ndarray, np.ndarray] | None

    @property
    def whites(self) -> int:
        return sum(1 for _, black, _, _ in self.layout if not black)

    def finish(self, picture: np.ndarray, size: tuple[int, int], noise: float, rng: np.random.Generator,
               brightness: float = 1.0) -> np.ndarray:
        """A supersampled picture through the lens, the light and the sensor's noise, at frame size (uint8)."""
        if self.maps is not None:
            picture = cv2.remap(picture, self.maps[0], self.maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        picture = cv2.resize(picture * (self.light * brightness)[..., None], size, interpolation=cv2.INTER_AREA)
        picture += rng.normal(0, noise, picture.shape).astype(np.float32)
        return np.clip(cv2.GaussianBlur(picture, (0, 0), 0.6), 0, 255).astype(np.uint8)

    def truth(self, rendered: RenderedKeyboard, style: Style, size: tuple[int, int]) -> None:
        """Fill in every visible key's true centre and local white-key width."""
        for pitch, black, left, right in self.layout:
            y_centre = style.black_length / 2 if black else 0.5
            centre = self.lens.distort(project(self.homography, np.array([[(left + right) / 2, y_centre]])))[0]
            if 0 <= centre[0] < size[0] and 0 <= centre[1] < size[1]:
                middle = (left + right) / 2
                ends = self.lens.distort(project(self.homography,
                                                  np.array([[middle - 0.5, y_centre], [middle + 0.5, y_centre]])))
                rendered.centres[pitch] = centre
                rendered.white_widths[pitch] = float(np.linalg.norm(ends[1] - ends[0]))


def make_stage(keys: int, size: tuple[int, int], camera: Camera, style: Style, lighting: float,
           rng: np.random.Generator) -> Stage:
    layout = key_layout(keys, style)
    whites = sum(1 for _, black, _, _ in layout if not black)
    span = camera.shown or (-1.0, whites + 1.0)
    homography = _fit_into_frame(_camera_homography(camera, span), camera, span, size, rng)
    supersample = 2
    # Pixel centres are integers at both sizes: frame pixel x covers supersampled pixels around 2x + 0.5.
    up = np.array([[supersample, 0, (supersample - 1) / 2], [0, supersample, (supersample - 1) / 2], [0, 0, 1]])
    big = (size[0] * supersample, size[1] * supersample)
    local_white = float(np.linalg.norm(project(homography, np.array([[whites / 2, 0.5], [whites / 2 + 1, 0.5]]))
                                       @ np.array([-1, 1])))
    ppw = int(np.clip(2.5 * supersample * local_white, 8, 160))
    canvas, canvas_to_plane = keyboard_canvas(keys, style, ppw)
    to_big = up @ homography @ canvas_to_plane
    keyboard = cv2.warpPerspective(canvas, to_big, big, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones(canvas.shape[:2], np.float32), to_big, big, flags=cv2.INTER_LINEAR)
    scene = _background(big, style.background, rng) * (1 - mask[..., None]) + keyboard * mask[..., None]
    yy, xx = np.mgrid[0:big[1], 0:big[0]].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / big[0] + np.sin(angle) * yy / big[1])
    light = 1.0 - lighting * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    lens = _Lens(camera.distortion, size)
    maps = lens.source_maps(supersample) if camera.distortion else None
    return Stage(layout, homography, up, big, ppw, to_big, keyboard, mask, scene, light, lens, maps)


def render(keys: int = 88, size: tuple[int, int] = (1280, 720), camera: Camera = Camera(),
           style: Style = Style(), lighting: float = 0.3, noise: float = 4.0, hands: int = 0,
           frames: int = 1, seed: int = 0) -> RenderedKeyboard:
    """Render `frames` pictures of one keyboard; hands (0-2) move between frames, everything else is fixed.

    `lighting` is the strength of a linear brightness gradient across the frame (0 = even light).
    """
    rng = np.random.default_rng(seed)
    stage = make_stage(keys, size, camera, style, lighting, rng)
    pictures = []
    for _ in range(frames):
        picture = stage.scene.copy()
        for _ in range(hands):
            for polygon in _hand(stage.up @ stage.homography, rng.uniform(3, stage.whites - 3),
                                 scale=rng.uniform(0.9, 1.2)):
                cv2.fillPoly(picture, [np.round(polygon * 4).astype(np.int32)], SKIN, cv2.LINE_AA, shift=2)
        pictures.append(stage.finish(picture, size, noise, rng))
    rendered = RenderedKeyboard(pictures, stage.homography, keys, LAYOUTS[keys][0])
    stage.truth(rendered, style, size)
    return rendered


def empty_frames(size: tuple[int, int] = (1280, 720), background: str = "room", frames: int = 1,
                 noise: float = 4.0, seed: int = 0) -> list[np.ndarray]:
    """Frames of one of render's backgrounds with no keyboard in them, for the detector's negatives."""
    rng = np.random.default_rng(seed)
    scene = _background(size, background, rng)
    return [np.clip(scene + rng.normal(0, noise, scene.shape), 0, 255).astype(np.uint8) for _ in range(frames)]

