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
    """Keys with a grey level of sensor noise (every third sample black: the keys' contrast, which the noise
    floors are shares of); in each range of frames the given tops (indices into band.tops) darker by `levels`."""
    rng = np.random.default_rng(0)
    frames = 240
    pixels = np.full((frames, presses.ZONE_ROWS, band.columns), 200.0)
    pixels[:, :, ::3] = 30.0
    pixels += rng.normal(0.0, 1.0, pixels.shape)
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


def test_a_dimmer_exposure_reads_the_same_evidence(geometry: KeyboardGeometry) -> None:
    """The same band at half the contrast (every grey level halved about mid-grey: a dimmer room or exposure) gives
    the same evidence for a press on a key's edges. A key's noise is floored at a share of the keys' contrast:
    a floor in grey levels made every press of a darker clip read about half as strong (a copy of the shared
    clip at half its contrast lost a sixth of its notes)."""
    band = key_band(geometry)
    g4 = next(index for index, key in enumerate(geometry.keys) if key.pitch == 67)
    rng = np.random.default_rng(1)
    frames = 240
    pixels = np.full((frames, presses.ZONE_ROWS, band.columns), 200.0)
    pixels[:, :, ::3] = 30.0  # black keys and gaps: the keys' contrast
    pixels += rng.normal(0.0, 1.0, pixels.shape)
    for edge in band.key_edges[g4]:  # G4 pressed: its edges' windows darken
        start, end = band.windows[edge]
        pixels[PRESS.start:PRESS.stop, :, start:end] -= 8.0

    def read(scale: float) -> float:
        dimmed = np.clip(np.round(115.0 + (pixels - 115.0) * scale), 0, 255).astype(np.uint8)
        evidence = press_evidence(BandRows(np.arange(frames) / RATE, dimmed.reshape(frames, -1)), band).evidence
        return float(np.median(evidence[PRESS.start + 1:PRESS.stop - 1, g4]))

    full, half = read(1.0), read(0.5)
    assert full > ON_LEVEL and 0.8 < half / full < 1.25, (full, half)


def test_a_breathing_exposure_reads_as_a_steady_one(geometry: KeyboardGeometry) -> None:
    """A camera's automatic exposure brightens and darkens the whole picture by a few percent (here 5 % up and
    down over 4 s, and a 2 % step every 3 s, as when hands come and go): every frame is read at its usual look's
    exposure, so a press reads as strongly as under a steady exposure and nothing else reads as one. (Without
    that the press read at 0.6 of its strength here, and a copy of the shared clip breathing by 3 % read at
    0.65 onset F1 over 8-20 s instead of 0.83.)"""
    band = key_band(geometry)
    g4 = next(index for index, key in enumerate(geometry.keys) if key.pitch == 67)
    frames = 360
    seconds = np.arange(frames) / RATE

    def read(gain: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(2)
        look = np.full(band.columns, 200.0)
        for start, end in band.windows:  # each edge its own grey: a gap, a black key's side, a wall
            look[start:end] = rng.uniform(30.0, 220.0)
        pixels = np.repeat(np.broadcast_to(look, (1, presses.ZONE_ROWS, band.columns)), frames, axis=0)
        for edge in band.key_edges[g4]:
            start, end = band.windows[edge]
            pixels[PRESS.start:PRESS.stop, :, start:end] -= 8.0
        pixels = pixels * gain[:, None, None] + rng.normal(0.0, 1.0, pixels.shape)
        rows = BandRows(seconds, np.clip(np.round(pixels), 0, 255).astype(np.uint8).reshape(frames, -1))
        return press_evidence(rows, band).evidence

    steady = read(np.ones(frames))
    breathing = read(1 + 0.05 * np.sin(2 * np.pi * seconds / 4.0) + 0.02 * ((seconds // 3) % 2))
    pressed = slice(PRESS.start + 1, PRESS.stop - 1)
    assert np.median(breathing[pressed, g4]) > 0.8 * np.median(steady[pressed, g4]) > ON_LEVEL
    idle = np.ones(frames, bool)
    idle[PRESS.start - 2:PRESS.stop + 2] = False
    assert np.abs(breathing[idle]).max() < ON_LEVEL
