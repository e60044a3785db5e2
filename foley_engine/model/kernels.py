"""Generation's compiled code (numba): the decoder's one-token step, stepping.py's folded maths in a single call,
and the sampler's draw.

Why compiled: at batch size 1-4 a step is ~150 tiny operations, and as torch or numpy calls each costs a few
thousand instructions of dispatch, so the calls, not the multiplications, were most of a token's time
(valgrind: 1.45 million instructions a step, MKL's products under half of it). Here a step is one call: each
weight matrix is streamed once for all rows, attention reads the cache in place, and nothing is allocated but
a few small scratch rows. On the shipped model, one row: about 220 us a step against 410 for the same maths
as torch and numpy calls, with logits equal within 1e-4 (tests/test_model_generate.py checks them against a
full recomputation) and the same notes (tests/test_model_pinned.py). Drawing a token from the grammar's allowed
ones took ~40 us of numpy calls, ~10 here.

fastmath lets the compiler reorder the step's float sums across SIMD lanes, so the last bits of the logits
depend on the CPU's vector width, as MKL's products already did; error_model="numpy" keeps Python's
division-by-zero checks out of the inner loops. The compiled code is cached beside this file (numba's cache):
`make venv` compiles it (model.warm_up, a few seconds), later processes load it (~0.25 s, at their first token).
This module, and numba with its compiler (~100 MB), is imported at the first token, not with the model: a
clip's pose stage, where memory peaks, runs before and without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from .stepping import StepTensors

_compiled = njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
#: The sampler keeps float maths in order: a draw inverts a cumulative sum at a uniform, and reordered sums
#: could move a boundary by a last bit.
_sampled = njit(cache=True, nogil=True, error_model="numpy")


@_compiled
def decoder_step(window: StepTensors, tokens: np.ndarray, steps: np.ndarray,
                 kv: np.ndarray, position: int, key_bias: np.ndarray, x: np.ndarray, logits: np.ndarray) -> None:
    """One token per row through every layer and the head, into `logits` (B, vocab).

    tokens, steps (B,): each row's new token and the grid step it reached; kv (layers, 2, B, H, capacity,
    head_dim): the self-attention cache, this step's keys and values written at `position`; key_bias (B,
    capacity): 0, or -inf where a row has left padding; x (B, D + 1): the residual stream, overwritten."""
    weights = window.weights
    batch, width = x.shape
    d = width - 1
    layers = weights.qkv.shape[0]
    heads = weights.bias_table.shape[1] // layers
    last = window.buckets.shape[0] - 1
    for b in range(batch):
        x[b] = weights.tokens[tokens[b]] + window.inputs[window.offsets[b] + min(steps[b], last)]
    qkv = np.empty((batch, 3 * d), np.float32)
    queries = np.empty((batch, d), np.float32)
    attended = np.empty((batch, d), np.float32)
    hidden = np.empty((batch, weights.ffn_in_bias.shape[1]), np.float32)
    scores = np.empty(max(position + 1, window.buckets.shape[1]), np.float32)
    for layer in range(layers):
        _norm_linear(x, weights.qkv[layer], weights.qkv_bias[layer], qkv)
        _self_attention(qkv, kv[layer], position, key_bias, heads, scores, attended)
        _add_product(attended, weights.self_out[layer], x)
        _norm_linear(x, weights.cross_q[layer], weights.cross_q_bias[layer], queries)
        for b in range(batch):
            buckets = window.buckets[min(steps[b], last)]
            for h in range(heads):
                _cross_head(queries[b], window.cross_keys[layer, b * heads + h],
                            window.cross_values[layer, b * heads + h], buckets,
                            weights.bias_table[:, layer * heads + h], h, scores, attended[b])
        _add_product(attended, weights.cross_out[layer], x)
        _norm_linear(x, weights.ffn_in[layer], weights.ffn_in_bias[layer], hidden)
        _gelu(hidden)
        _add_product(hidden, weights.ffn_out[layer], x)
    _norm_linear(x, weights.head, weights.head_bias, logits)


@_compiled
def _norm_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """out = linear(layer_norm(x)) for rows x (B, D + 1) through a stepping.fold_norm_linear weight (D + 1,
    2 + out): column 0 of the product is a row's mean, column 1 what its sum of squares lacks of the norm."""
    batch, width = x.shape
    z = np.zeros((batch, weight.shape[1]), np.float32)
    for k in range(width):
        row = weight[k]
        for b in range(batch):
            xk = x[b, k]
            zb = z[b]
            for j in range(row.shape[0]):
                zb[j] += xk * row[j]
    for b in range(batch):
        squares = np.float32(0.0)
        for k in range(width):
            squares += x[b, k] * x[b, k]
        norm = math.sqrt(squares + z[b, 1] - (width - 1) * z[b, 0] * z[b, 0])
        for j in range(out.shape[1]):
            out[b, j] = z[b, j + 2] / norm + bias[j]


@_compiled
def _add_product(a: np.ndarray, weight: np.ndarray, x: np.ndarray) -> None:
    """x += a @ weight, rows a (B, in), weight (in, D + 1): a layer's output added to the residual."""
    for k in range(weight.shape[0]):
        row = weight[k]
        for b in range(a.shape[0]):
            ak = a[b, k]
            xb = x[b]
            for j in range(row.shape[0]):
                xb[j] += ak * row[j]


@_compiled
def _self_attention(qkv: np.ndarray, kv: np.ndarray, position: int, key_bias: np.ndarray, heads: int,
                    scores: np.ndarray, attended: np.ndarray) -> None:
    """Each row's new keys and values into the cache kv (2, B, H, capacity, head_dim) at `position`, and its
    queries' attention over positions [0, position] into `attended` (B, D)."""
    batch, d = attended.shape
    dim = d // heads
    for b in range(batch):
        for h in range(heads):
            keys, values = kv[0, b, h], kv[1, b, h]
            keys[position] = qkv[b, d + h * dim:d + (h + 1) * dim]
            values[position] = qkv[b, 2 * d + h * dim:2 * d + (h + 1) * dim]
            query = qkv[b, h * dim:(h + 1) * dim]
            for j in range(position + 1):
                score = key_bias[b, j]
                for e in range(dim):
                    score += query[e] * keys[j, e]
                scores[j] = score
            _softmax(scores[:position + 1])
            out = attended[b, h * dim:(h + 1) * dim]
            out[:] = 0.0
            for j in range(position + 1):
                p = scores[j]
                for e in range(dim):
                    out[e] += p * values[j, e]


@_compiled
def _cross_head(queries: np.ndarray, keys: np.ndarray, values: np.ndarray, buckets: np.ndarray,
                bias_table: np.ndarray, h: int, scores: np.ndarray, attended: np.ndarray) -> None:
    """Head h of one row's cross-attention over the window's frames: keys (head_dim, F), values (F, head_dim),
    the time bias of every frame from its distance bucket (F,) in this layer-and-head's column of the table."""
    dim, frames = keys.shape
    weights = scores[:frames]
    for f in range(frames):
        weights[f] = bias_table[buckets[f]]
    for e in range(dim):
        q = queries[h * dim + e]
        row = keys[e]
        for f in range(frames):
            weights[f] += q * row[f]
    _softmax(weights)
    out = attended[h * dim:(h + 1) * dim]
    out[:] = 0.0
    for f in range(frames):
        p = weights[f]
        for e in range(dim):
            out[e] += p * values[f, e]


@_compiled
def _softmax(scores: np.ndarray) -> None:
    top = scores.max()
    total = np.float32(0.0)
    for j in range(scores.shape[0]):
        scores[j] = math.exp(scores[j] - top)
        total += scores[j]
    scores /= total


@_compiled
def _gelu(hidden: np.ndarray) -> None:
    """GELU, tanh approximation (the model's nn.GELU(approximate="tanh")), in place."""
    for b in range(hidden.shape[0]):
        for j in range(hidden.shape[1]):
            v = hidden[b, j]
            hidden[b, j] = 0.5 * v * (1.0 + math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))


@_sampled
def draw_rows(logits: np.ndarray, allowed: np.ndarray, temperature: float, top_k: int, top_p: float,
               draws: np.ndarray) -> np.ndarray:
    """Each row's token: its only allowed one, the most likely allowed one at temperature 0, else one drawn
    with the next of `draws` over its allowed tokens' logits divided by the temperature (in float64)."""
    chosen = np.empty(len(logits), np.int64)
    used = 0
    for b in range(len(logits)):
        ids = np.flatnonzero(allowed[b])
        if len(ids) == 1:
            chosen[b] = ids[0]
        elif temperature == 0:
            chosen[b] = ids[np.argmax(logits[b][ids])]
        else:
            scaled = logits[b][ids].astype(np.float64) / temperature
            chosen[b] = ids[_draw(scaled, top_k, top_p, draws[used])]
            used += 1
    return chosen


@_sampled
def _draw(scaled: np.ndarray, top_k: int, top_p: float, uniform: float) -> int:
    """Index into `scaled` logits of one token drawn from their top-k / top-p filtered softmax, by inverting
    the cumulative distribution, most likely tokens first, at `uniform` in [0, 1). Ties with the k-th stay in;
    top-p keeps the smallest set reaching it (the tokens with at most top_p before them)."""
    index = np.arange(len(scaled))
    if top_k and top_k < len(scaled):
        kth = np.sort(scaled)[len(scaled) - top_k]
        index = np.flatnonzero(scaled >= kth)
        scaled = scaled[index]
    weights = np.exp(scaled - scaled.max())
    order = np.argsort(-weights, kind="mergesort")  # stable: equal weights keep the vocabulary's order
    cumulative = np.cumsum(weights[order])
    kept = len(cumulative)
    if top_p < 1:
        kept = 1 + np.searchsorted(cumulative[:kept - 1], top_p * cumulative[-1], side="right")
    pick = min(np.searchsorted(cumulative[:kept], uniform * cumulative[kept - 1], side="right"), kept - 1)
    return int(index[order[pick]])
