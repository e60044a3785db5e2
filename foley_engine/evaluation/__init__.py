"""Judging generated notes against the truth: onset and note F1, timing, chance at the same density, clock lags.

Never imported by the inference path (tests/test_layout.py checks it).
"""
