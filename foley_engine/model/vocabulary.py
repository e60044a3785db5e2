"""The MIDI event vocabulary: notes <-> token sequences, shared by the MIDI writer and the learned model.

Foley Music's performance representation (after Oore et al., "This time with feeling"): NOTE_ON / NOTE_OFF per
pitch, TIME_SHIFT in 10 ms steps up to 1 s, VELOCITY in 32 bins that apply to the following note-ons, plus PAD,
BOS and EOS. Keeping the encoder, the decoder and the generation grammar in one module means the model is
trained on exactly the language its sampler is constrained to and its output is decoded by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal

import numpy as np

from ..instruments import Instrument
from ..notes import Note

NUM_PITCHES = 128

EventKind = Literal["pad", "bos", "eos", "note_on", "note_off", "time_shift", "velocity"]
PAD: Final = "pad"
BOS: Final = "bos"
EOS: Final = "eos"
NOTE_ON: Final = "note_on"
NOTE_OFF: Final = "note_off"
TIME_SHIFT: Final = "time_shift"
VELOCITY: Final = "velocity"
KINDS: tuple[EventKind, ...] = (PAD, BOS, EOS, NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY)

#: Fixed ids of the special tokens (PAD is 0 so it can double as an embedding's padding_idx).
PAD_TOKEN, BOS_TOKEN, EOS_TOKEN = 0, 1, 2


@dataclass(frozen=True)
class EventVocabulary:
    """Token layout, in this order (ids for the defaults):

    ==========  ===========  ====================================================
    0           PAD          padding; never generated
    1           BOS          start of sequence
    2           EOS          end of sequence
    3..130      NOTE_ON      pitch 0..127 starts, at the current velocity
    131..258    NOTE_OFF     pitch 0..127 ends
    259..358    TIME_SHIFT   advance 1..100 steps of 10 ms (10 ms .. 1 s)
    359..390    VELOCITY     bin 0..31; note-ons after it get the bin centre
    ==========  ===========  ====================================================

    size = 391. Longer gaps are several TIME_SHIFTs, the largest first.
    """

    steps_per_second: int = 100  # time grid: 100 -> 10 ms steps
    max_shift_steps: int = 100  # largest single TIME_SHIFT, in steps
    velocity_bins: int = 32

    def __post_init__(self) -> None:
        if self.steps_per_second < 1 or self.max_shift_steps < 1:
            raise ValueError("steps_per_second and max_shift_steps must be positive")
        if not 1 <= self.velocity_bins <= 64:  # bins at least 2 velocities wide keep every bin centre >= 1
            raise ValueError(f"velocity_bins must be 1..64, got {self.velocity_bins}")

    # --- layout (cached: generation reads these for every token) ------------------------------------------
    @property
    def note_on_offset(self) -> int:
        return 3

    @cached_property
    def note_off_offset(self) -> int:
        return self.note_on_offset + NUM_PITCHES

    @cached_property
    def time_shift_offset(self) -> int:
        return self.note_off_offset + NUM_PITCHES

    @cached_property
    def velocity_offset(self) -> int:
        return self.time_shift_offset + self.max_shift_steps

    @cached_property
    def size(self) -> int:
        return self.velocity_offset + self.velocity_bins

    def token(self, kind: EventKind, value: int | None = None) -> int:
        """The id of one event; `value` is a pitch, a number of steps (1-based) or a velocity bin."""
        if kind in (PAD, BOS, EOS):
            if value is not None:
                raise ValueError(f"{kind} takes no value")
            return {PAD: PAD_TOKEN, BOS: BOS_TOKEN, EOS: EOS_TOKEN}[kind]
        limits = {NOTE_ON: (0, NUM_PITCHES - 1, self.note_on_offset),
                  NOTE_OFF: (0, NUM_PITCHES - 1, self.note_off_offset),
                  TIME_SHIFT: (1, self.max_shift_steps, self.time_shift_offset - 1),
                  VELOCITY: (0, self.velocity_bins - 1, self.velocity_offset)}
        if kind not in limits:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {', '.join(KINDS)}")
        low, high, base = limits[kind]
        if value is None or not low <= value <= high:
            raise ValueError(f"{kind} value must be {low}..{high}, got {value}")
        return base + value

    def event(self, token: int) -> tuple[EventKind, int | None]:
        """(kind, value) of a token id, the inverse of token()."""
        token = int(token)
        if not 0 <= token < self.size:
            raise ValueError(f"token {token} outside vocabulary of size {self.size}")
        if token < self.note_on_offset:
            return (PAD, BOS, EOS)[token], None
        if token < self.note_off_offset:
            return NOTE_ON, token - self.note_on_offset
        if token < self.time_shift_offset:
            return NOTE_OFF, token - self.note_off_offset
        if token < self.velocity_offset:
            return TIME_SHIFT, token - self.time_shift_offset + 1
        return VELOCITY, token - self.velocity_offset

    def describe(self, token: int) -> str:
        """Readable form for logs and debugging, e.g. "note_on:60", "time_shift:25" (steps), "eos"."""
        kind, value = self.event(token)
        return kind if value is None else f"{kind}:{value}"

    # --- quantisation ------------------------------------------------------------------------------------
    def velocity_bin(self, velocity: int) -> int:
        """Bin of a MIDI velocity 1..127 (bins split 0..127 evenly)."""
        return min(self.velocity_bins - 1, velocity * self.velocity_bins // 128)

    def bin_velocity(self, velocity_bin: int) -> int:
        """The velocity a bin decodes to: its centre (for 32 bins: 2, 6, ..., 126)."""
        return int((velocity_bin + 0.5) * 128 / self.velocity_bins)

    def quantise(self, notes: Iterable[Note]) -> list[Note]:
        """What encode() can represent: decode(encode(notes)) == quantise(notes), sorted.

        Times snap to the nearest grid step and velocities to their bin centre; a note never shrinks below one
        step. Where a note of the same pitch starts while another still sounds, the earlier one is cut there
        (at equal starts the shorter one disappears), because one pitch can only sound once per track.
        """
        sps = self.steps_per_second
        return [Note(start / sps, end / sps, pitch, velocity)
                for start, end, pitch, velocity in self._grid_notes(notes)]

    def _grid_notes(self, notes: Iterable[Note]) -> list[tuple[int, int, int, int]]:
        """quantise() in grid steps: sorted (start, end, pitch, velocity) tuples."""
        sps = self.steps_per_second
        snapped = []
        for note in notes:
            start = round(note.start * sps)
            velocity = self.bin_velocity(self.velocity_bin(note.velocity))
            snapped.append((start, max(round(note.end * sps), start + 1), note.pitch, velocity))
        snapped.sort()
        result: list[tuple[int, int, int, int]] = []
        latest: dict[int, int] = {}  # pitch -> index in result of its latest note
        for start, end, pitch, velocity in snapped:
            previous = latest.get(pitch)
            if previous is not None and result[previous][1] > start:
                result[previous] = (result[previous][0], start, pitch, result[previous][3])
            latest[pitch] = len(result)
            result.append((start, end, pitch, velocity))
        return sorted(note for note in result if note[1] > note[0])

    # --- encoding ----------------------------------------------------------------------------------------
    def encode(self, notes: Iterable[Note], *, bos: bool = True, eos: bool = True) -> list[int]:
        """Tokens of one track's notes (quantised first, see quantise()).

        Events at the same step come in a fixed order: note-offs by ascending pitch, then note-ons by
        ascending pitch, each note-on preceded by a VELOCITY token only when its bin differs from the last.
        """
        events: list[tuple[int, int, int, int]] = []  # (step, 0 = off / 1 = on, pitch, velocity bin)
        for start, end, pitch, velocity in self._grid_notes(notes):
            events.append((end, 0, pitch, 0))
            events.append((start, 1, pitch, self.velocity_bin(velocity)))
        events.sort()
        tokens = [BOS_TOKEN] if bos else []
        now, current_bin = 0, None
        for step, is_on, pitch, velocity_bin in events:
            while step > now:
                shift = min(step - now, self.max_shift_steps)
                tokens.append(self.time_shift_offset + shift - 1)
                now += shift
            if is_on:
                if velocity_bin != current_bin:
                    tokens.append(self.velocity_offset + velocity_bin)
                    current_bin = velocity_bin
                tokens.append(self.note_on_offset + pitch)
            else:
                tokens.append(self.note_off_offset + pitch)
        if eos:
            tokens.append(EOS_TOKEN)
        return tokens

    def decode(self, tokens: Iterable[int], *, duration: float | None = None) -> list[Note]:
        """Notes of a token sequence, sorted; accepts anything a model may emit.

        PAD and BOS are skipped and EOS ends the sequence. A NOTE_OFF for a pitch that is not sounding is
        ignored; a NOTE_ON for a pitch that is sounding ends the old note there and starts a new one. Note-ons
        before any VELOCITY token get the bin of velocity 64. Notes still sounding at the end are closed at
        `duration` seconds if given, else at the time the sequence reached. Notes of zero (or negative)
        length are dropped. Token ids outside the vocabulary raise ValueError.
        """
        sps = self.steps_per_second
        now = 0
        velocity = self.bin_velocity(self.velocity_bin(64))
        sounding: dict[int, tuple[int, int]] = {}  # pitch -> (start step, velocity)
        notes: list[Note] = []
        for token in tokens:
            kind, value = self.event(token)
            if kind == EOS:
                break
            if value is None:  # pad, bos: no event
                continue
            if kind == TIME_SHIFT:
                now += value
            elif kind == VELOCITY:
                velocity = self.bin_velocity(value)
            elif kind in (NOTE_ON, NOTE_OFF):
                if value in sounding:
                    start, note_velocity = sounding.pop(value)
                    if now > start:
                        notes.append(Note(start / sps, now / sps, value, note_velocity))
                if kind == NOTE_ON:
                    sounding[value] = (now, velocity)
        end = now / sps if duration is None else duration
        for pitch, (start, note_velocity) in sounding.items():
            if end > start / sps:
                notes.append(Note(start / sps, end, pitch, note_velocity))
        return sorted(notes)


#: The vocabulary Foley uses unless a model checkpoint says otherwise.
VOCABULARY = EventVocabulary()


class GrammarState:
    """Which tokens may come next while a model generates one track, for masking its logits.

    The state starts right after BOS. Allowed: NOTE_ON for pitches inside the instrument's range that are not
    sounding, while fewer than max_polyphony sound; NOTE_OFF only for sounding pitches; any TIME_SHIFT; a
    VELOCITY token unless the previous token was one or it repeats the current bin (the encoder never emits
    either); EOS. PAD and BOS never -- except that after EOS only PAD is allowed, so finished sequences in a
    batch can keep stepping.
    """

    def __init__(self, vocabulary: EventVocabulary, instrument: Instrument) -> None:
        self.vocabulary = vocabulary
        self.instrument = instrument
        self.step = 0  # current time in grid steps
        self.sounding = np.zeros(NUM_PITCHES, dtype=bool)
        self.velocity_bin: int | None = None
        self.finished = False
        self._after_velocity = False
        self._in_range = np.zeros(NUM_PITCHES, dtype=bool)
        if instrument.pieces:  # percussion: only its pieces' keys (a drum key between them is another sound)
            self._in_range[[key for _, key in instrument.pieces]] = True
        else:
            self._in_range[instrument.lowest:instrument.highest + 1] = True
        self._mask: np.ndarray | None = None  # allowed_mask() until the next advance()
        v = vocabulary  # what is allowed whatever was played: EOS, every time shift and velocity
        self._always = np.zeros(v.size, dtype=bool)
        self._always[EOS_TOKEN] = True
        self._always[v.time_shift_offset:v.size] = True

    @property
    def time(self) -> float:
        """Current time in seconds."""
        return self.step / self.vocabulary.steps_per_second

    def allowed_mask(self) -> np.ndarray:
        """Bool array of vocabulary size, True where the token is allowed next; the caller's to change."""
        return self.current_mask().copy()

    def current_mask(self) -> np.ndarray:
        """allowed_mask() without the copy, for a caller that only reads it (generation, for every token)."""
        if self._mask is None:
            self._mask = self._compute_mask()
        return self._mask

    def _compute_mask(self) -> np.ndarray:
        """The mask from the state, in a handful of numpy calls (it is computed for every generated token)."""
        v = self.vocabulary
        if self.finished:
            mask = np.zeros(v.size, dtype=bool)
            mask[PAD_TOKEN] = True
            return mask
        mask = self._always.copy()
        if np.count_nonzero(self.sounding) < self.instrument.max_polyphony:
            np.greater(self._in_range, self.sounding, out=mask[v.note_on_offset:v.note_off_offset])  # in & ~on
        mask[v.note_off_offset:v.time_shift_offset] = self.sounding
        if self._after_velocity:
            mask[v.velocity_offset:v.size] = False
        elif self.velocity_bin is not None:
            mask[v.velocity_offset + self.velocity_bin] = False
        return mask

    def advance(self, token: int) -> None:
        """Take one generated token; a token the grammar does not allow raises ValueError."""
        kind, value = self.vocabulary.event(token)
        if self._mask is None:
            self._mask = self._compute_mask()
        if not self._mask[token]:
            raise ValueError(f"token {self.vocabulary.describe(token)} is not allowed at {self.time:.2f} s")
        self._mask = None
        self._after_velocity = kind == VELOCITY
        if kind == EOS:
            self.finished = True
        elif kind == TIME_SHIFT and value is not None:
            self.step += value
        elif kind == VELOCITY:
            self.velocity_bin = value
        elif kind == NOTE_ON:
            self.sounding[value] = True
        elif kind == NOTE_OFF:
            self.sounding[value] = False

