"""The event decoder: a pre-norm Transformer over MIDI event tokens that attends to the pose features.

Two things make it learn timing fast on a CPU budget. Every token knows the music time it leaves the track
at (the running sum of its TIME_SHIFTs), and cross-attention gets a learned bias on the distance between
that time and each video frame (T5-style relative buckets), so "look at the frames around now" is built in
rather than discovered. Generation keeps a key/value cache, so each new token costs one position's work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class KVCache:
    """Self-attention keys and values of the tokens decoded so far, preallocated for `capacity` positions.

    Keys and values lead so that rows and heads merge into one batch dimension without a copy (step's bmm)."""

    kv: list[torch.Tensor]  # per layer (2, B, H, capacity, head_dim): keys then values
    valid: torch.Tensor  # (B, capacity) bool: False for left padding
    length: int = 0
    merged: list[torch.Tensor] = field(init=False)  # per layer kv viewed as (2, B * H, capacity, head_dim)

    def __post_init__(self) -> None:
        self.merged = [kv.flatten(1, 2) for kv in self.kv]

    @classmethod
    def empty(cls, layers: int, batch: int, heads: int, capacity: int, head_dim: int,
              like: torch.Tensor) -> KVCache:
        return cls([like.new_zeros((2, batch, heads, capacity, head_dim)) for _ in range(layers)],
                   torch.zeros(batch, capacity, dtype=torch.bool, device=like.device))

    def key_bias(self) -> torch.Tensor | None:
        """Additive (B * H, 1, capacity) mask hiding padding from later steps, or None without padding."""
        if bool(self.valid.all()):
            return None
        bias = torch.zeros(self.valid.shape, dtype=self.kv[0].dtype, device=self.valid.device)
        heads = self.kv[0].shape[2]
        return bias.masked_fill(~self.valid, float("-inf")).repeat_interleave(heads, dim=0).unsqueeze(1)


@dataclass
class CrossMemory:
    """Per-window values the decoder reuses at every step: cross-attention keys/values per layer."""

    keys: list[torch.Tensor]  # per layer (B, H, F, head_dim)
    values: list[torch.Tensor]
    frames: int


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
            cache.kv[index][0, :, :, cache.length:end] = k
            cache.kv[index][1, :, :, cache.length:end] = v
            k, v = cache.kv[index][:, :, :, :end].unbind(0)
        causal = self_mask is None and cache is None
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=self_mask, is_causal=causal,
                                                  dropout_p=self.dropout.p if self.training else 0.0)
        x = x + self.dropout(self.self_out(self._merge(attended)))
        q = self._split(self.cross_q(self.norm2(x)))
        attended = F.scaled_dot_product_attention(q, memory_kv[0], memory_kv[1], attn_mask=self.time_bias(buckets))
        x = x + self.dropout(self.cross_out(self._merge(attended)))
        return x + self.dropout(self.ffn(self.norm3(x)))

    def step_tensors(self, memory_kv: tuple[torch.Tensor, torch.Tensor]) -> LayerStep:
        """This layer's weights and one window's cross-attention memory, laid out for step()."""
        d, scale = self.heads * self.head_dim, self.head_dim ** -0.5
        qkv_weight, qkv_bias = self.qkv.weight.clone(), self.qkv.bias.clone()
        qkv_weight[:d] *= scale
        qkv_bias[:d] *= scale
        keys, values = (t.flatten(0, 1) for t in memory_kv)  # (B * H, F, head_dim)
        return LayerStep((self.norm1.weight, self.norm1.bias), (qkv_bias, qkv_weight.t()),
                         _transposed(self.self_out), (self.norm2.weight, self.norm2.bias),
                         (self.cross_q.bias * scale, (self.cross_q.weight * scale).t()),
                         keys.transpose(1, 2).contiguous(), values.contiguous(), _transposed(self.cross_out),
                         (self.norm3.weight, self.norm3.bias), _transposed(self.ffn[0]), _transposed(self.ffn[2]))

    def step(self, x: torch.Tensor, tensors: LayerStep, bias: torch.Tensor, key_bias: torch.Tensor | None,
             cache: KVCache, index: int) -> torch.Tensor:
        """forward() for one new position per row, x (B, D): the same maths in fewer, cheaper operations
        (for one query, bmm-softmax-bmm beats scaled_dot_product_attention's setup; query scales folded
        into the weights; views made once per window), because at batch size 1 a decoding step costs per
        operation, not per multiply. `bias` is the cross-attention time bias
        (B * H, 1, F), `key_bias` cache.key_bias()."""
        t = tensors
        b, d = x.shape
        length = cache.length + 1
        qkv = torch.addmm(t.qkv[0], torch.layer_norm(x, (d,), *t.norm1), t.qkv[1])
        cache.kv[index].select(3, cache.length).copy_(qkv[:, d:].view(b, 2, self.heads, self.head_dim).transpose(0, 1))
        keys, values = cache.merged[index].narrow(2, 0, length).unbind(0)
        q = qkv[:, :d].reshape(b * self.heads, 1, self.head_dim)
        scores = (torch.bmm(q, keys.transpose(1, 2)) if key_bias is None
                  else torch.baddbmm(key_bias.narrow(2, 0, length), q, keys.transpose(1, 2)))
        attended = torch.bmm(torch.softmax(scores, dim=-1), values)
        x = (x + t.self_out[0]).addmm_(attended.view(b, d), t.self_out[1])
        q = torch.addmm(t.cross_q[0], torch.layer_norm(x, (d,), *t.norm2), t.cross_q[1])
        q = q.view(b * self.heads, 1, self.head_dim)
        attended = torch.bmm(torch.softmax(torch.baddbmm(bias, q, t.cross_keys), dim=-1), t.cross_values)
        x = (x + t.cross_out[0]).addmm_(attended.view(b, d), t.cross_out[1])
        h = F.gelu(torch.addmm(t.ffn_in[0], torch.layer_norm(x, (d,), *t.norm3), t.ffn_in[1]), approximate="tanh")
        return (x + t.ffn_out[0]).addmm_(h, t.ffn_out[1])


def _transposed(linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(bias, weight.T) of a linear layer, as torch.addmm takes them."""
    return linear.bias, linear.weight.t()


@dataclass
class LayerStep:
    """A decoder layer's tensors as DecoderLayer.step uses them: linear layers as (bias, weight.T) with the
    attention scale folded into the queries, norms as (weight, bias), and one window's cross-attention keys
    (B * H, head_dim, F, pre-transposed) and values (B * H, F, head_dim)."""

    norm1: tuple[torch.Tensor, torch.Tensor]
    qkv: tuple[torch.Tensor, torch.Tensor]
    self_out: tuple[torch.Tensor, torch.Tensor]
    norm2: tuple[torch.Tensor, torch.Tensor]
    cross_q: tuple[torch.Tensor, torch.Tensor]
    cross_keys: torch.Tensor
    cross_values: torch.Tensor
    cross_out: tuple[torch.Tensor, torch.Tensor]
    norm3: tuple[torch.Tensor, torch.Tensor]
    ffn_in: tuple[torch.Tensor, torch.Tensor]
    ffn_out: tuple[torch.Tensor, torch.Tensor]
