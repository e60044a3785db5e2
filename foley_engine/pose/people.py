"""Every person in the frame, each followed by a Pose model of its own: MediaPipe's legacy Pose sees one.

The bundled legacy Pose (the only pose model the mediapipe 0.10.21 wheel ships; the multi-person Tasks model
would be a download) finds one person per image and, in video mode, may jump to another person between
frames. So people are *found* by running it on the whole frame again and again, each time with the people
found so far blacked out, and each found person is then *followed* by a Pose instance of its own in video
mode, fed a crop around that person only. A person's crop is kept still while they stay inside it, so the
model's own frame-to-frame tracking keeps working; another person in view never enters it far enough to be
taken for them. Discovery runs on the first frame and then every DISCOVERY_SECONDS, so people who walk in
are picked up and a lost person is found again.

Each person carries a worker-local id for as long as they are followed; the parent process joins those ids
across chunks and across losses (pose_tracking).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: How often the whole frame is searched for people not yet followed.
DISCOVERY_SECONDS = 0.5
#: While the searches find nobody new, the square windows are searched only every this many rounds (the
#: whole frame still every round): they cost three searches a round on a 16:9 frame, and on a clip whose
#: people are all followed, or that has none (a top-down keyboard), they find nothing round after round. A
#: player only the windows can see who walks in is found within this many rounds instead of one.
QUIET_WINDOW_ROUNDS = 3
#: A followed person whose model sees nobody in their crop this long is let go (discovery can find them again).
LOSS_SECONDS = 0.4
#: A landmark counts towards a person's box when Pose's visibility for it is at least this.
VISIBLE = 0.5
#: The crop is the person's box grown by this fraction of its larger side on every side: room to move.
CROP_MARGIN = 0.35
#: A crop in which the person's own model finds nobody grows by this factor for the next frame, up to the whole
#: image. Pose can lose a small player in a crop that fits them closely, frame after frame: a drummer far back
#: (90-160 px tall at 640x360) in a crop of 130-210 px, whom a crop a third larger kept in every frame.
CROP_GROWTH = 1.3
#: The crop is moved only when the box leaves its inner part (this fraction of the margin) or changes size
#: by more than CROP_RESIZE: a crop that moves every frame would confuse the model's own tracking.
CROP_SLACK = 0.6
CROP_RESIZE = 0.3
#: Blacked-out area around a known person during discovery, as a fraction of their box's larger side.
MASK_MARGIN = 0.15
#: Two models whose landmarks lie this close on average (a fraction of the smaller box's larger side) follow
#: one person.
SAME_PERSON_DISTANCE = 0.15
#: A box whose centre moves this far in one frame (a fraction of its larger side) is another person.
JUMP_FRACTION = 0.5
#: A new person overlapping a followed one this much is that person seen again.
KNOWN_PERSON_OVERLAP = 0.3
#: ...or whose visible part lies this much inside a followed person's extent (every landmark).
WITHIN_KNOWN_EXTENT = 0.6
#: A person must show at least this many visible landmarks of MediaPipe's 33 to be followed.
MIN_VISIBLE_LANDMARKS = 8
#: Smallest width and height (pixels of the detection image) worth following: below this Pose only guesses.
MIN_BOX_PIXELS = 24

_NECK_PAIR = (11, 12)  # MediaPipe's shoulders; their midpoint is BODY_25's neck
_HIP_PAIR = (23, 24)
_ANCHOR = (0, 11, 12)  # nose and shoulders


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the detection image


def landmarks_array(result: Any) -> np.ndarray | None:
    """(33, 3) (x, y, visibility) from a Pose result, or None when it saw nobody."""
    landmarks = result.pose_landmarks
    if landmarks is None:
        return None
    return np.array([(p.x, p.y, p.visibility) for p in landmarks.landmark], np.float32)


def person_boxes(pixels: np.ndarray, width: int, height: int) -> tuple[Box, Box] | None:
    """Two boxes around a person ((33, 3) landmarks in pixels), both clipped to the image, or None when too few
    landmarks are visible to trust: the core (visible landmarks: what identifies them, and what is blacked
    out for the others) and the extent (every landmark: the crop the model needs; in a close-up only the face
    is 'visible', and a crop around the face alone is too small for the model to keep the person)."""
    visible = pixels[:, 2] >= VISIBLE
    if int(visible.sum()) < MIN_VISIBLE_LANDMARKS:
        return None
    core, extent = _bounds(pixels[visible], width, height), _bounds(pixels, width, height)
    if min(extent[2] - extent[0], extent[3] - extent[1]) < MIN_BOX_PIXELS:
        return None  # a sliver along the frame's edge: a guess, not a person
    return core, extent


def _bounds(points: np.ndarray, width: int, height: int) -> Box:
    x0, y0 = np.clip(points[:, :2].min(axis=0), 0, (width, height))
    x1, y1 = np.clip(points[:, :2].max(axis=0), 0, (width, height))
    return float(x0), float(y0), float(x1), float(y1)


def anchor(pixels: np.ndarray) -> np.ndarray:
    """The steadiest point of a person: the mean of nose and shoulders, which Pose places well in any view."""
    point: np.ndarray = pixels[list(_ANCHOR), :2].mean(axis=0)
    return point


def neck_in_frame(pixels: np.ndarray, width: int, height: int) -> bool:
    """Whether the shoulders' midpoint lies in the image: Pose invents whole people from forearms seen from
    above (the top-down piano clip), always with the neck outside the frame."""
    neck = pixels[list(_NECK_PAIR)]
    if neck[:, 2].min() <= 0:
        return False
    x, y = neck[:, :2].mean(axis=0)
    return bool(0 <= x < width and 0 <= y < height)


def upright(pixels: np.ndarray) -> bool:
    """Whether the person stands or sits the right way up: their shoulders' midpoint is not below their hips'
    by more than half the torso's length (the torso hanging down from the hips, more than 30 degrees below
    level). Pose finds an upside-down person in a close-up with no head in the frame (a drummer's torso and
    arms: the head placed between the hands, the hips at the top of the frame, the elbows taken for knees),
    whose wrists and neck would place a kit's strokes on the cymbals. Nobody plays upside down; a player
    lying down keeps a level torso."""
    shoulders = pixels[list(_NECK_PAIR), :2].mean(axis=0)
    hips = pixels[list(_HIP_PAIR), :2].mean(axis=0)
    return bool(shoulders[1] - hips[1] <= 0.5 * np.hypot(*(shoulders - hips)))


def overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(width * height / max(smaller, 1e-9))


def _side(box: Box) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def same_person(a: np.ndarray, b: np.ndarray, side: float) -> bool:
    """Whether two (33, 3) landmark sets in pixels are one person seen twice: close landmark by landmark,
    relative to `side`, the smaller of their boxes' larger sides."""
    both = (a[:, 2] >= VISIBLE) & (b[:, 2] >= VISIBLE)
    if both.sum() < MIN_VISIBLE_LANDMARKS:
        return False
    return float(np.linalg.norm(a[both, :2] - b[both, :2], axis=1).mean()) < SAME_PERSON_DISTANCE * side


def _jumped(before: np.ndarray, after: np.ndarray, box: Box) -> bool:
    """Whether a followed person's anchor moved further in one frame than a person can (box: their extent)."""
    return bool(np.linalg.norm(anchor(after) - anchor(before)) > JUMP_FRACTION * _side(box))


def _black_out(crop: np.ndarray, other: Box, own: Box, origin: tuple[int, int]) -> None:
    """Black out another person's box inside a crop, except where it overlaps the crop owner's own box."""
    ox, oy = origin
    height, width = crop.shape[:2]
    x0, y0 = max(0, int(other[0]) - ox), max(0, int(other[1]) - oy)
    x1, y1 = min(width, int(np.ceil(other[2])) - ox), min(height, int(np.ceil(other[3])) - oy)
    if x1 <= x0 or y1 <= y0:
        return
    keep = crop[max(0, int(own[1]) - oy):max(0, int(np.ceil(own[3])) - oy),
                max(0, int(own[0]) - ox):max(0, int(np.ceil(own[2])) - ox)].copy()
    crop[y0:y1, x0:x1] = 0
    crop[max(0, int(own[1]) - oy):max(0, int(own[1]) - oy) + keep.shape[0],
         max(0, int(own[0]) - ox):max(0, int(own[0]) - ox) + keep.shape[1]] = keep


def _windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Square windows of the frame's shorter side, overlapping by half, across its longer side."""
    side = min(width, height)
    length = max(width, height)
    if length < 1.5 * side:
        return []  # a near-square frame: a window would show the detector little that is new
    starts = sorted({*range(0, length - side, side // 2), length - side})
    return [(x, 0, x + side, height) if width >= height else (0, x, width, x + side) for x in starts]


def _inside(box: Box, container: Box) -> float:
    """The share of `box`'s area that lies inside `container`."""
    width = min(box[2], container[2]) - max(box[0], container[0])
    height = min(box[3], container[3]) - max(box[1], container[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return float(width * height / area) if width > 0 and height > 0 and area > 0 else 0.0


def _contains(box: Box, point: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def grow(box: Box, fraction: float, width: int, height: int, scale: float = 1.0) -> tuple[int, int, int, int]:
    """The box grown by `fraction` of its larger side on every side, then `scale` times as wide and high around
    its centre, clipped to the image, as integers."""
    pad = fraction * max(box[2] - box[0], box[3] - box[1])
    more_x, more_y = (scale - 1) * ((box[2] - box[0]) / 2 + pad), (scale - 1) * ((box[3] - box[1]) / 2 + pad)
    return (max(0, int(box[0] - pad - more_x)), max(0, int(box[1] - pad - more_y)),
            min(width, int(np.ceil(box[2] + pad + more_x))), min(height, int(np.ceil(box[3] + pad + more_y))))


@dataclass
class _Person:
    """One followed person: their own Pose model, the crop it is fed and their last box."""

    ident: int
    model: Any
    box: Box  # core: the visible landmarks
    extent: Box  # every landmark
    crop: tuple[int, int, int, int]
    last_seen: float
    frames: int = 0
    crop_scale: float = 1.0  # grown by CROP_GROWTH at every frame the model found nobody in the crop
    landmarks: np.ndarray | None = field(default=None)  # (33, 3) in image pixels this frame, or None
    anchor_pixels: np.ndarray | None = field(default=None)  # the landmarks when last seen

    def crop_needs_moving(self, width: int, height: int) -> bool:
        """Whether the box left the crop's inner part or changed size a lot since the crop was chosen."""
        inner = grow(self.extent, CROP_MARGIN * (1 - CROP_SLACK), width, height)
        x0, y0, x1, y1 = self.crop
        outside = inner[0] < x0 or inner[1] < y0 or inner[2] > x1 or inner[3] > y1
        crop_side = max(x1 - x0, y1 - y0)
        wanted_side = (max(self.extent[2] - self.extent[0], self.extent[3] - self.extent[1]) * (1 + 2 * CROP_MARGIN)
                       * self.crop_scale)
        return outside or abs(crop_side / max(wanted_side, 1.0) - 1) > CROP_RESIZE

    def move_crop(self, width: int, height: int) -> None:
        """The crop around the person's extent: room to move (CROP_MARGIN), times their crop_scale."""
        self.crop = grow(self.extent, CROP_MARGIN, width, height, self.crop_scale)

    def widen_crop(self, width: int, height: int) -> None:
        """After a frame in which the model found nobody in the crop: a larger one for the next (CROP_GROWTH)."""
        whole = max(width, height) / max(_side(self.extent) * (1 + 2 * CROP_MARGIN), 1.0)  # the image's longer side
        self.crop_scale = min(self.crop_scale * CROP_GROWTH, max(whole, 1.0))
        self.move_crop(width, height)


def mediapipe_package() -> Any:
    """The mediapipe package, imported without the sounddevice module its audio tasks import (they catch the
    ImportError): sounddevice's import looks for PortAudio by running gcc and ld on temp files in TMPDIR,
    which a pose worker stopped meanwhile (Ctrl-C while the workers start) left behind, and which costs every
    worker's start a few subprocesses. Nothing here records audio."""
    sys.modules.setdefault("sounddevice", None)  # type: ignore[arg-type]  # None: "not importable" to Python
    import mediapipe as mp

    return mp


def still_finder(min_detection_confidence: float) -> Any:
    """The Pose model that searches for people: in still-image mode, so it keeps nothing from one image to the
    next and one can serve range after range (a resident worker keeps it: it takes 0.15 s to make). Only the
    "full" Pose model (complexity 1) ships in the wheel; 0 and 2 would be downloaded at run time."""
    return mediapipe_package().solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                  min_detection_confidence=min_detection_confidence)


class PeopleDetector:
    """Finds and follows up to `max_people` people; `process(image, time)` gives their landmarks per frame."""

    def __init__(self, max_people: int, min_detection_confidence: float, min_tracking_confidence: float,
                 finder: Any = None) -> None:
        self._pose_class = mediapipe_package().solutions.pose.Pose
        self._max_people = max_people
        self._detection = min_detection_confidence
        self._tracking = min_tracking_confidence
        # `finder`: the caller's `still_finder`, kept from range to range; else one of its own, closed with it.
        self._own_finder = finder is None
        self._finder = still_finder(min_detection_confidence) if finder is None else finder
        self._people: list[_Person] = []
        self._next_ident = 0
        self._last_discovery = -np.inf
        self._quiet_rounds = 0  # discovery rounds in a row that found nobody new

    def close(self) -> None:
        for person in self._people:
            person.model.close()
        self._people.clear()
        if self._own_finder:
            self._finder.close()

    def __enter__(self) -> PeopleDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def process(self, image: np.ndarray, time: float) -> list[tuple[int, np.ndarray]]:
        """(id, (33, 3) landmarks normalised to the image) for every person seen in this frame."""
        height, width = image.shape[:2]
        for person in self._people:
            self._follow(person, image, time)
        self._forget_lost_and_doubles(time)
        if time - self._last_discovery >= DISCOVERY_SECONDS - 1e-6 and len(self._people) < self._max_people:
            found = self._discover(image, time, windows=self._quiet_rounds % QUIET_WINDOW_ROUNDS == 0)
            self._quiet_rounds = 0 if found else self._quiet_rounds + 1
            self._last_discovery = time
        scale = np.array([width, height, 1], np.float32)
        return [(p.ident, p.landmarks / scale) for p in self._people if p.landmarks is not None]

    def _follow(self, person: _Person, image: np.ndarray, time: float) -> None:
        """Run the person's own model on their crop, with every other person blacked out of it."""
        height, width = image.shape[:2]
        x0, y0, x1, y1 = person.crop
        crop = image[y0:y1, x0:x1].copy()
        for other in self._people:
            if other is not person:
                _black_out(crop, other.box, person.box, (x0, y0))
        landmarks = landmarks_array(person.model.process(crop))
        person.landmarks = None
        if landmarks is None:
            person.widen_crop(width, height)
            return
        pixels = landmarks * np.array([x1 - x0, y1 - y0, 1], np.float32) + np.array([x0, y0, 0], np.float32)
        boxes = person_boxes(pixels, width, height)
        if boxes is None:
            person.widen_crop(width, height)
            return
        if not upright(pixels):  # the model turned them over: not seen in this frame, lost if it goes on
            return
        # A jump means the model took someone else, or a shadow: it starts afresh.
        if person.anchor_pixels is not None and _jumped(person.anchor_pixels, pixels, person.extent):
            person.model.close()
            person.model = self._new_model()
            return
        person.landmarks, person.anchor_pixels, person.last_seen = pixels, pixels, time
        person.box, person.extent = boxes
        person.frames += 1
        if person.crop_needs_moving(width, height):
            person.move_crop(width, height)

    def _forget_lost_and_doubles(self, time: float) -> None:
        """Let go of people not seen for LOSS_SECONDS, and of the younger of two models following one person."""
        keep: list[_Person] = []
        for person in sorted(self._people, key=lambda p: -p.frames):
            lost = time - person.last_seen > LOSS_SECONDS
            double = person.landmarks is not None and any(
                other.landmarks is not None
                and same_person(person.landmarks, other.landmarks, min(_side(person.box), _side(other.box)))
                for other in keep)
            if lost or double:
                person.model.close()
            else:
                keep.append(person)
        self._people = sorted(keep, key=lambda p: p.ident)

    def _discover(self, image: np.ndarray, time: float, windows: bool = True) -> int:
        """Search the frame with every known person blacked out, again and again, for people not yet followed;
        then (`windows`) search square windows of it the same way, where the detector sees people twice as
        large (it misses a close-up face at the frame's scale and a small player far back alike). Returns how
        many people it started following."""
        height, width = image.shape[:2]
        masked = image.copy()
        boxes = [p.box for p in self._people]
        extents = [p.extent for p in self._people]
        for box in boxes:
            x0, y0, x1, y1 = grow(box, MASK_MARGIN, width, height)
            masked[y0:y1, x0:x1] = 0
        started = 0
        for window in [(0, 0, width, height), *(_windows(width, height) if windows else [])]:
            while len(self._people) < self._max_people:
                found = self._search(masked, window)
                if found is None:
                    break
                pixels, boxes_found = found
                if (boxes_found is None or not neck_in_frame(pixels, width, height) or not upright(pixels)
                        or self._known(boxes_found[0], anchor(pixels), boxes, extents)):
                    continue
                boxes.append(boxes_found[0])
                extents.append(boxes_found[1])
                self._start_following(*boxes_found, image, time)
                started += 1
        return started

    @staticmethod
    def _known(core: Box, head: np.ndarray, cores: list[Box], extents: list[Box]) -> bool:
        """Whether a detection is someone already followed: it overlaps their visible part, or its head and
        shoulders lie within their whole extent, or most of it does (a window search finds the torso or the
        instrument of a close-up player as another 'person')."""
        return any(overlap(core, other) > KNOWN_PERSON_OVERLAP for other in cores) or any(
            _inside(core, extent) > WITHIN_KNOWN_EXTENT or _contains(extent, head) for extent in extents)

    def _search(self, masked: np.ndarray, window: tuple[int, int, int, int]
                ) -> tuple[np.ndarray, tuple[Box, Box] | None] | None:
        """One detection in `window` of the masked frame, in frame pixels, with its boxes (None: too unsure);
        whatever it found is blacked out, so it is never found again. None when nothing (new) is found."""
        height, width = masked.shape[:2]
        x0, y0, x1, y1 = window
        view = masked[y0:y1, x0:x1]
        if not view.any():
            return None
        landmarks = landmarks_array(self._finder.process(np.ascontiguousarray(view)))
        if landmarks is None:
            return None
        pixels = landmarks * np.array([x1 - x0, y1 - y0, 1], np.float32) + np.array([x0, y0, 0], np.float32)
        found = person_boxes(pixels, width, height)
        inside = pixels[pixels[:, 2] > 0] if (pixels[:, 2] > 0).any() else pixels
        mx0, my0, mx1, my1 = grow(found[0] if found is not None else _bounds(inside, width, height), MASK_MARGIN,
                                  width, height)
        if mx1 <= mx0 or my1 <= my0 or not masked[my0:my1, mx0:mx1].any():
            return None  # nothing left to black out there: the search would find the same thing again
        masked[my0:my1, mx0:mx1] = 0
        return pixels, found

    def _new_model(self) -> Any:
        return self._pose_class(static_image_mode=False, model_complexity=1,
                                min_detection_confidence=self._detection, min_tracking_confidence=self._tracking)

    def _start_following(self, box: Box, extent: Box, image: np.ndarray, time: float) -> None:
        """A Pose model of the person's own, run on this frame already so they are not missing from it."""
        height, width = image.shape[:2]
        person = _Person(self._next_ident, self._new_model(), box, extent, grow(extent, CROP_MARGIN, width, height),
                         time)
        self._next_ident += 1
        self._people.append(person)
        self._follow(person, image, time)


def body25_frame(people: list[tuple[int, np.ndarray]], slots: int) -> tuple[np.ndarray, np.ndarray]:
    """One frame's people as fixed slots: (slots, 33, 3) landmarks and (slots,) ids, -1 where empty."""
    landmarks = np.zeros((slots, 33, 3), np.float32)
    ids = np.full(slots, -1, np.int32)
    for slot, (ident, points) in enumerate(people[:slots]):
        landmarks[slot], ids[slot] = points, ident
    return landmarks, ids
