"""The keys source on real footage as other cameras and rooms would show it: the shared top-down piano clip turned
round (the camera on the player's side of the keyboard, hands entering from the top), rolled 20 and 45 degrees, seen
through a tilted camera (the far end of the keys a quarter narrower), from nearer with neither end of the
keyboard in view (the octave then comes from where the hands play), in a dimmer and warmer room, through a
camera whose automatic exposure breathes, through a hand-held camera that sways and turns (the keys are then
followed from frame to frame; no steady view may be), and under a lamp behind the player that casts the hands'
shadows over the keys.

Only the shared clip has truth here, and other users' keyboards, rooms and cameras are what the product is
judged on; rendered keyboards (test_keyboard_presses.py) cover those cases with exact truth but drawn pixels.
These cases keep the real pixels - real keys, hands, shadows and compression - and change only the camera and
the light, so a keyboard finder or key reader that quietly assumes the clip's own view (the player at the
bottom, the keys level, a rectangle of keys, both ends in view, a steady exposure) fails here. Each
transformed 8-20 s is re-encoded at 1280x720 (H.264 crf 20) and read through `foley generate` as a user's clip
is; scored at the best lag within +-0.1 s beside chance at the same density, searched the same way.

Measured when written (onset F1 / note F1, chance about 0.45 / 0.08): 0.78 / 0.74 turned round, 0.71 / 0.68 rolled
20 degrees (the keyboard is also smaller: 0.8 of its width), 0.66 / 0.61 rolled 45 (0.62 of its width), 0.82 / 0.78
tilted, 0.84 / 0.78 close up (0.84 / 0.02 before the hands gave the octave: the middle of the picture had put it an
octave low), 0.77 / 0.69 dimmer, 0.74 / 0.71 breathing (0.59 / 0.50 before frames were read at the usual look's
exposure), 0.70 / 0.64 swaying by 1 px at 640 wide (about 0.2 / 0.1 before the keys were followed), 0.69 / 0.57
under the hands' shadows (0.50 / 0.19 before a shadow was taken out of the edges' change); the untouched clip reads
0.86 / 0.79. The floors sit 0.05-0.08 under. Each must also stand 0.15 above chance at its own note density in
onsets, 0.3 in notes: the shadowed view, whose keys' usual look is now taken over the whole 12 s at the clip's
ends (presses.REFERENCE_SECONDS), reads more notes than it did (0.70 onset F1 against chance's 0.50 there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_keyboard_source import read_keys, scores

from foley_engine import video

pytestmark = pytest.mark.real_media

STRETCH = (8.0, 20.0)
SIZE = (1280, 720)


def _turned(image: np.ndarray) -> np.ndarray:
    return cv2.rotate(image, cv2.ROTATE_180)


def _rolled(degrees: float, scale: float) -> View:
    """Rolled by `degrees` about the centre and shrunk to `scale` so the whole keyboard stays in the frame."""
    def view(image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, scale)
        return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(20, 20, 20))

    return view


def _tilted(image: np.ndarray) -> np.ndarray:
    """The far side (top of the frame) a quarter narrower than the near side, as a camera tilted towards it."""
    height, width = image.shape[:2]
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    seen = np.float32([[width / 8, height * 0.08], [width * 7 / 8, height * 0.08], [width, height], [0, height]])
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(corners, seen), (width, height),
                               borderValue=(20, 20, 20))


def _close_up(image: np.ndarray) -> np.ndarray:
    """The middle of the keyboard from nearer: from 30 % to 80 % of the width, neither end in view (the octave
    then comes from where the hands play, keyboard/register.py)."""
    height, width = image.shape[:2]
    left, right = int(width * 0.3), int(width * 0.8)
    rows = (right - left) * 9 // 16
    top = int(height * 0.55) - rows // 2
    return image[top:top + rows, left:right]


def _dimmer(image: np.ndarray) -> np.ndarray:
    """A dimmer, warmer room: half the contrast, a gamma of 1.3, the blue up and the red down."""
    light = (image.astype(np.float32) / 255) ** 1.3 * np.array([1.1, 0.95, 0.8], np.float32)
    return np.clip(0.55 * light * 255 + 5, 0, 255).astype(np.uint8)


class _Breathing:
    """A camera's automatic exposure: the picture 5 % brighter and darker over 4 s, and 3 % brighter every
    other 3 s (hands coming and going), frame after frame at 30 fps."""

    def __init__(self) -> None:
        self.frame = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        seconds = self.frame / 30
        self.frame += 1
        gain = 1 + 0.05 * np.sin(2 * np.pi * seconds / 4) + 0.03 * (int(seconds // 3) % 2)
        return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _hand_shadows(image: np.ndarray) -> np.ndarray:
    """A lamp behind the player: the hands' and arms' soft shadows, 35 % deep, fall a tenth of the frame's height
    towards the fallboard (the skin found by its colour, as the clip's warm light shows it)."""
    height, width = image.shape[:2]
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    skin = ((hsv[..., 0] < 22) & (hsv[..., 1] > 120) & (hsv[..., 2] > 110)).astype(np.float32)
    cast = cv2.warpAffine(skin, np.float32([[1, 0, 0.013 * height], [0, 1, -0.11 * height]]), (width, height))
    shade = np.clip(1.5 * cv2.GaussianBlur(cast, (0, 0), 0.011 * height), 0, 1)
    return np.clip(image * (1 - 0.35 * shade)[..., None], 0, 255).astype(np.uint8)


class _Swaying:
    """A hand-held camera: the picture sways by 3 px (at 1920 wide; 1 px at the 640 the keys are read at) across
    and up and down, over 5.3 and 6.1 s with a faster tremor on top, and turns by 0.3 degrees over 3.7 s, frame
    after frame at 30 fps."""

    def __init__(self) -> None:
        self.frame = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        seconds = self.frame / 30
        self.frame += 1
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.3 * np.sin(2 * np.pi * seconds / 3.7), 1.0)
        matrix[:, 2] += (3 * (0.7 * np.sin(2 * np.pi * seconds / 5.3) + 0.3 * np.sin(2 * np.pi * seconds / 1.7 + 1)),
                         3 * (0.7 * np.sin(2 * np.pi * seconds / 6.1 + 2) + 0.3 * np.sin(2 * np.pi * seconds / 2.3)))
        return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


View = Callable[[np.ndarray], np.ndarray]
#: Each view (made afresh for each clip: the exposure's breathing counts frames) and its floors (onset F1, note F1).
VIEWS: dict[str, tuple[Callable[[], View], tuple[float, float]]] = {
    "turned-round": (lambda: _turned, (0.7, 0.65)), "rolled-20": (lambda: _rolled(20, 0.8), (0.65, 0.6)),
    "rolled-45": (lambda: _rolled(45, 0.62), (0.6, 0.55)),
    "tilted": (lambda: _tilted, (0.72, 0.68)), "close-up": (lambda: _close_up, (0.76, 0.7)),
    "dimmer": (lambda: _dimmer, (0.7, 0.62)), "breathing-exposure": (_Breathing, (0.68, 0.64)),
    "swaying": (_Swaying, (0.62, 0.56)), "hand-shadows": (lambda: _hand_shadows, (0.62, 0.5))}


def _seen_otherwise(source: Path, target: Path, view: View) -> Path:
    """STRETCH of `source` through `view` (an RGB image to another), at SIZE, re-encoded as H.264 at 30 fps."""
    with av.open(str(target), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for frame in video.iter_frames(source, *STRETCH, max_size=1920):
            picture = cv2.resize(view(frame.image), SIZE, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")))
        container.mux(stream.encode())
    return target


@pytest.mark.parametrize("name", list(VIEWS))
def test_the_keys_are_read_as_other_cameras_see_them(piano_video: Path, piano_midi: Path, tmp_path: Path,
                                                     name: str) -> None:
    make_view, (onset_floor, note_floor) = VIEWS[name]
    clip = _seen_otherwise(piano_video, tmp_path / f"{name}.mp4", make_view())
    summary = read_keys(clip, tmp_path)
    if name == "close-up":  # E2 to A6 in view; the octave from the hands
        assert (summary["keyboard"]["lowest"], summary["keyboard"]["highest"]) == (40, 93), summary["keyboard"]
        assert "where the hands play" in summary["keyboard"]["pitch_evidence"]
    else:
        assert (summary["keyboard"]["lowest"], summary["keyboard"]["highest"]) == (21, 108)
    # Only the swaying camera is followed from frame to frame (keyboard/follow.py).
    assert ("camera_moved_px" in summary["keyboard"]) == (name == "swaying"), summary["keyboard"]
    onset_f1, note_f1, chance_onset, chance_note = scores(summary, piano_midi, *STRETCH)
    assert onset_f1 >= onset_floor and note_f1 >= note_floor, f"onset F1 {onset_f1:.3f}, note F1 {note_f1:.3f}"
    assert onset_f1 > chance_onset + 0.15 and note_f1 > chance_note + 0.3, (chance_onset, chance_note)
