"""Making the note model: batches from shards, the training loop, calibration of the decoding thresholds.

Never imported by the inference path (tests/test_layout.py checks it).
"""
