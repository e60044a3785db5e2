"""A tiny Graph-Transformer and synthetic keypoints for the model tests: seconds, not minutes, on a CPU."""

from __future__ import annotations

import numpy as np
import torch

from foley_engine.model import FoleyModel, ModelConfig
from foley_engine.skeleton import NUM_JOINTS

TINY = ModelConfig(d_model=32, heads=2, layers=2, ffn=64, encoder_channels=8, encoder_blocks=1, frame_layers=1,
                   dropout=0.0, window=3.0, overlap=1.0)


def tiny_model(seed: int = 0, config: ModelConfig = TINY) -> FoleyModel:
    torch.manual_seed(seed)
    return FoleyModel(config).eval()


def random_joints(frames: int, seed: int = 0, missing: float = 0.1) -> np.ndarray:
    """(frames, 67, 3) joints in frame coordinates that drift smoothly, some missing (confidence 0)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, (1, NUM_JOINTS, 2))
    drift = np.cumsum(rng.normal(0, 0.003, (frames, NUM_JOINTS, 2)), axis=0)
    joints = np.concatenate([base + drift, np.ones((frames, NUM_JOINTS, 1))], axis=-1).astype(np.float32)
    joints[rng.random((frames, NUM_JOINTS)) < missing] = 0.0
    return joints
