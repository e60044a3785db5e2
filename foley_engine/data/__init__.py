"""Data for training and judging: example shards and their splits, synthetic performers, phrases, real footage
with transcribed sound, and video-to-MIDI alignment.

Never imported by the inference path (tests/test_layout.py checks it).
"""
