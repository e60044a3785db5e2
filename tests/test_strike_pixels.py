"""The strike source's hands read from the pixels: drawn sticks hitting at known times (tests/drawn_drummer.py),
and the reversal rule on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from drawn_drummer import HAND, draw_drummer, drummer_keypoints

from foley_engine.instruments import get_instrument
from foley_engine.options import GeneratorOptions
from foley_engine.skeleton import BODY_INDEX, LEFT, RIGHT
from foley_engine.sources import SourceClip
from foley_engine.sources.hand_motion import pixel_impacts, without_repeats
from foley_engine.sources.strikes import StrikeSource, generate_strikes

#: Single strokes of either hand, then a roll of alternating hands 120 ms apart (each hand at about 4 Hz).
HITS = {RIGHT: [0.5, 1.1, 1.7, 2.30, 2.54, 2.78], LEFT: [0.8, 1.4, 2.0, 2.42, 2.66, 2.90]}
SECONDS = 3.3


def played(video: Path, size: tuple[int, int], instrument: str = "snare") -> list[tuple[float, int]]:
    clip = SourceClip(video, 0.0, SECONDS, drummer_keypoints(SECONDS, size), (get_instrument(instrument),))
    notes = StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda fraction, message: None)
    return [(note.start, note.pitch) for note in notes.takes[0].notes]


@pytest.mark.parametrize("size", [(640, 360), (1920, 1080)])
def test_sticks_that_hit_while_the_wrists_stay_put_are_heard_within_20_ms(tmp_path: Path,
                                                                          size: tuple[int, int]) -> None:
    """The stick's tip makes the stroke and the wrist moves a tenth as far (the shared snare clip's drummer):
    every hit is found from the pixels, at 640x360 as at 1080p (the frames are read at one hand scale);
    from the keypoints alone there is nothing to hear."""
    video = draw_drummer(tmp_path / "sticks.mp4", HITS, SECONDS, size)
    heard = played(video, size)
    wanted = sorted(HITS[RIGHT] + HITS[LEFT])
    assert len(heard) == len(wanted), heard
    assert max(abs(time - hit) for (time, _), hit in zip(heard, wanted, strict=True)) <= 0.02, heard
    assert {pitch for _, pitch in heard} == {get_instrument("snare").piece("snare")}
    assert generate_strikes(drummer_keypoints(SECONDS, size), (get_instrument("snare"),)).notes == []


def test_a_16_hz_roll_at_24_frames_a_second_stays_separate_hits(tmp_path: Path) -> None:
    """Hands alternating every 60 ms on a film-rate clip: each hand strikes every 2.9 frames, and every hit is
    heard once, within 30 ms."""
    roll = [0.5 + 0.06 * k for k in range(16)]
    video = draw_drummer(tmp_path / "roll.mp4", {RIGHT: roll[0::2], LEFT: roll[1::2]}, 2.0, rate=24)
    clip = SourceClip(video, 0.0, 2.0, drummer_keypoints(2.0), (get_instrument("snare"),))
    heard = [note.start for note in
             StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda f, m: None).takes[0].notes]
    assert len(heard) == len(roll) and max(abs(t - h) for t, h in zip(heard, roll, strict=True)) <= 0.03, heard


@pytest.mark.parametrize("shot_rate", [24, 20])
def test_frames_repeated_to_reach_the_delivery_rate_do_not_split_a_stroke(tmp_path: Path, shot_rate: int) -> None:
    """A 24 fps (or 20 fps) shot delivered at 30 fps by repeating frames, a repeat differing from its original
    only by grain: the stick stands still across a repeat, which looked like the stop of a stroke, and a
    downstroke spanning one was heard twice. Every hit once, within a shot frame's span of its time."""
    video = draw_drummer(tmp_path / "repeated.mp4", HITS, SECONDS, shot_rate=shot_rate)
    heard = [time for time, _ in played(video, (640, 360))]
    wanted = sorted(HITS[RIGHT] + HITS[LEFT])
    assert len(heard) == len(wanted), heard
    assert max(abs(time - hit) for time, hit in zip(heard, wanted, strict=True)) <= 1 / shot_rate, heard


def test_a_wrist_the_pose_moves_sideways_for_a_few_frames_does_not_hide_a_stroke(tmp_path: Path) -> None:
    """The pose puts the right wrist 1.5 hand lengths to one side for five frames around a stroke (a rendered
    tabla player seen from 30 degrees round: the near wrist). That is no arm stroke leaving the box the pixels
    are read in, which only a wrist travelling down as far is: the stroke is still heard from the pixels,
    once, within 20 ms (it was lost, and the pose's jump heard in its place)."""
    video = draw_drummer(tmp_path / "sticks.mp4", HITS, SECONDS)
    keypoints = drummer_keypoints(SECONDS)
    jump = slice(round(1.1 * 30) - 3, round(1.1 * 30) + 2)
    keypoints.body[0, jump, BODY_INDEX["right_wrist"], 0] += 1.5 * HAND * 360 / 640
    clip = SourceClip(video, 0.0, SECONDS, keypoints, (get_instrument("snare"),))
    heard = [note.start for note in
             StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda f, m: None).takes[0].notes]
    wanted = sorted(HITS[RIGHT] + HITS[LEFT])
    assert len(heard) == len(wanted) and max(abs(t - h) for t, h in zip(heard, wanted, strict=True)) <= 0.02, heard


def test_a_hand_held_camera_is_not_heard_as_strokes(tmp_path: Path) -> None:
    """The whole picture wanders and jitters (about 2 pixels a frame at 640x360, a hand length over the clip),
    and the keypoints with it: what moves every hand's neighbourhood is taken out, so the strokes are still
    heard where they are, with few extra hits (without it, nearly every jolt was a hit: 44 for 12 strokes)."""
    rng = np.random.default_rng(1)
    frames = round(SECONDS * 30)
    shake = 0.5 * np.cumsum(rng.normal(0, 0.15 * HAND, (frames, 2)), axis=0) + rng.normal(0, 0.1 * HAND, (frames, 2))
    camera = np.column_stack([shake, np.ones(frames)])
    video = draw_drummer(tmp_path / "hand-held.mp4", HITS, SECONDS, camera=camera)
    clip = SourceClip(video, 0.0, SECONDS, drummer_keypoints(SECONDS, camera=camera), (get_instrument("snare"),))
    heard = [note.start for note in
             StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda f, m: None).takes[0].notes]
    wanted = sorted(HITS[RIGHT] + HITS[LEFT])
    assert sum(min(abs(np.array(heard) - hit)) <= 0.02 for hit in wanted) >= len(wanted) - 1, heard
    assert len(heard) <= len(wanted) + 3, heard


def test_a_zoom_is_not_heard_as_strokes(tmp_path: Path) -> None:
    """The camera zooms in to twice the size over 1.6 s, then holds: near a hand a zoom moves everything the
    same way, which the ring around the box takes out; every stroke heard, and no stroke without one."""
    frames = round(SECONDS * 30)
    zoom = np.minimum(1.0 + np.arange(frames) / 48, 2.0)
    camera = np.column_stack([np.zeros((frames, 2)), zoom])
    for hits, wanted in ((HITS, sorted(HITS[RIGHT] + HITS[LEFT])), ({}, [])):
        video = draw_drummer(tmp_path / "zoom.mp4", hits, SECONDS, camera=camera)
        clip = SourceClip(video, 0.0, SECONDS, drummer_keypoints(SECONDS, camera=camera), (get_instrument("snare"),))
        heard = [note.start for note in
                 StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda f, m: None).takes[0].notes]
        assert len(heard) == len(wanted) and all(abs(t - h) <= 0.02 for t, h in zip(heard, wanted, strict=True))


def test_each_hand_keeps_its_own_drum(tmp_path: Path) -> None:
    """Hand drums give each hand its piece: the pixels near a wrist are that hand's, so the right hand's strokes
    are never heard as the left's too."""
    video = draw_drummer(tmp_path / "congas.mp4", HITS, SECONDS)
    congas = get_instrument("congas")
    by_pitch: dict[int, list[float]] = {}
    for time, pitch in played(video, (640, 360), "congas"):
        by_pitch.setdefault(pitch, []).append(time)
    assert np.allclose(by_pitch[congas.piece("open high conga")], HITS[RIGHT], atol=0.02)
    assert np.allclose(by_pitch[congas.piece("low conga")], HITS[LEFT], atol=0.02)


@pytest.mark.parametrize("lift", [1.2, 2.5])
def test_hands_that_strike_the_drum_themselves_are_heard_once(tmp_path: Path, lift: float) -> None:
    """A hand drum: no sticks, the hands on their forearms come down 1.2 or 2.5 hand lengths. A stroke that
    carries the wrist out of its box is timed by the keypoints (the box's flow turns round on the way down
    too, and was heard twice), a smaller one by either: every hit once, within 20 ms."""
    video = draw_drummer(tmp_path / "hands.mp4", HITS, SECONDS, lift=lift * HAND, hands=True)
    keypoints = drummer_keypoints(SECONDS, hits=HITS, lift=lift * HAND)
    clip = SourceClip(video, 0.0, SECONDS, keypoints, (get_instrument("congas"),))
    heard = sorted(note.start for note in
                   StrikeSource(GeneratorOptions(source="strikes")).play(clip, lambda f, m: None).takes[0].notes)
    wanted = sorted(HITS[RIGHT] + HITS[LEFT])
    assert len(heard) == len(wanted) and max(abs(t - h) for t, h in zip(heard, wanted, strict=True)) <= 0.02, heard


def test_sticks_at_rest_play_nothing(tmp_path: Path) -> None:
    """Only the encoder's noise moves: no hit."""
    video = draw_drummer(tmp_path / "rest.mp4", {}, 2.0)
    clip = SourceClip(video, 0.0, 2.0, drummer_keypoints(2.0), (get_instrument("drums"),))
    assert StrikeSource(GeneratorOptions(source="strikes")).play(clip, print).takes[0].notes == []


def test_a_hit_is_a_sharp_turn_from_down_to_up_timed_at_the_zero_crossing() -> None:
    times = np.arange(60) / 30.0
    down = np.zeros(60)
    down[[10, 11]], down[[12, 13]] = 2.0, -2.0  # a stroke ending between the pairs at 0.367 and 0.4 s
    down[[30, 31]], down[[32, 33]] = 3.0, -1.0
    found = pixel_impacts(times, down, swing=0.5, min_swing=0.05)
    assert [round(time, 4) for time, _ in found] == [round((11 + 0.5) / 30, 4), round((31 + 0.75) / 30, 4)]
    assert [strength for _, strength in found] == [4.0, 4.0]  # the change of speed: the impulse
    sway = np.sin(times * 2 * np.pi * 1.0)  # turning round smoothly: a hand's sway, a stroke's top
    assert pixel_impacts(times, sway, swing=0.5, min_swing=0.05) == []
    assert pixel_impacts(times, down * 0.01, swing=0.5, min_swing=0.05) == []  # below the least swing
    unseen = down.copy()
    unseen[12] = np.nan  # the wrist was lost at the hit: nothing is bridged
    assert [round(time, 4) for time, _ in pixel_impacts(times, unseen, swing=0.5, min_swing=0.05)] == \
        [round((31 + 0.75) / 30, 4)]


def test_a_stick_stopped_dead_is_a_hit_whether_or_not_its_stop_keeps_a_trace_of_motion() -> None:
    """The pair of frames after an impact may still move a little (0.02 where another view reads 0.00): the
    swing counts from the approach before it. A motion that slows over several frames is still no hit."""
    times = np.arange(60) / 30.0
    down = np.zeros(60)
    down[[10, 11]], down[[13, 14]] = 3.0, -1.0  # a loud stroke: it sets the threshold
    down[[30, 31, 32]] = 0.32, 0.02, -0.03  # a soft one, stopped dead, a trace left in the stop's pair
    down[[45, 46, 47, 48]] = 0.6, 0.3, 0.05, -0.06  # slowing over three frames, then turning
    found = pixel_impacts(times, down, swing=0.5, min_swing=0.05)
    assert [round(time, 4) for time, _ in found] == [round(12 / 30, 4), round((31 + 0.4) / 30, 4)]
    assert found[1][1] == pytest.approx(0.35)
    traceless = down.copy()
    traceless[31] = 0.0  # the same stroke read as a dead stop: found alike
    assert [round(time, 4) for time, _ in pixel_impacts(times, traceless, swing=0.5, min_swing=0.05)] == \
        [round(12 / 30, 4), round(31 / 30, 4)]


def test_a_repeated_frame_is_passed_over_and_a_still_clip_keeps_its_frames() -> None:
    """Shots of moving noise, every third one repeated under faint grain: the repeats go, every shot stays (the
    first frame too, never judged a repeat). A clip in which nothing moves changes by grain alone from frame to
    frame, so no frame stands out as a repeat and all are kept."""
    rng = np.random.default_rng(3)
    shots = [rng.integers(0, 255, (36, 64), dtype=np.uint8) for _ in range(8)]
    frames, repeats = [], []
    for index, shot in enumerate(shots):
        frames.append(shot)
        if index % 3 == 1:
            repeats.append(len(frames))
            grain = rng.integers(-1, 2, shot.shape)
            frames.append(np.clip(shot.astype(int) + grain, 0, 255).astype(np.uint8))
    kept = [time for time, _ in without_repeats((float(index), image) for index, image in enumerate(frames))]
    assert kept == [float(index) for index in range(len(frames)) if index not in repeats]
    still = [np.clip(shots[0].astype(int) + rng.integers(-2, 3, shots[0].shape), 0, 255).astype(np.uint8)
             for _ in range(10)]
    assert len(list(without_repeats((float(index), image) for index, image in enumerate(still)))) == 10
