"""From per-frame detections to performers on a fixed clock.

MediaPipe gives one body and a loose set of hands per frame. Here each hand is given to a performer and a side
(left/right), performer identity is kept from frame to frame, and the result is resampled to the fixed rate
the generators expect, without ever inventing a joint that no frame saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..skeleton import BODY_INDEX, LEFT, NUM_BODY_JOINTS, NUM_HAND_JOINTS, RIGHT

#: A hand belongs to a body wrist within this many shoulder widths of it.
WRIST_GATE_SHOULDERS = 1.0
#: A hand no wrist claimed still belongs to a body whose wrist is within this many shoulder widths.
REACH_GATE_SHOULDERS = 2.0
#: Two loose hands make one performer only within this many shoulder widths of each other (body in frame).
PAIR_GATE_SHOULDERS = 3.0
#: A hand continues a performer's hand from a previous frame within this many hand lengths of it...
CONTINUITY_GATE_HANDS = 1.0
#: ...and if that hand was last seen at most this long ago.
CONTINUITY_SECONDS = 0.5
#: Two detections whose landmarks lie this close on average (in hand lengths) are one hand seen twice.
DUPLICATE_GATE_HANDS = 0.5
#: A body with a new person id continues the performer whose neck was last seen this near (shoulder widths)...
RELINK_SHOULDERS = 1.5
#: ...and at most this long ago: a person lost behind another and found again, or a chunk border.
RELINK_SECONDS = 3.0
#: A performer seen for less than this (or this share of a shorter range) is a passing detection, not a player.
MIN_PERFORMER_SECONDS = 0.5
MIN_PERFORMER_SHARE = 0.2
#: Lower bound for the shoulder width and hand length used as yardsticks, as a fraction of the frame diagonal.
MIN_YARDSTICK = 0.02

_LEFT_WRIST, _RIGHT_WRIST = BODY_INDEX["left_wrist"], BODY_INDEX["right_wrist"]
_LEFT_SHOULDER, _RIGHT_SHOULDER = BODY_INDEX["left_shoulder"], BODY_INDEX["right_shoulder"]
_BODY_WRIST = {LEFT: _LEFT_WRIST, RIGHT: _RIGHT_WRIST}
_NECK = BODY_INDEX["neck"]


@dataclass
class _Track:
    """One performer while tracking: its joints per frame and where its body and hands were last seen."""

    frames: int
    has_body: bool = False
    body: np.ndarray = field(init=False)
    hands: np.ndarray = field(init=False)
    last_xy: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))  # pixels, per hand slot
    last_time: np.ndarray = field(default_factory=lambda: np.full(2, -np.inf))
    body_id: int = -1  # the worker's id of the person last seen as this performer's body
    neck_xy: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))  # pixels
    shoulder: float = 0.0  # pixels
    body_time: float = -np.inf

    def __post_init__(self) -> None:
        self.body = np.zeros((self.frames, NUM_BODY_JOINTS, 3), np.float32)
        self.hands = np.zeros((self.frames, 2, NUM_HAND_JOINTS, 3), np.float32)

    @property
    def last_seen(self) -> float:
        return float(max(self.last_time.max(), self.body_time))

    def mean_x(self) -> float:
        """Where the performer stands across the clip: the mean x of every joint seen (0 = image left)."""
        seen = np.concatenate([self.body.reshape(-1, 3), self.hands.reshape(-1, 3)])
        seen = seen[seen[:, 2] > 0]
        return float(seen[:, 0].mean()) if len(seen) else 0.5


def _greedy(candidates: list[tuple[float, int, tuple[int, int]]]) -> dict[int, tuple[int, int]]:
    """Match items to (track, slot) pairs, shortest distance first; each item and each pair used once."""
    matched: dict[int, tuple[int, int]] = {}
    for _, item, key in sorted(candidates, key=lambda c: c[0]):
        if item not in matched and key not in matched.values():
            matched[item] = key
    return matched


def _distinct_hands(points: dict[int, np.ndarray], length: dict[int, float], score: np.ndarray) -> list[int]:
    """Drop duplicate detections of one hand (MediaPipe's max_num_hands > 2 sometimes finds a hand twice).

    Judged by the longer of the two: a violinist's fingering hand, seen edge-on, was found once with its
    fingers foreshortened to half their length and once whole, their landmarks a quarter of the whole hand
    apart (half the short one's length), and the second detection became a second violinist."""
    kept: list[int] = []
    for h in sorted(points, key=lambda h: -score[h]):
        if all(np.linalg.norm(points[h] - points[k], axis=1).mean() > DUPLICATE_GATE_HANDS * max(length[h], length[k])
               for k in kept):
            kept.append(h)
    return sorted(kept)


def _left_is_image_left(xy: np.ndarray, label: np.ndarray) -> bool:
    """Whether, in this clip, the left hand is usually the one further left in the image.

    Decided from the frames where MediaPipe saw exactly two hands with different labels; used only to
    break ties when two hands get the same label. With no evidence, assume a first-person or top-down view.
    """
    votes = []
    for frame_xy, frame_label in zip(xy, label, strict=True):
        present = np.flatnonzero(frame_label >= 0)
        if len(present) == 2 and frame_label[present[0]] != frame_label[present[1]]:
            left, right = (present if frame_label[present[0]] == LEFT else present[::-1])
            votes.append(frame_xy[left, 0, 0] < frame_xy[right, 0, 0])
    return not votes or float(np.mean(votes)) >= 0.5


def assign_performers(
    times: np.ndarray,
    body: np.ndarray,
    body_id: np.ndarray,
    hand_xy: np.ndarray,
    hand_label: np.ndarray,
    hand_score: np.ndarray,
    frame_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Group each frame's bodies and hands into performers: (P, N, 25, 3) bodies, (P, N, 2, 21, 3) hands.

    body is (N, B, 25, 3) with the worker's person id of each slot in body_id (N, B). A body continues the
    performer its id belonged to; a body with a new id (a chunk border, a person lost and found again)
    continues the performer whose neck was last seen nearest, within RELINK_SHOULDERS shoulder widths and
    RELINK_SECONDS; otherwise it is a new performer. Two bodies of one frame are never one performer. A
    body's hands are the detected hands nearest its wrists. Hands far from every body wrist form further
    performers, a left and a right hand pairing up when close; with no body in the frame the hands go to the
    performer seen most recently. A hand near where a performer's hand was a moment ago stays with that
    performer and side even if MediaPipe's label flips, so identities stay stable. Performers are ordered
    left to right. Coordinates are normalised; distances are judged in pixels so that a non-square frame
    does not distort them.
    """
    tracker = _Tracker(times, frame_size, _left_is_image_left(hand_xy, hand_label))
    for n in range(len(times)):
        tracker.add_frame(n, body[n], body_id[n], hand_xy[n], hand_label[n], hand_score[n])
    return tracker.result()


class _Tracker:
    """Frame-by-frame assignment of bodies to performers and hands to (performer, side); see assign_performers."""

    def __init__(self, times: np.ndarray, frame_size: tuple[int, int], left_first: bool) -> None:
        self.times = times
        self.pixels = np.asarray(frame_size, np.float64)
        self.floor = MIN_YARDSTICK * float(np.hypot(*self.pixels))
        self.left_first = left_first
        self.tracks: list[_Track] = []

    def add_frame(self, n: int, body: np.ndarray, body_id: np.ndarray, xy: np.ndarray, label: np.ndarray,
                  score: np.ndarray) -> None:
        detected = [h for h in range(len(label)) if label[h] >= 0]
        points = {h: xy[h].astype(np.float64) * self.pixels for h in detected}
        length = {h: max(self.floor, float(np.max(np.linalg.norm(points[h] - points[h][0], axis=1)))) for h in detected}
        present = _distinct_hands(points, length, score)
        wrist = {h: points[h][0] for h in present}

        taken: dict[int, tuple[int, int]] = {}
        seen = [b for b in range(len(body_id)) if body_id[b] >= 0 and body[b, :, 2].max() > 0]
        shoulder = None
        if seen:
            shoulder = self._attach_bodies(n, body, body_id, seen, wrist, taken)
        self._continue_hands(n, wrist, length, taken)
        self._place_new_hands(wrist, label, score, shoulder, taken)

        for h, (t, side) in taken.items():
            track = self.tracks[t]
            track.hands[n, side, :, :2] = xy[h]
            track.hands[n, side, :, 2] = score[h] if score[h] > 0 else 1.0
            track.last_xy[side] = wrist[h]
            track.last_time[side] = self.times[n]

    def _attach_bodies(self, n: int, body: np.ndarray, body_id: np.ndarray, seen: list[int], wrist: dict,
                       taken: dict) -> float:
        """Give every body its performer, store it and give it the hands near its wrists; returns the
        median shoulder width of the bodies in the frame."""
        joints = {b: body[b, :, :2].astype(np.float64) * self.pixels for b in seen}
        shoulders = {b: max(self.floor, float(np.linalg.norm(joints[b][_LEFT_SHOULDER] - joints[b][_RIGHT_SHOULDER])))
                     for b in seen}
        performer = self._performers_of_bodies(n, body_id, seen, joints, shoulders, wrist)
        near, within_reach = [], []
        for b, t in performer.items():
            track = self.tracks[t]
            track.body[n] = body[b]
            track.has_body = True
            track.body_id, track.neck_xy, track.shoulder = int(body_id[b]), joints[b][_NECK], shoulders[b]
            track.body_time = float(self.times[n])
            for h in wrist:
                for side, joint in _BODY_WRIST.items():
                    distance = float(np.linalg.norm(wrist[h] - joints[b][joint]))
                    if distance <= WRIST_GATE_SHOULDERS * shoulders[b]:
                        near.append((distance, h, (t, side)))
                    if distance <= REACH_GATE_SHOULDERS * shoulders[b]:
                        within_reach.append((distance, h, (t, side)))
        taken.update(_greedy(near))
        # A hand no wrist claimed but within a body's reach is still that body's (Pose misplaces the wrists of
        # close-ups and of hands over instruments) unless that side is taken; it never forms a performer.
        taken.update(_greedy([c for c in within_reach if c[1] not in taken and c[2] not in taken.values()]))
        return float(np.median(list(shoulders.values())))

    def _performers_of_bodies(self, n: int, body_id: np.ndarray, seen: list[int], joints: dict, shoulders: dict,
                              wrist: dict) -> dict[int, int]:
        """Which performer each body of this frame is: same id, else the nearest recent one, else a new one."""
        now = float(self.times[n])
        performer: dict[int, int] = {}
        for b in seen:
            same = [t for t, track in enumerate(self.tracks)
                    if track.body_id == body_id[b] and now - track.body_time <= RELINK_SECONDS]
            if same:
                performer[b] = same[0]
        candidates = []
        for b in seen:
            if b in performer:
                continue
            for t, track in enumerate(self.tracks):
                if t in performer.values() or now - track.last_seen > RELINK_SECONDS:
                    continue
                if track.has_body:
                    distance = float(np.linalg.norm(joints[b][_NECK] - track.neck_xy))
                    gate = RELINK_SHOULDERS * max(shoulders[b], track.shoulder)
                else:  # a hands-only performer whose hand is at this body's wrist: the body was found late
                    distance = min((float(np.linalg.norm(track.last_xy[side] - joints[b][joint]))
                                    for side, joint in _BODY_WRIST.items()
                                    if now - track.last_time[side] <= CONTINUITY_SECONDS), default=math.inf)
                    gate = WRIST_GATE_SHOULDERS * shoulders[b]
                if distance <= gate:
                    candidates.append((distance, b, (t, 0)))
        performer.update({b: t for b, (t, _) in _greedy(candidates).items()})
        for b in seen:
            if b not in performer:
                self.tracks.append(_Track(len(self.times)))
                performer[b] = len(self.tracks) - 1
        return performer

    def _continue_hands(self, n: int, wrist: dict, length: dict, taken: dict) -> None:
        """A hand close to where some performer's hand just was is that hand, whatever its label says."""
        candidates = []
        for t, track in enumerate(self.tracks):
            for side in (LEFT, RIGHT):
                if (t, side) in taken.values() or self.times[n] - track.last_time[side] > CONTINUITY_SECONDS:
                    continue
                for h, point in wrist.items():
                    distance = float(np.linalg.norm(point - track.last_xy[side]))
                    if h not in taken and distance <= CONTINUITY_GATE_HANDS * length[h]:
                        candidates.append((distance, h, (t, side)))
        taken.update(_greedy(candidates))

    def _place_new_hands(self, wrist: dict, label: np.ndarray, score: np.ndarray, shoulder: float | None,
                         taken: dict) -> None:
        """Side from the label (x-order when two new hands share one); performer by recency, else a new one.

        With a body in the frame (shoulder given) new hands skip the performers with bodies, which already
        had their chance, and pair up only within PAIR_GATE_SHOULDERS of each other.
        """
        free = [h for h in wrist if h not in taken]
        side_of = {h: int(label[h]) for h in free}
        for side in (LEFT, RIGHT):
            same = [h for h in free if side_of[h] == side]
            if len(same) == 2 and len(free) == 2:
                ordered = sorted(same, key=lambda h: wrist[h][0], reverse=not self.left_first)
                side_of[ordered[0]], side_of[ordered[1]] = LEFT, RIGHT
        pair_gate = math.inf if shoulder is None else PAIR_GATE_SHOULDERS * shoulder
        for h in sorted(free, key=lambda h: -score[h]):
            recent_first = sorted(range(len(self.tracks)), key=lambda t: -self.tracks[t].last_seen)
            taken[h] = next(
                (
                    (t, side)
                    for t in recent_first if shoulder is None or not self.tracks[t].has_body
                    for side in (side_of[h], 1 - side_of[h])
                    if (t, side) not in taken.values() and self._pairs(t, side, wrist[h], wrist, taken, pair_gate)
                ),
                None,
            ) or self._new_track(side_of[h])

    @staticmethod
    def _pairs(t: int, side: int, point: np.ndarray, wrist: dict, taken: dict, gate: float) -> bool:
        """Whether a hand at `point` may join performer t: its other hand this frame, if any, is within `gate`."""
        partner = [h for h, key in taken.items() if key == (t, 1 - side)]
        return not partner or float(np.linalg.norm(point - wrist[partner[0]])) <= gate

    def _new_track(self, side: int) -> tuple[int, int]:
        self.tracks.append(_Track(len(self.times)))
        return len(self.tracks) - 1, side

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Performers seen long enough, left to right."""
        frames = len(self.times)
        minimum = min(MIN_PERFORMER_SECONDS, MIN_PERFORMER_SHARE * (self.times[-1] - self.times[0])) if frames else 0
        interval = float(np.median(np.diff(self.times))) if frames > 1 else 0.0
        kept = [t for t in self.tracks
                if (np.any(t.body[..., 2] > 0, axis=1) | np.any(t.hands[..., 2] > 0, axis=(1, 2))).sum() * interval
                >= minimum]
        tracks = sorted(kept, key=_Track.mean_x)
        body = np.array([t.body for t in tracks], np.float32).reshape(-1, frames, NUM_BODY_JOINTS, 3)
        hands = np.array([t.hands for t in tracks], np.float32).reshape(-1, frames, 2, NUM_HAND_JOINTS, 3)
        return body, hands


def sample_count(start: float, end: float, rate: float) -> int:
    """Number of samples k with start + k / rate < end."""
    return max(0, math.ceil((end - start) * rate - 1e-9))


def resample(times: np.ndarray, values: np.ndarray, start: float, end: float, rate: float) -> np.ndarray:
    """Resample (P, N, J, 3) joints at frame `times` to start + k / rate, k = 0.. while < end.

    Linear interpolation between the two frames around a sample when both saw the joint and lie at most
    two frame intervals apart; otherwise the nearest frame within half an interval if it saw the joint;
    otherwise missing (confidence 0). A joint is never bridged across a gap or invented.
    """
    count = sample_count(start, end, rate)
    out = np.zeros((values.shape[0], count, *values.shape[2:]), np.float32)
    if len(times) == 0 or count == 0 or values.shape[0] == 0:
        return out
    interval = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / rate
    slack = 1e-6
    targets = start + np.arange(count) / rate
    after = np.searchsorted(times, targets, side="right")  # first frame strictly after each target
    before = after - 1
    has_before, has_after = before >= 0, after < len(times)
    i0, i1 = np.clip(before, 0, len(times) - 1), np.clip(after, 0, len(times) - 1)
    t0, t1 = times[i0], times[i1]
    v0, v1 = values[:, i0], values[:, i1]  # (P, T, J, 3)
    seen0 = (v0[..., 2] > 0) & has_before[None, :, None]
    seen1 = (v1[..., 2] > 0) & has_after[None, :, None]

    span = np.where(has_before & has_after, t1 - t0, np.inf)
    weight = np.where(np.isfinite(span) & (span > 0), (targets - t0) / np.where(span > 0, span, 1), 0.0)
    close = (span <= 2 * interval + slack)[None, :, None]
    blend = seen0 & seen1 & close
    w = weight[None, :, None, None].astype(np.float32)
    out = np.where(blend[..., None], v0 * (1 - w) + v1 * w, out)

    near0 = seen0 & (np.abs(targets - t0) <= interval / 2 + slack)[None, :, None]
    near1 = seen1 & (np.abs(t1 - targets) <= interval / 2 + slack)[None, :, None]
    prefer1 = near1 & (~near0 | ((t1 - targets) < (targets - t0))[None, :, None])
    nearest = np.where(prefer1[..., None], v1, v0)
    use_nearest = ~blend & (near0 | near1)
    return np.where(use_nearest[..., None], nearest, out).astype(np.float32)
