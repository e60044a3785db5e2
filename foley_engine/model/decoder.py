"""The event decoder: a pre-norm Transformer over MIDI event tokens that attends to the pose features.

Two things make it learn timing fast on a CPU budget. Every token knows the music time it leaves the track
at (the running sum of its TIME_SHIFTs), and cross-attention gets a learned bias on the distance between
that time and each video frame (T5-style relative buckets), so "look at the frames around now" is built in
rather than discovered. Generation keeps a key/value cache, so each new token costs one position's work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from .stepping import StepBuffers


@dataclass
class KVCache:
    """Self-attention keys and values of the tokens decoded so far, preallocated for `capacity` positions.

    One block for all layers, so that step() reaches every layer's through one array."""

    stacked: torch.Tensor  # (layers, 2, B, H, capacity, head_dim): per layer keys then values
    valid: torch.Tensor  # (B, capacity) bool: False for left padding
    length: int = 0
    array: np.ndarray = field(init=False)  # `stacked`'s memory as numpy, for step()
    step: StepBuffers | None = field(default=None, init=False)  # what step() keeps beside the cache

    def __post_init__(self) -> None:
        self.array = self.stacked.detach().numpy()

    @classmethod
    def empty(cls, layers: int, batch: int, heads: int, capacity: int, head_dim: int,
              like: torch.Tensor) -> KVCache:
        return cls(like.new_zeros((layers, 2, batch, heads, capacity, head_dim)),
                   torch.zeros(batch, capacity, dtype=torch.bool, device=like.device))


@dataclass
class CrossMemory:
    """Per-window values the decoder reuses at every step: cross-attention keys/values per layer."""

    keys: list[torch.Tensor]  # per layer (B, H, F, head_dim)
    values: list[torch.Tensor]
    frames: int

    def step_arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every layer's keys (layers, B * H, head_dim, F), pre-transposed, and values (layers, B * H, F,
        head_dim), for step()."""
        keys = torch.stack([k.detach().float().transpose(2, 3).flatten(0, 1) for k in self.keys])
        values = torch.stack([v.detach().float().flatten(0, 1) for v in self.values])
        return keys.contiguous(), values.contiguous()


def time_encoding(steps: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal code of a time in grid steps (10 ms), periods from ~6 steps to ~60 s."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, -math.log(1000.0), half, device=steps.device))
    angles = steps.to(torch.float32).unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class RelativeTimeBias(nn.Module):
    """Additive cross-attention bias per head from the frame-minus-now distance, clipped to +-radius frames."""

    def __init__(self, heads: int, radius: int) -> None:
        super().__init__()
        self.radius = radius
        distance = torch.arange(-radius, radius + 1, dtype=torch.float32).abs()
        slopes = torch.tensor([0.25 / 2 ** h for h in range(heads)])  # start local, some heads wide
        self.table = nn.Parameter(-distance.unsqueeze(1) * slopes)  # (2R+1, H)

    def buckets(self, query_frames: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, L) fractional frame positions of the queries -> (B, L, F) bucket ids."""
        rel = torch.arange(frames, device=query_frames.device, dtype=torch.float32) - query_frames.unsqueeze(-1)
        return rel.round().clamp(-self.radius, self.radius).long() + self.radius

    def forward(self, buckets: torch.Tensor) -> torch.Tensor:
        return self.table[buckets].permute(0, 3, 1, 2)  # (B, H, L, F)


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float, radius: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, d_model // heads
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.self_out = nn.Linear(d_model, d_model)
        self.cross_q = nn.Linear(d_model, d_model)
        self.cross_kv = nn.Linear(d_model, 2 * d_model)
        self.cross_out = nn.Linear(d_model, d_model)
        self.time_bias = RelativeTimeBias(heads, radius)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.GELU(approximate="tanh"), nn.Linear(ffn, d_model))
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.heads, self.head_dim).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(b, length, self.heads * self.head_dim)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.cross_kv(memory).chunk(2, dim=-1)
        return self._split(keys), self._split(values)

    def forward(self, x: torch.Tensor, memory_kv: tuple[torch.Tensor, torch.Tensor], buckets: torch.Tensor,
                self_mask: torch.Tensor | None, cache: KVCache | None = None, index: int = 0) -> torch.Tensor:
        """x (B, L, D). Without a cache attention is causal (self_mask None) or uses self_mask (B, 1, L, L')."""
        q, k, v = (self._split(t) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if cache is not None:
            end = cache.length + x.shape[1]
            cache.stacked[index, 0, :, :, cache.length:end] = k
            cache.stacked[index, 1, :, :, cache.length:end] = v
            k, v = cache.stacked[index, :, :, :, :end].unbind(0)
        causal = self_mask is None and cache is None
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=self_mask, is_causal=causal,
                                                  dropout_p=self.dropout.p if self.training else 0.0)
        x = x + self.dropout(self.self_out(self._merge(attended)))
        q = self._split(self.cross_q(self.norm2(x)))
        attended = F.scaled_dot_product_attention(q, memory_kv[0], memory_kv[1], attn_mask=self.time_bias(buckets))
        x = x + self.dropout(self.cross_out(self._merge(attended)))
        x = x + self.dropout(self.ffn(self.norm3(x)))
        return x
