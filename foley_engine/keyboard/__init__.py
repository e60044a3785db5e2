"""Finding a piano keyboard in video and reading its geometry: where every key is and which pitch it plays.

`find_keyboard(frames)` returns a `KeyboardGeometry` (the keyboard plane's homography, a `Key` per key with
its MIDI pitch and pixel outline, which side the player is on, and how sure each part is) or None when there
is no keyboard in view; `draw_keyboard` draws it over a frame for a person to check.
"""

from .detect import find_keyboard
from .geometry import Key, KeyboardGeometry, draw_keyboard

__all__ = ["Key", "KeyboardGeometry", "draw_keyboard", "find_keyboard"]
