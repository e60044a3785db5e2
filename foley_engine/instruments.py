"""The instruments Foley can play: General MIDI program, playable range and how a player moves.

The family decides how motion becomes notes (a pianist's fingertips strike keys, a cellist's bow changes
direction); the range keeps generated pitches inside what the instrument can actually sound.

Percussion plays on the General MIDI percussion channel (channel 10, `Instrument.drum`) from the soundfont's
GM drum kit (bank 128), where every key is a different sound: such an instrument names its pieces (a kit's
kick is key 36, its snare 38, ...) and every pitch it plays is one of them. GM has no tabla and no
footsteps; they borrow the closest GM percussion sounds (see _PERCUSSION). Timpani are pitched (program 47)
and play on an ordinary channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .errors import InputError

#: The pitched families: the ones the motion generators (baseline rules, learned model) and the synthetic
#: performers know.
MotionFamily = Literal["keys", "accordion", "plucked", "bowed", "woodwind", "brass", "mallets"]
FAMILIES: tuple[MotionFamily, ...] = ("keys", "accordion", "plucked", "bowed", "woodwind", "brass", "mallets")
#: Struck instruments and foley (claps, steps): notes come from the strike source (sources/strikes.py).
PERCUSSION: Final = "percussion"
#: Every instrument's family: a pitched one, or percussion.
Family = Literal[MotionFamily, "percussion"]
#: The pitched family whose motion rules the motion generators use for percussion: both are struck with the
#: wrists, downwards, and a strike's "pitch" becomes the nearest piece (Instrument.clamp_pitch).
PERCUSSION_MOTION: Final = "mallets"
#: The soundfont bank of the General MIDI drum kits.
DRUM_BANK = 128


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int  # General MIDI program, 0-based as in pretty_midi and FluidSynth
    family: Family
    lowest: int  # lowest playable MIDI pitch
    highest: int  # highest playable MIDI pitch
    max_polyphony: int  # notes that can sound at once for one performer
    gm_name: str
    #: Percussion: (piece, MIDI key) of what it can strike; on the drum channel a key is a GM percussion sound,
    #: for timpani a pitch (one per kettle). Empty for the pitched families.
    pieces: tuple[tuple[str, int], ...] = ()
    drum: bool = False  # plays on the GM percussion channel (10) from the drum kit `program` of bank 128

    @property
    def percussive(self) -> bool:
        """Struck (drums, hand drums, timpani) or foley (claps, steps): the strike source plays it."""
        return self.family == PERCUSSION

    @property
    def motion_family(self) -> MotionFamily:
        """The family whose motion rules play this instrument from keypoints (percussion: the mallets')."""
        return PERCUSSION_MOTION if self.family == PERCUSSION else self.family

    @property
    def bank(self) -> int:
        """The soundfont bank of its preset: the drum kits' for drum-channel instruments, else 0."""
        return DRUM_BANK if self.drum else 0

    def piece(self, name: str) -> int:
        """The MIDI key of piece `name` (KeyError names the pieces it has)."""
        for piece, key in self.pieces:
            if piece == name:
                return key
        raise KeyError(f"{self.name} has no piece {name!r}; it has {', '.join(p for p, _ in self.pieces)}")

    def clamp_pitch(self, pitch: int) -> int:
        """Fold a pitch by octaves into the playable range (keeps the pitch class, unlike clipping).

        A percussion instrument has no pitch classes, only pieces: the nearest piece's key (the lower of two
        equally near), so a generator that picks pitches from position still strikes something real.
        """
        if self.pieces:
            return min((key for _, key in self.pieces), key=lambda key: (abs(key - pitch), key))
        while pitch < self.lowest:
            pitch += 12
        while pitch > self.highest:
            pitch -= 12
        return max(self.lowest, min(self.highest, pitch))


_TABLE: list[tuple[str, int, MotionFamily, int, int, int, str]] = [
    # name, program, family, lowest, highest, polyphony, GM name
    ("piano", 0, "keys", 21, 108, 10, "Acoustic Grand Piano"),
    ("organ", 19, "keys", 36, 96, 10, "Church Organ"),
    ("accordion", 21, "accordion", 53, 89, 6, "Accordion"),
    ("guitar", 24, "plucked", 40, 84, 6, "Acoustic Guitar (nylon)"),
    ("ukulele", 24, "plucked", 60, 81, 4, "Acoustic Guitar (nylon), ukulele range"),
    ("electric-guitar", 27, "plucked", 40, 86, 6, "Electric Guitar (clean)"),
    ("bass", 33, "plucked", 28, 67, 2, "Electric Bass (finger)"),
    ("harp", 46, "plucked", 24, 103, 8, "Orchestral Harp"),
    ("violin", 40, "bowed", 55, 103, 2, "Violin"),
    ("viola", 41, "bowed", 48, 88, 2, "Viola"),
    ("cello", 42, "bowed", 36, 76, 2, "Cello"),
    ("double-bass", 43, "bowed", 28, 67, 2, "Contrabass"),
    ("flute", 73, "woodwind", 60, 96, 1, "Flute"),
    ("clarinet", 71, "woodwind", 50, 91, 1, "Clarinet"),
    ("oboe", 68, "woodwind", 58, 91, 1, "Oboe"),
    ("bassoon", 70, "woodwind", 34, 75, 1, "Bassoon"),
    ("saxophone", 65, "woodwind", 49, 81, 1, "Alto Sax"),
    ("trumpet", 56, "brass", 54, 82, 1, "Trumpet"),
    ("trombone", 57, "brass", 40, 72, 1, "Trombone"),
    ("french-horn", 60, "brass", 34, 77, 1, "French Horn"),
    ("tuba", 58, "brass", 28, 65, 1, "Tuba"),
    ("xylophone", 13, "mallets", 65, 108, 2, "Xylophone"),
    ("marimba", 12, "mallets", 45, 96, 2, "Marimba"),
]

#: name, GM program (a drum kit preset of bank 128 unless pitched), GM name, pieces, on the drum channel.
#: Keys are GM percussion sounds (35 bass drum 2 ... 81 open triangle), except timpani's (pitches).
_PERCUSSION = [
    ("drums", 0, "Standard Drum Kit", (("kick", 36), ("snare", 38), ("closed hi-hat", 42), ("pedal hi-hat", 44),
                                        ("floor tom", 45), ("low tom", 47), ("high tom", 50), ("crash", 49),
                                        ("ride", 51)), True),
    ("snare", 0, "Standard Drum Kit: snare", (("snare", 38), ("side stick", 37)), True),
    ("congas", 0, "Standard Drum Kit: congas", (("open high conga", 63), ("low conga", 64)), True),
    ("bongos", 0, "Standard Drum Kit: bongos", (("high bongo", 60), ("low bongo", 61)), True),
    # GM has no tabla: the dayan (right hand, high and ringing) is the muted high conga, the bayan (left hand,
    # the bass) the low conga.
    ("tabla", 0, "Standard Drum Kit: congas for tabla", (("dayan", 62), ("bayan", 64)), True),
    # A cajon's centre is a deep bass, its top edge a snare-like slap.
    ("cajon", 0, "Standard Drum Kit: cajon as bass drum/snare", (("bass", 35), ("slap", 38)), True),
    # Four kettles, low to high on the player's left to right (the American setup).
    ("timpani", 47, "Timpani", (("low kettle", 43), ("second kettle", 48), ("third kettle", 50),
                                ("high kettle", 55)), False),
    ("claps", 0, "Standard Drum Kit: hand clap", (("clap", 39),), True),
    # GM has no footsteps: a heel strike is a floor tom's dull thud, one tom per foot so steps alternate a
    # little as real ones do.
    ("footsteps", 0, "Standard Drum Kit: floor toms for steps", (("left heel", 41), ("right heel", 43)), True),
    ("stomps", 0, "Standard Drum Kit: bass drum for stomps", (("stomp", 36),), True),
    ("knocks", 0, "Standard Drum Kit: wood blocks for knocks", (("high knock", 76), ("low knock", 77)), True),
]

INSTRUMENTS: dict[str, Instrument] = {
    row[0]: Instrument(name=row[0], program=row[1], family=row[2], lowest=row[3], highest=row[4],
                       max_polyphony=row[5], gm_name=row[6])
    for row in _TABLE
}
INSTRUMENTS.update({
    name: Instrument(name=name, program=program, family=PERCUSSION, lowest=min(k for _, k in pieces),
                     highest=max(k for _, k in pieces), max_polyphony=4, gm_name=gm_name, pieces=pieces, drum=drum)
    for name, program, gm_name, pieces, drum in _PERCUSSION
})


def get_instrument(name: str) -> Instrument:
    """Look an instrument up by name (case-insensitive); a clear error lists the known names."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return INSTRUMENTS[key]
    except KeyError:
        raise InputError(f"unknown instrument {name!r}; choose one of: {', '.join(INSTRUMENTS)}") from None


#: What `--instrument` and the adapters accept: one instrument for everyone, or one per performer.
InstrumentChoice = str | Instrument | Sequence[str | Instrument]


def parse_instruments(choice: InstrumentChoice) -> tuple[Instrument, ...]:
    """One instrument for every performer ("cello"), or one per performer, left to right ("violin,guitar").

    A comma-separated string and a sequence mean the same; an empty name is an error, not a skipped player.
    """
    if isinstance(choice, Instrument):
        return (choice,)
    names = choice.split(",") if isinstance(choice, str) else list(choice)
    if not names or any(isinstance(name, str) and not name.strip() for name in names):
        raise InputError(f"instrument list {choice!r} has an empty name; give e.g. 'violin' or 'violin,guitar'")
    return tuple(name if isinstance(name, Instrument) else get_instrument(name) for name in names)


def instruments_for(choice: tuple[Instrument, ...], performers: int) -> list[Instrument]:
    """Each performer's instrument: one for all, or exactly one per performer (a different count is an error,
    so that a player nobody asked for, or one the tracker missed, is never given the wrong part silently)."""
    if len(choice) == 1:
        return [choice[0]] * performers
    if len(choice) != performers:
        raise InputError(
            f"{len(choice)} instruments given ({','.join(i.name for i in choice)}) for {performers} performer(s) "
            "seen, left to right; give one instrument for all or one per performer")
    return list(choice)
