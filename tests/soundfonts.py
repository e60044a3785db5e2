"""Tiny SoundFont 2 files written chunk by chunk, so soundfont checks can be tested without a 150 MB download.

`tiny_soundfont` makes a file FluidSynth really loads and plays (one sine-wave sample, one instrument, one
preset per (bank, program) asked for), and `truncated_copy` cuts a real soundfont like an interrupted copy.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
_SAMPLE_POINTS = 2205  # a tenth of a second, looped
_GEN_INSTRUMENT, _GEN_SAMPLE_MODES, _GEN_SAMPLE_ID = 41, 54, 53  # SoundFont 2.04 generator numbers


def _chunk(chunk_id: bytes, data: bytes) -> bytes:
    padding = b"\0" if len(data) % 2 else b""
    return chunk_id + struct.pack("<I", len(data)) + data + padding


def _list(list_type: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", list_type + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def tiny_soundfont(path: Path, presets: Sequence[tuple[int, int]] = ((0, 0),)) -> Path:
    """A valid SoundFont 2 at `path` whose only presets are the (bank, program) pairs given, all one sine."""
    wave = np.rint(np.sin(np.arange(_SAMPLE_POINTS) * 2 * np.pi * 440 / SAMPLE_RATE) * 12000).astype("<i2")
    smpl = wave.tobytes() + bytes(2 * 46)  # the format asks for 46 zero points after each sample
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", b"tiny test font\0\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", smpl))
    ordered = sorted(presets)
    phdr = b"".join(_name(f"preset {bank}:{program}") + struct.pack("<HHHIII", program, bank, zone, 0, 0, 0)
                    for zone, (bank, program) in enumerate(ordered))
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, len(ordered), 0, 0, 0)
    pbag = b"".join(struct.pack("<HH", zone, 0) for zone in range(len(ordered) + 1))
    pgen = struct.pack("<Hh", _GEN_INSTRUMENT, 0) * len(ordered) + struct.pack("<HH", 0, 0)
    inst = _name("sine") + struct.pack("<H", 0) + _name("EOI") + struct.pack("<H", 1)
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 2, 0)
    igen = struct.pack("<HH", _GEN_SAMPLE_MODES, 1) + struct.pack("<HH", _GEN_SAMPLE_ID, 0) + struct.pack("<HH", 0, 0)
    shdr = (_name("sine") + struct.pack("<IIIIIBbHH", 0, _SAMPLE_POINTS, 8, _SAMPLE_POINTS - 8, SAMPLE_RATE,
                                        69, 0, 0, 1)
            + _name("EOS") + bytes(26))
    modulators = bytes(10)  # just the terminal record
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", modulators),
                 _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", modulators),
                 _chunk(b"igen", igen), _chunk(b"shdr", shdr))
    path.write_bytes(_chunk(b"RIFF", b"sfbk" + info + sdta + pdta))
    return path


def truncated_copy(source: Path, target: Path, size: int = 2_000_000) -> Path:
    """The first `size` bytes of `source` (a real soundfont is 150 MB; its start is enough to be cut off)."""
    with source.open("rb") as file:
        target.write_bytes(file.read(size))
    return target
