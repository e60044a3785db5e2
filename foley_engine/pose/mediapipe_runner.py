"""MediaPipe details: the worker that runs Pose and Hands over a range, and the mapping to BODY_25.

The parent splits a range into one chunk per core and starts a worker on each. Each worker runs both models
on its chunk and decodes the video itself, which costs far less than shipping frames between processes.
Splitting by time rather than by model keeps the cores equally busy (Hands costs more than Pose) and scales
past two cores. Workers are started as `python -m`, not multiprocessing, so a caller's unguarded script is
never re-run, and MediaPipe's native log lines are captured instead of reaching the user's terminal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import numpy as np

from .. import video
from ..errors import FoleyError
from ..skeleton import BODY_INDEX, LEFT, NUM_BODY_JOINTS, NUM_HAND_JOINTS, RIGHT
from .bands import BandSampler
from .people import mediapipe_package, neck_in_frame
from .workers import SERVE_FLAG

if TYPE_CHECKING:
    from .extract import PoseSettings

#: MediaPipe Pose landmark index for each BODY_25 joint; the two derived joints are midpoints of a pair.
_MP_FOR_BODY25 = {
    "nose": 0, "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16, "left_shoulder": 11,
    "left_elbow": 13, "left_wrist": 15, "right_hip": 24, "right_knee": 26, "right_ankle": 28, "left_hip": 23,
    "left_knee": 25, "left_ankle": 27, "right_eye": 5, "left_eye": 2, "right_ear": 8, "left_ear": 7,
    "left_big_toe": 31, "left_heel": 29, "right_big_toe": 32, "right_heel": 30,
}
_MP_MIDPOINTS = {"neck": (11, 12), "mid_hip": (23, 24)}
_MP_WRISTS = [15, 16]
#: A wrist Pose gives at least this visibility is seen (what the strike source counts: StrikeSettings.confidence).
WRIST_SEEN = 0.5
# left_small_toe and right_small_toe have no MediaPipe landmark: they stay at confidence 0, never invented.

#: A pose counts as a body only if its neck lies in the frame and it is seen this long without a break.
#: Why: shown the top-down piano clip (forearms only), Pose "finds" a person whose face and shoulders lie
#: below the frame with visibility ~1.0 and whose ankles and toes are invented on the keyboard with
#: visibility ~0.7; a few frames (6.1 s, 6.9 s, 8.47-8.57 s) even put the shoulders inside the frame.
MIN_BODY_SECONDS = 0.3
#: Frames between two progress messages from a worker.
PROGRESS_EVERY = 10
#: Frames decoded ahead of the models (each 640 x 360 x 3 bytes): enough to ride out a slow frame.
PREFETCH_FRAMES = 4
#: Hands slots while one person and no more than two hands are seen (HandFinder).
FEW_HANDS = 2
#: How often the full count of hand slots looks for a third hand while two are tracked in two slots...
CHECK_SECONDS = 0.5
#: ...and how long it stays in use after it last saw more than two hands or more than one person.
MANY_HANDS_HOLD_SECONDS = 1.0

T = TypeVar("T")

Report = Callable[[int], None]  # called with the number of frames done so far


@dataclass
class RawDetections:
    """What MediaPipe saw in each decoded frame of a range, before performers are formed."""

    times: np.ndarray  # (N,) float64 seconds on the video clock
    body: np.ndarray  # (N, B, 25, 3) float32 BODY_25 (x, y, confidence) per person slot; confidence 0 = empty
    body_id: np.ndarray  # (N, B) int32: the worker's id of the person in each slot, -1 = empty slot
    hand_xy: np.ndarray  # (N, H, 21, 2) float32 hands in MediaPipe's order, normalised to the frame
    hand_label: np.ndarray  # (N, H) int8: skeleton.LEFT / skeleton.RIGHT of the performer, -1 = no hand
    hand_score: np.ndarray  # (N, H) float32 handedness score
    band_times: np.ndarray  # (M,) float64 every decoded frame's time (M >= N: the models may skip frames)
    band: np.ndarray  # (M, W) uint8 the BandSampler's samples of each frame; W = 0 when none was asked for

    @classmethod
    def concatenate(cls, parts: list[RawDetections]) -> RawDetections:
        """Join the chunks of consecutive sub-ranges, in order."""
        return cls(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in dataclasses.fields(cls)))


def body25_from_mediapipe(landmarks: np.ndarray) -> np.ndarray:
    """(N, 33, 3) MediaPipe (x, y, visibility) -> (N, 25, 3) BODY_25; derived joints take the lower confidence."""
    body = np.zeros((landmarks.shape[0], NUM_BODY_JOINTS, 3), np.float32)
    for name, index in _MP_FOR_BODY25.items():
        body[:, BODY_INDEX[name]] = landmarks[:, index]
    for name, (a, b) in _MP_MIDPOINTS.items():
        joint = BODY_INDEX[name]
        body[:, joint, :2] = (landmarks[:, a, :2] + landmarks[:, b, :2]) / 2
        body[:, joint, 2] = np.minimum(landmarks[:, a, 2], landmarks[:, b, 2])
    return body


def drop_ghost_bodies(times: np.ndarray, body: np.ndarray, body_id: np.ndarray) -> np.ndarray:
    """Zero the hallucinated bodies: a neck outside the frame, or a person seen only in a short burst.

    body is (N, B, 25, 3) with the worker's person id of each slot in body_id (N, B); a burst is a run of
    frames in which one id is seen without a break.
    """
    neck = body[:, :, BODY_INDEX["neck"]]
    inside = (body_id >= 0) & (neck[..., 2] > 0) & np.all((neck[..., :2] >= 0) & (neck[..., :2] <= 1), axis=-1)
    keep = inside.copy()
    for ident in np.unique(body_id[body_id >= 0]):
        frames, slots = np.nonzero((body_id == ident) & inside)
        breaks = np.flatnonzero(np.diff(frames) > 1) + 1
        for run_frames, run_slots in zip(np.split(frames, breaks), np.split(slots, breaks), strict=True):
            if len(run_frames) and times[run_frames[-1]] - times[run_frames[0]] < MIN_BODY_SECONDS:
                keep[run_frames, run_slots] = False
    cleaned = body.copy()
    cleaned[~keep] = 0
    return cleaned


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: `python -m foley_engine.pose.mediapipe_runner VIDEO START END SETTINGS_JSON OUT.npz
    [BAND.npz] [--serve]`.

    Runs Pose and Hands over the range and saves the per-frame detections to OUT.npz, with each frame's row of
    the BandSampler saved in BAND.npz when one is given (bands.py). Stdout carries JSON lines for the parent
    ({"progress": frames}, {"done": true} once OUT.npz is saved, or {"error": class name, "message": text});
    whatever MediaPipe's native code prints is sent to stderr, which the parent keeps for crash reports.
    With --serve the process stays (workers.py): each further line of stdin is a JSON list of the same
    arguments, and it leaves when stdin closes or a chunk fails.
    """
    global _FINDERS
    _without_pyplot()
    args = list(argv if argv is not None else sys.argv[1:])
    serve = SERVE_FLAG in args
    if serve:
        args.remove(SERVE_FLAG)
        _FINDERS = {}
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")

    while True:
        code = _run_chunk(args, send)
        if code != 0 or not serve:
            return code
        line = sys.stdin.readline()
        if not line:
            return 0  # the parent closed stdin, or is gone
        args = json.loads(line)


def _without_pyplot() -> None:
    """Importing mediapipe imports its drawing helpers, and they import matplotlib.pyplot (34 MB and half a second
    in each worker) for a 3-D plot a worker never draws: in a worker process an empty module stands in for it."""
    if "matplotlib.pyplot" not in sys.modules:
        sys.modules["matplotlib.pyplot"] = types.ModuleType("matplotlib.pyplot")


def _run_chunk(args: list[str], send: Callable[[dict], None]) -> int:
    """One chunk of main(): 0 when its detections are saved, 2 when it failed (and said why on stdout)."""
    path, start, end, settings_json, out, *band_file = args
    try:
        from .extract import PoseSettings

        settings = PoseSettings(**json.loads(settings_json))
        band = BandSampler.load(band_file[0]) if band_file else None
        with contextlib.ExitStack() as stack:
            rows = stack.enter_context(rows_file(out).open("wb")) if band is not None else None
            result = detect(path, float(start), float(end), settings, lambda frames: send({"progress": frames}),
                            band, rows)
        np.savez(out, **dataclasses.asdict(result))
    except FoleyError as exc:
        send({"error": type(exc).__name__, "message": str(exc)})
        return 2
    except Exception as exc:  # noqa: BLE001 - anything else goes to the parent: one line, and the traceback
        send({"error": "RuntimeError", "message": f"{type(exc).__name__}: {exc}".splitlines()[0],
              "detail": traceback.format_exc()})
        return 2
    send({"done": True})
    return 0


#: The still-image Pose models a serving worker keeps from chunk to chunk, by detection confidence; None in a
#: worker that tracks one chunk.
_FINDERS: dict[float, Any] | None = None


def _kept_finder(confidence: float) -> Any:
    """The kept finder for `confidence` in a serving worker (made on first use), else None (PeopleDetector then
    makes one of its own)."""
    if _FINDERS is None:
        return None
    if confidence not in _FINDERS:
        from .people import still_finder

        _FINDERS[confidence] = still_finder(confidence)
    return _FINDERS[confidence]


def rows_file(out: str | Path) -> Path:
    """Where a worker writing its detections to `out` writes the band's rows, frame after frame (raw uint8)."""
    return Path(out).with_suffix(".rows")


def detect(path: str | Path, start: float, end: float, settings: PoseSettings, report: Report,
           band: BandSampler | None = None, rows_to: BinaryIO | None = None) -> RawDetections:
    """Follow every person (people.py; unless `settings.bodies` is off) and run Hands over the whole frame, on
    every `settings.model_every`-th frame of [start, end); and sample `band` on every frame (rows of width 0
    for a frame it was not made for, or without one). With `rows_to`, the rows are written there as they come
    instead (the band is then of width 0 here): a 5-minute chunk's rows are 64 MB that the worker need not hold
    while it tracks, and both workers would hold them at the same moment, the pose stage's peak.

    Frames are decoded (and the band sampled) in a thread of their own (`prefetched`): FFmpeg and OpenCV
    release the GIL, so decoding overlaps the models instead of adding to them."""
    from .people import PeopleDetector, body25_frame

    people, slots = settings.max_people, settings.max_hands
    info = video.probe(path)
    capacity = int((end - start) * float(info.frame_rate)) + 2
    table, decoded = _FrameTable(capacity // settings.model_every + 2), _FrameTable(capacity)
    finder = PeopleDetector(people, settings.min_detection_confidence, settings.min_tracking_confidence,
                            _kept_finder(settings.min_detection_confidence)) if settings.bodies else None
    frames = ((frame, band.sample(frame.image) if band is not None else None)
              for frame in video.iter_frames(path, start, end, settings.max_size))
    every_row = band is not None
    with finder or contextlib.nullcontext(), HandFinder(settings) as hands:
        for count, (frame, row) in enumerate(prefetched(frames), start=1):
            every_row = every_row and row is not None
            decoded.add(times=np.array(frame.time, np.float64),
                        **({"rows": row} if every_row and row is not None and rows_to is None else {}))
            if every_row and row is not None and rows_to is not None:
                rows_to.write(row.tobytes())
            if count % PROGRESS_EVERY == 0:
                report(count)
            if (count - 1) % settings.model_every:
                continue
            found = finder.process(frame.image, frame.time) if finder is not None else []
            landmarks, frame_ids = body25_frame(found, people)
            if settings.hands == "where wrists unseen" and _wrists_seen(found):
                xy, label, score = hands_frame(None, slots)
            else:
                xy, label, score = hands_frame(hands.process(frame.image, frame.time, len(found)), slots)
            table.add(times=np.array(frame.time, np.float64), bodies=landmarks, ids=frame_ids, xys=xy, labels=label,
                      scores=score)
    band_times = decoded.column("times", (), np.float64)
    return RawDetections(
        times=table.column("times", (), np.float64),
        body=body25_from_mediapipe(table.column("bodies", (people, 33, 3), np.float32).reshape(-1, 33, 3)
                                   ).reshape(-1, people, 25, 3),
        body_id=table.column("ids", (people,), np.int32),
        hand_xy=table.column("xys", (slots, NUM_HAND_JOINTS, 2), np.float32),
        hand_label=table.column("labels", (slots,), np.int8),
        hand_score=table.column("scores", (slots,), np.float32),
        band_times=band_times,
        band=decoded.column("rows", (-1,), np.uint8) if every_row and len(band_times) and rows_to is None
        else np.zeros((len(band_times), 0), np.uint8),
    )


class _FrameTable:
    """Per-frame results written into arrays made for the expected frame count (grown by half if a range holds
    more): a frame's results cost their bytes only, and no copy is made at the end. A 5-minute chunk's band
    rows are 64 MB; as a list of arrays, joined at the end, they took twice that at the worker's peak."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.count = max(1, capacity), 0
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, **values: np.ndarray) -> None:
        if self.count == self.capacity:
            self.capacity += self.capacity // 2 + 1
            self.arrays = {name: _grown(array, self.capacity) for name, array in self.arrays.items()}
        for name, value in values.items():
            if name not in self.arrays:
                self.arrays[name] = np.empty((self.capacity, *np.shape(value)), np.asarray(value).dtype)
            self.arrays[name][self.count] = value
        self.count += 1

    def column(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """The frames' values of `name`, as (frames, *shape) of `dtype` (empty when no frame had any)."""
        if name not in self.arrays:
            return np.zeros((self.count, *(0 if size < 0 else size for size in shape)), dtype)
        return self.arrays[name][:self.count].astype(dtype, copy=False).reshape(self.count, *shape)


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    grown = np.empty((capacity, *array.shape[1:]), array.dtype)
    grown[:len(array)] = array
    return grown


def prefetched(items: Iterator[T], depth: int = PREFETCH_FRAMES) -> Iterator[T]:
    """`items`, produced by a thread of its own up to `depth` ahead of the consumer. The producer's exception
    is raised in the consumer at the item where it happened; a consumer that stops early stops the producer
    and closes `items` (the video file) before this generator is done closing."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="foley-decode", daemon=True)
    thread.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()


class HandFinder:
    """MediaPipe Hands at the count of hands in view: `settings.max_hands` slots only when more than two hands
    or more than one person are seen, else two.

    Why: in video mode Hands runs its palm detector on every frame on which it tracks fewer hands than its
    max_num_hands. A pianist's two hands in four slots therefore cost a palm detection per frame; in two slots
    they are only tracked (bench/pose_profile.py: about 30% of the Hands time). While two slots are in use
    and both are taken, the full count looks once every CHECK_SECONDS for a third hand; with fewer than two
    hands tracked the palm detector runs anyway and would find one. The output keeps `max_hands` slots."""

    def __init__(self, settings: PoseSettings) -> None:
        self._settings = settings
        self._few = min(FEW_HANDS, settings.max_hands)
        self._models: dict[int, Any] = {}
        self._many_until = -np.inf  # the full count is used until this time
        self._last_check = -np.inf

    def _model(self, slots: int) -> Any:
        if slots not in self._models:
            self._models[slots] = mediapipe_package().solutions.hands.Hands(
                static_image_mode=False, max_num_hands=slots, model_complexity=self._settings.model_complexity,
                min_detection_confidence=self._settings.min_detection_confidence,
                min_tracking_confidence=self._settings.min_tracking_confidence)
        return self._models[slots]

    def process(self, image: np.ndarray, time: float, people: int) -> Any:
        """Hands' result for this frame; `people` is how many people are followed in it."""
        many = self._settings.max_hands
        if people > 1:
            self._many_until = time + MANY_HANDS_HOLD_SECONDS
        if many > self._few and time < self._many_until:
            found = self._model(many).process(image)
            if _count(found) > self._few:
                self._many_until = time + MANY_HANDS_HOLD_SECONDS
            return found
        found = self._model(self._few).process(image)
        if many > self._few and _count(found) >= self._few and time - self._last_check >= CHECK_SECONDS - 1e-6:
            self._last_check = time
            more = self._model(many).process(image)
            if _count(more) > self._few:
                self._many_until = time + MANY_HANDS_HOLD_SECONDS
                return more
        return found

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()

    def __enter__(self) -> HandFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _count(found: Any) -> int:
    return len(found.multi_hand_landmarks or [])


def _wrists_seen(people: list[tuple[int, np.ndarray]]) -> bool:
    """Whether someone was followed in this frame and Pose sees both wrists of everyone followed (visibility as
    the strike source counts a joint seen), each with their neck in the frame (drop_ghost_bodies drops the
    others later): then Hands has nothing to add for a source that needs only wrists."""
    return bool(people) and all(bool((points[_MP_WRISTS, 2] >= WRIST_SEEN).all()) and neck_in_frame(points, 1, 1)
                                for _, points in people)


def hands_frame(found: Any, slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's hands in `slots` fixed slots: (slots, 21, 2) xy, (slots,) side labels, (slots,) scores; all
    empty for `found` None (Hands was not run).

    MediaPipe Hands can return more hands than its max_num_hands (seen with two players in frame, where it
    returned five for four slots): the most confident ones are kept, never an index past the array.
    """
    xy = np.zeros((slots, NUM_HAND_JOINTS, 2), np.float32)
    label = np.full(slots, -1, np.int8)
    score = np.zeros(slots, np.float32)
    if found is None:
        return xy, label, score
    detected = list(zip(found.multi_hand_landmarks or [], found.multi_handedness or [], strict=False))
    detected.sort(key=lambda pair: -pair[1].classification[0].score)
    for slot, (hand, handedness) in enumerate(detected[:slots]):
        xy[slot] = [(p.x, p.y) for p in hand.landmark]
        category = handedness.classification[0]
        # MediaPipe labels hands as if the image were mirrored (selfie); ordinary video is not, so
        # its "Left" is the performer's right hand. Checked on the shared top-down piano clip (hands
        # enter from the bottom, so the pianist's left hand plays the bass on the image's left): in
        # all 1116 frames with two hands, the image-left hand came out "Right", the other "Left".
        label[slot] = RIGHT if category.label == "Left" else LEFT
        score[slot] = category.score
    return xy, label, score


if __name__ == "__main__":
    sys.exit(main())
