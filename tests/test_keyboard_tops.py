"""Keys the camera sees from straight above are read from their own top as well as their edges (presses.py).

A press there bares no wall the camera can see, so its edges hardly change; its top darkens a little as it
tilts away from the light. A hand's shadow darkens tops too, but the neighbours' alike. The keyboard is found
on a render from above (the camera over E4/F4), and the band's rows are then written by hand: grey keys with
sensor noise, one top darkened by a press, then three neighbouring tops darkened by a shadow.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from keyboards import Camera, render

from foley_engine.keyboard import find_keyboard, presses
from foley_engine.keyboard.geometry import KeyboardGeometry
from foley_engine.keyboard.presses import KeyBand, key_band, press_evidence
from foley_engine.keyboard.reading import FAINT_LEVEL, ON_LEVEL
from foley_engine.keyboard.view import keys_under_camera
from foley_engine.pose.bands import BandRows

RATE = 30.0
PRESS, SHADOW = range(60, 90), range(150, 180)  # frames


@pytest.fixture(scope="module")
def geometry() -> KeyboardGeometry:
    found = find_keyboard(render(size=(640, 360), camera=Camera(), hands=1, frames=4, seed=2).frames)
    assert found is not None
    return found


def _rows(band: KeyBand, darkened: dict[range, tuple[int, ...]], levels: float) -> BandRows:
    """Keys of one grey with a grey level of sensor noise; in each range of frames the given tops (indices into
    band.tops) darker by `levels`."""
    rng = np.random.default_rng(0)
    frames = 240
    pixels = 200.0 + rng.normal(0.0, 1.0, (frames, presses.ZONE_ROWS, band.columns))
    for span, tops in darkened.items():
        for top in tops:
            start, end = band.tops[top]
            pixels[span.start:span.stop, :, start:end] -= levels
    rows = np.clip(np.round(pixels), 0, 255).astype(np.uint8).reshape(frames, -1)
    return BandRows(np.arange(frames) / RATE, rows)


def test_the_keys_under_the_camera_and_only_those_near_it_are_read_from_their_tops(geometry: KeyboardGeometry
                                                                                   ) -> None:
    band = key_band(geometry)
    read = {geometry.keys[key].pitch for key in band.top_keys[:, 0]}
    under_white = {pitch for pitch in keys_under_camera(geometry) if pitch % 12 in (0, 2, 4, 5, 7, 9, 11)}
    assert under_white <= read
    assert min(read) >= 57 and max(read) <= 72, "only keys within a few white keys of the camera (A3-C5)"
    assert all(not geometry.keys[key].black for key in band.top_keys[:, 0])


def test_a_top_darkened_alone_is_a_press_and_a_shadow_over_its_neighbours_too_is_not(
        geometry: KeyboardGeometry) -> None:
    """Three grey levels of darkening on E4's top alone, its edges unchanged, is a press past ON_LEVEL; as much
    or more on the tops of D4, E4 and F4 together is not even a faint one."""
    band = key_band(geometry)
    e4 = next(index for index, key in enumerate(geometry.keys) if key.pitch == 64)
    [[_, own, left, right]] = band.top_keys[band.top_keys[:, 0] == e4]  # E4's, D4's and F4's tops
    rows = _rows(band, {PRESS: (own,), SHADOW: (left, own, right)}, 3.0)
    shadow_rows = _rows(band, {SHADOW: (left, own, right)}, 6.0)
    evidence = press_evidence(rows, band).evidence[:, e4]
    assert np.median(evidence[PRESS.start + 1:PRESS.stop - 1]) > ON_LEVEL
    assert np.abs(evidence[SHADOW.start + 1:SHADOW.stop - 1]).max() < FAINT_LEVEL
    assert np.abs(press_evidence(shadow_rows, band).evidence[SHADOW.start + 1:SHADOW.stop - 1, e4]).max() < FAINT_LEVEL
    # Read from its edges alone (the same band without its keys read from their tops), the press does not show.
    edges_only = dataclasses.replace(band, top_keys=band.top_keys[:0])
    assert np.abs(press_evidence(rows, edges_only).evidence[PRESS.start + 1:PRESS.stop - 1, e4]).max() < FAINT_LEVEL
