"""The piano's key layout in the keyboard plane, and how the octave is decided.

Pitches are first counted relative to a reference C (0 = that C), because the black keys' groups of two and
three fix the pitch class of every key but say nothing about the octave. The octave comes from the
keyboard's ends: a keyboard with both ends in view is identified by its lowest key and its number of white
keys (88 keys: A0..C8, 52 white; 76: E1..G7; 61: C2..C7; 49: C2..C6); with one end in view, that end's note
name picks the layouts it can belong to; with no end in view the middle C is assumed nearest the middle of
the picture, and the confidence says so.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Pitch classes of the white and the black keys.
WHITE_CLASSES = (0, 2, 4, 5, 7, 9, 11)
BLACK_CLASSES = (1, 3, 6, 8, 10)
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Black-key centres in white-key widths from their octave's C. Pianos split the C-E group's 3 white widths
#: into 5 equal widths at the back of the keys and the F-B group's 4 into 7, so C# and D# sit 0.1 outside the
#: white keys' boundaries and F#/A# 1/7 outside theirs. Digital pianos differ by a few hundredths at most.
BLACK_OFFSETS = (0.9, 2.1, 3 + 1.5 * 4 / 7, 5.0, 3 + 5.5 * 4 / 7)
#: Nominal black-key width and length as fractions of a white key's width and visible length.
BLACK_WIDTH = 0.58
BLACK_LENGTH = 0.63


@dataclass(frozen=True)
class Layout:
    """A keyboard size made by the industry: its key count, lowest MIDI pitch and white-key count."""

    keys: int
    lowest: int
    whites: int

    @property
    def highest(self) -> int:
        return self.lowest + self.keys - 1


LAYOUTS = (Layout(88, 21, 52), Layout(76, 28, 45), Layout(61, 36, 36), Layout(49, 36, 29))
MIDDLE_C = 60
#: How sure an octave only guessed from the middle of the picture is (no end of the keyboard in view; register.py
#: then asks the hands).
OCTAVE_GUESSED_CONFIDENCE = 0.2


def note_name(pitch: int) -> str:
    """Scientific pitch notation, MIDI 60 = C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def is_black(pitch: int) -> bool:
    return pitch % 12 in BLACK_CLASSES


def black_x(index: int) -> float:
    """Plane x of the `index`-th black key counted from the reference C's C# (0), in white-key widths."""
    octave, slot = divmod(index, 5)
    return 7 * octave + BLACK_OFFSETS[slot]


def black_pitch(index: int) -> int:
    """Pitch, relative to the reference C, of the `index`-th black key."""
    octave, slot = divmod(index, 5)
    return 12 * octave + BLACK_CLASSES[slot]


def white_index(pitch: int) -> int:
    """Which white key (0 = the reference C) a white pitch relative to the reference C is."""
    octave, pitch_class = divmod(pitch, 12)
    return 7 * octave + WHITE_CLASSES.index(pitch_class)


def key_span(pitch: int, black_width: float) -> tuple[float, float]:
    """(left, right) plane x of a key, pitch relative to the reference C, in white-key widths."""
    if is_black(pitch):
        centre = black_x(5 * (pitch // 12) + BLACK_CLASSES.index(pitch % 12))
        return centre - black_width / 2, centre + black_width / 2
    left = white_index(pitch)
    return float(left), float(left + 1)


def between_blacks(pitch: int, black_width: float) -> tuple[float, float]:
    """(left, right) plane x of the part of a white key between its black neighbours (its far end)."""
    left, right = key_span(pitch, black_width)
    if is_black(pitch - 1):
        left = key_span(pitch - 1, black_width)[1]
    if is_black(pitch + 1):
        right = key_span(pitch + 1, black_width)[0]
    return left, right


def white_count(low: int, high: int) -> int:
    return sum(1 for pitch in range(low, high + 1) if not is_black(pitch))


@dataclass(frozen=True)
class PitchDecision:
    """MIDI pitch of the reference C, with how sure the octave is and why."""

    reference: int
    confidence: float
    evidence: str


def _one_end(low: int, high: int, end: int, attribute: str) -> PitchDecision | None:
    """The octave from one end in view (`attribute` "lowest" or "highest" of the layouts), if any size ends
    on its note and has room for the white keys seen."""
    visible_whites = white_count(low, high)
    fits = [layout for layout in LAYOUTS
            if getattr(layout, attribute) % 12 == end % 12 and layout.whites >= visible_whites]
    if not fits:
        return None
    pitches = {getattr(layout, attribute) for layout in fits}
    chosen = fits[0]  # LAYOUTS lists the larger, more common concert sizes first
    side = "low" if attribute == "lowest" else "high"
    pitch = getattr(chosen, attribute)
    sizes = "/".join(str(layout.keys) for layout in fits)
    if len(pitches) == 1:
        return PitchDecision(pitch - end, 0.75, f"the keyboard's {side} end is in view and is "
                             f"{note_name(pitch)}, as on every {sizes}-key keyboard")
    return PitchDecision(pitch - end, 0.45, f"the keyboard's {side} end is in view on a "
                         f"{NOTE_NAMES[end % 12]}, which a {sizes}-key keyboard could have: "
                         f"assumed {note_name(pitch)} of a {chosen.keys}-key keyboard")


def decide_octave(low: int, high: int, low_end_seen: bool, high_end_seen: bool, centre: float,
                  end_strengths: tuple[float, float] = (0.0, 0.0)) -> PitchDecision:
    """Turn the relative pitch range [low, high] into MIDI pitches.

    `low_end_seen` / `high_end_seen` say whether that end of the keyboard is in view (rather than cut off by the
    frame); `centre` is the relative pitch nearest the middle of the picture, used when no end decides;
    `end_strengths` how clearly each end was seen, which decides between two ends that disagree.
    """
    if low_end_seen and high_end_seen:
        whites = white_count(low, high)
        for layout in LAYOUTS:
            if layout.whites == whites and layout.lowest % 12 == low % 12:
                return PitchDecision(layout.lowest - low, 0.95,
                                     f"{layout.keys}-key keyboard: both ends in view, {whites} white keys "
                                     f"from {note_name(layout.lowest)} to {note_name(layout.highest)}")
    # One end decides. With both seen but no size spanning them one of them is wrong: the one whose note
    # names a single pitch is the stronger clue, and between two such the one seen more clearly.
    ends = ((low, low_end_seen, "lowest", end_strengths[0]), (high, high_end_seen, "highest", end_strengths[1]))
    decisions = [(decision.confidence, strength, decision) for end, seen, attribute, strength in ends
                 if seen and (decision := _one_end(low, high, end, attribute)) is not None]
    if decisions:
        return max(decisions, key=lambda item: item[:2])[2]  # the low end on a tie
    nearest_c = 12 * round(centre / 12)
    where = "keyboard" if low_end_seen and high_end_seen else "picture"
    return PitchDecision(MIDDLE_C - nearest_c, 0.4 if where == "keyboard" else OCTAVE_GUESSED_CONFIDENCE,
                         f"no keyboard end identifies the octave: assumed middle C nearest the middle of the "
                         f"{where}")
