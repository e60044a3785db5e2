"""Windows of a note track as token sequences: the one place training and generation build them.

A window [start, end) of a track becomes BOS + its events (vocabulary.encode order) + TIME_SHIFTs up to
exactly `end`; notes still sounding at `end` stay open (no NOTE_OFF), because the next window carries them.
A window primed up to `resume` is split there: the tokens before it are the prefix the previous window
already decided (teacher-forced, never trained on), the rest is what the model writes. Notes sounding at
`start` enter as NOTE_ONs at time 0 when the window is primed; an unprimed window leaves them out, since no
motion in it shows them starting.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..notes import Note
from .vocabulary import TIME_SHIFT, EventVocabulary

_FAR = 3600.0  # seconds: a note end far past any window, for notes that are still open


@dataclass
class WindowTokens:
    tokens: list[int]  # BOS first
    times: list[int]  # grid steps reached after each token, relative to the window start
    prefix: int  # tokens[:prefix] are the primed part (at least BOS)


def window_notes(notes: list[Note], start: float, end: float, primed: bool) -> list[Note]:
    """The notes of [start, end) relative to `start`; notes going past `end` get a far end (stay open)."""
    clipped = []
    for note in notes:
        if note.end <= start or note.start >= end or (not primed and note.start < start):
            continue
        note_end = note.end - start if note.end < end else _FAR
        clipped.append(Note(max(note.start - start, 0.0), note_end, note.pitch, note.velocity))
    return clipped


def split_time(tokens: list[int], vocabulary: EventVocabulary, at: int, end: int) -> tuple[list[int], list[int], int]:
    """Cut a token stream at grid steps `end`, splitting the TIME_SHIFT that crosses `at` there.

    Returns (tokens, times after each token, index of the first token at or after `at`).
    """
    out: list[int] = []
    times: list[int] = []
    now, split = 0, (0 if at <= 0 else None)

    def shift(steps: int) -> None:
        nonlocal now, split
        while steps > 0:
            size = min(steps, vocabulary.max_shift_steps)
            out.append(vocabulary.token(TIME_SHIFT, size))
            now += size
            times.append(now)
            steps -= size
            if split is None and now >= at:
                split = len(out)

    for token in tokens:
        kind, value = vocabulary.event(token)
        if kind == TIME_SHIFT and value is not None:
            target = min(now + value, end)
            if now < at < target:
                shift(at - now)
            shift(target - now)
            if now >= end:
                break
            continue
        out.append(token)
        times.append(now)
    if now < at:
        shift(at - now)
    shift(end - now)
    assert split is not None, f"the cut at step {at} lies past the end at {end}"
    return out, times, split


def encode_window(notes: list[Note], vocabulary: EventVocabulary, start: float, end: float,
                  resume: float | None = None) -> WindowTokens:
    """Tokens of the window [start, end) of one track (seconds on the track's clock).

    `resume` (start < resume <= end) primes the window: tokens before it form the prefix. Window bounds are
    snapped to the vocabulary's grid.
    """
    sps = vocabulary.steps_per_second
    start_step, end_step = round(start * sps), round(end * sps)
    resume_step = start_step if resume is None else round(resume * sps)
    primed = resume_step > start_step
    relative = window_notes(notes, start_step / sps, end_step / sps, primed)
    raw = vocabulary.encode(relative, bos=True, eos=False)
    tokens, times, split = split_time(raw[1:], vocabulary, resume_step - start_step, end_step - start_step)
    return WindowTokens([raw[0]] + tokens, [0] + times, 1 + split if primed else 1)
