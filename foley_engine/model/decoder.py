"""The event decoder: a pre-norm Transformer over MIDI event tokens that attends to the pose features.

Two things make it learn timing fast on a CPU budget. Every token knows the music time it leaves the track
at (the running sum of its TIME_SHIFTs), and cross-attention gets a learned bias on the distance between
that time and each video frame (T5-style relative buckets), so "look at the frames around now" is built in
rather than discovered. Generation keeps a key/value cache, so each new token costs one position's work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class KVCache:
    """Self-attention keys and values of the tokens decoded so far, preallocated for `capacity` positions.

    Keys and values lead so that step() writes a new position's both with one assignment."""

    kv: list[torch.Tensor]  # per layer (2, B, H, capacity, head_dim): keys then values
    valid: torch.Tensor  # (B, capacity) bool: False for left padding
    length: int = 0
    arrays: list[np.ndarray] = field(init=False)  # per layer kv's memory as numpy, for step()'s writes
    detached: list[torch.Tensor] = field(init=False)  # and as tensors outside autograd, for its reads

    def __post_init__(self) -> None:
        self.detached = [kv.detach() for kv in self.kv]
        self.arrays = [kv.numpy() for kv in self.detached]

    @classmethod
    def empty(cls, layers: int, batch: int, heads: int, capacity: int, head_dim: int,
              like: torch.Tensor) -> KVCache:
        return cls([like.new_zeros((2, batch, heads, capacity, head_dim)) for _ in range(layers)],
                   torch.zeros(batch, capacity, dtype=torch.bool, device=like.device))

    def key_bias(self) -> torch.Tensor | None:
        """Additive (B, 1, 1, capacity) mask hiding padding from later steps, or None without padding."""
        if bool(self.valid.all()):
            return None
        return torch.zeros(self.valid.shape).masked_fill_(~self.valid, -math.inf)[:, None, None]


@dataclass
class CrossMemory:
    """Per-window values the decoder reuses at every step: cross-attention keys/values per layer."""

    keys: list[torch.Tensor]  # per layer (B, H, F, head_dim)
    values: list[torch.Tensor]
    frames: int

    def step_arrays(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer keys (B * H, head_dim, F, pre-transposed) and values (B * H, F, head_dim) for step()."""
        return [(k.detach().float().transpose(2, 3).flatten(0, 1).contiguous(),
                 v.detach().float().flatten(0, 1).contiguous()) for k, v in zip(self.keys, self.values, strict=True)]


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
        x = x + self.dropout(self.ffn(self.norm3(x)))
        return x

    def step_weights(self, carried: np.ndarray) -> tuple[LayerStep, np.ndarray]:
        """This layer's weights laid out for step(), and `carried` (the sum of the output biases step() leaves
        out of the residual stream, see fold_norm_linear) plus this layer's."""
        d, scale = self.heads * self.head_dim, self.head_dim ** -0.5
        qkv = fold_norm_linear(self.norm1, self.qkv, carried, np.repeat([scale, 1.0, 1.0], d))
        carried = carried + _float64(self.self_out.bias)
        cross_q = fold_norm_linear(self.norm2, self.cross_q, carried, scale)
        carried = carried + _float64(self.cross_out.bias)
        ffn_in = fold_norm_linear(self.norm3, _linear(self.ffn[0]), carried)
        carried = carried + _float64(_linear(self.ffn[2]).bias)
        return LayerStep(qkv, _output(self.self_out), cross_q, _output(self.cross_out), ffn_in,
                         _output(_linear(self.ffn[2]))), carried

    def step(self, x: np.ndarray, weights: LayerStep, memory: tuple[torch.Tensor, torch.Tensor], bias: np.ndarray,
             key_bias: torch.Tensor | None, cache: KVCache, index: int) -> np.ndarray:
        """forward() for one new position per row, x (B, D + 1) laid out as fold_norm_linear says (updated in
        place). At batch size 1 a decoding step costs per operation, not per multiply, so this is the same
        maths in few calls: each layer norm is folded into the matmul after it, the query scales into the
        weights, output biases into the next norm; the small elementwise operations run in numpy (about 1 us a
        call where torch takes 3-10), the products in torch (MKL, see _mm), both on the same memory.
        `memory` is CrossMemory.step_arrays()'s for this layer, `bias` the cross-attention time bias
        (B, H, 1, F), `key_bias` cache.key_bias()."""
        t, b, heads, dim = weights, len(x), self.heads, self.head_dim
        d, kv, length = heads * dim, cache.detached[index], cache.length + 1
        residual = torch.from_numpy(x)  # x's memory: its in-place updates are x's
        qkv = norm_linear(x, t.qkv)
        cache.arrays[index][:, :, :, cache.length] = qkv[:, d:].reshape(b, 2, heads, dim).swapaxes(0, 1)
        query = torch.from_numpy(qkv[:, :d]).reshape(b * heads, 1, dim)
        keys, values = kv[:, :, :, :length].reshape(2, b * heads, length, dim).unbind(0)
        scores = torch.bmm(query, keys.transpose(1, 2))
        if key_bias is not None:
            scores = scores.view(b, heads, 1, length).add_(key_bias[..., :length]).view(b * heads, 1, length)
        residual.addmm_(_attend(scores, values).view(b, d), t.self_out)
        query = torch.from_numpy(norm_linear(x, t.cross_q)).view(b * heads, 1, dim)
        scores = torch.baddbmm(torch.from_numpy(bias).reshape(b * heads, 1, -1), query, memory[0])
        residual.addmm_(_attend(scores, memory[1]).view(b, d), t.cross_out)
        residual.addmm_(F.gelu(torch.from_numpy(norm_linear(x, t.ffn_in)), approximate="tanh"), t.ffn_out)
        return x


@dataclass
class NormLinear:
    """A layer norm and the linear layer after it, as fold_norm_linear lays them out for norm_linear."""

    weight: torch.Tensor  # (D + 1, D + 1 + out), for _mm
    bias: np.ndarray  # (out,)
    ones: np.ndarray  # (D + 1, 1): the sum of squares as one matmul


def fold_norm_linear(norm: nn.LayerNorm, linear: nn.Linear, carried: np.ndarray,
                     scale: float | np.ndarray = 1.0) -> NormLinear:
    """linear(norm(x)), outputs times `scale`, as one matmul for step()'s rows (x - carried, 1).

    step() keeps the residual stream x with a last column of ones and adds layer outputs without their
    biases; `carried` is the sum of the biases left out, and the matrix's last row (times the ones) puts them
    back. Of the product, the first D columns are x - mean(x) (x times I - 1/D) and column D is sqrt(D * eps),
    so those D + 1 have the norm sqrt(D * (variance + eps)); the rest are x - mean(x) through the norm's gain
    and the weight, times sqrt(D). norm_linear then only divides by that norm and adds the bias (the norm's
    shift through the weight plus the linear bias). Folded in float64, kept in float32."""
    d = len(carried)
    gain, shift = _float64(norm.weight), _float64(norm.bias)
    weight, bias = _float64(linear.weight).T * scale, _float64(linear.bias) * scale
    folded = np.zeros((d + 1, d + 1 + weight.shape[1]))
    folded[:d, :d] = np.eye(d) - 1.0 / d
    scaled = gain[:, None] * weight
    folded[:d, d + 1:] = math.sqrt(d) * (scaled - scaled.mean(axis=0))  # (I - 1/D) @ scaled
    folded[d] = carried @ folded[:d]
    folded[d, d] = math.sqrt(d * norm.eps)
    return NormLinear(torch.from_numpy(folded.astype(np.float32)), (shift @ weight + bias).astype(np.float32),
                      np.ones((d + 1, 1), np.float32))


def norm_linear(x: np.ndarray, folded: NormLinear) -> np.ndarray:
    """linear(layer_norm(residual)) of step()'s rows x (B, D + 1) in six numpy calls, see fold_norm_linear."""
    z = _mm(x, folded.weight)
    width = x.shape[1]
    out: np.ndarray = z[:, width:] / np.sqrt(np.dot(np.square(z[:, :width]), folded.ones)) + folded.bias
    return out


def _mm(x: np.ndarray, weight: torch.Tensor) -> np.ndarray:
    """x @ weight for step(): torch's matrix product (MKL) takes a third of numpy's (OpenBLAS) time at these
    shapes, (1-4, 129-512) x (129-512, 129-641), measured in CPU time, and wrapping the arrays costs under 1 us."""
    product: np.ndarray = torch.mm(torch.from_numpy(x), weight).numpy()
    return product


def _attend(scores: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """softmax(scores) @ values over the keys (last axis), (B * H, 1, keys) and (B * H, keys, head_dim): two
    torch calls, a third of numpy's time over a window's frames or a long cache."""
    return torch.bmm(torch.softmax(scores, -1), values)


def _linear(module: nn.Module) -> nn.Linear:
    """One of ffn's linear layers, as what it is: indexing nn.Sequential gives a plain Module."""
    assert isinstance(module, nn.Linear)
    return module


def _float64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _output(linear: nn.Linear) -> torch.Tensor:
    """(in, D + 1) weight.T of a linear layer adding to step()'s residual: its bias is carried (see
    fold_norm_linear) and the ones column gets zeros."""
    weight = _float64(linear.weight).T
    return torch.from_numpy(np.concatenate([weight, np.zeros((len(weight), 1))], axis=1).astype(np.float32))


@dataclass
class LayerStep:
    """A decoder layer's weights as DecoderLayer.step uses them: norms folded into the linear layer after
    them (the attention scale into the queries), output weights (in, D + 1) without their biases."""

    qkv: NormLinear
    self_out: torch.Tensor
    cross_q: NormLinear
    cross_out: torch.Tensor
    ffn_in: NormLinear
    ffn_out: torch.Tensor
