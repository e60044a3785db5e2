"""The one split policy: train/val/test decided by a stable hash of an id, for synthetic and real data alike.

A piece id (synthetic phrases), a video's content hash or a folder (real footage) always lands in the same
split, on any machine and in any run, so nothing is ever in two splits. The hash is crc32: it is what the
synthetic data the shipped model was trained and tested on used, so its held-out pieces stay held out (the
real-footage builder used sha256 before; its datasets carry a new format version so an old build is rebuilt
rather than mixed with the new assignment).
"""

from __future__ import annotations

import zlib
from typing import Literal

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
#: Share of ids in each held-out split, in percent (the rest is training material).
HELD_OUT_PERCENT: dict[Split, int] = {"val": 10, "test": 10}


def split_of(key: str) -> Split:
    """The split an id belongs to: fixed by a hash of the id, so it never changes between runs."""
    bucket = zlib.crc32(key.encode()) % 100
    if bucket < HELD_OUT_PERCENT["test"]:
        return "test"
    if bucket < HELD_OUT_PERCENT["test"] + HELD_OUT_PERCENT["val"]:
        return "val"
    return "train"
