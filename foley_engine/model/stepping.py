"""One decoding step per token on a CPU: DecoderLayer.forward's maths for one new position per row, in one call.

The weights are laid out once for the step (step_weights), a window's cross-attention memory once per window
(prepare_step, on the encoder's thread), and the step itself is one compiled call (kernels.decoder_step, which
says why). The layout:

- each layer norm is folded into the matrix product after it (fold_norm_linear), the attention scale into
  the queries, output biases into the next norm; the residual stream has a last column of ones; the norm
  comes from the row's sum of squares and two columns of the product (its mean and the carried biases'
  part), not from a (D + 1)-wide centring block: a sixth fewer bytes to stream per token, and streaming the
  weights (3.0 MB a token on the shipped model, more than a core's L2 holds) is a large part of a step;
- each kind of weight is stacked over the layers, the cross-attention keys kept transposed (head_dim, frames)
  so a head's scores are a sum of contiguous rows;
- the cross-attention time biases are looked up per frame from the table and each frame's distance bucket.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import nn

from .decoder import DecoderLayer, KVCache

if TYPE_CHECKING:
    from .network import EncodedWindow, FoleyModel


class StepWeights(NamedTuple):
    """The model's weights as kernels.decoder_step uses them, float32, each kind stacked over the layers.

    Rows of its residual stream have D + 1 columns, the last one constant 1 (see fold_norm_linear); the
    `*_bias` arrays are the folded biases of the norm-and-linear products, added after the norm."""

    qkv: np.ndarray  # (layers, D + 1, 2 + 3D), queries pre-scaled
    qkv_bias: np.ndarray  # (layers, 3D)
    self_out: np.ndarray  # (layers, D, D + 1): output weights without their biases (carried)
    cross_q: np.ndarray  # (layers, D + 1, 2 + D)
    cross_q_bias: np.ndarray  # (layers, D)
    cross_out: np.ndarray  # (layers, D, D + 1)
    ffn_in: np.ndarray  # (layers, D + 1, 2 + ffn)
    ffn_in_bias: np.ndarray  # (layers, ffn)
    ffn_out: np.ndarray  # (layers, ffn, D + 1)
    head: np.ndarray  # (D + 1, 2 + vocab): the final norm and the output layer
    head_bias: np.ndarray  # (vocab,)
    tokens: np.ndarray  # (vocab, D + 1) token embeddings, last column 0
    bias_table: np.ndarray  # (2R + 1, layers * H) cross-attention time biases, one row per distance bucket


class StepTensors(NamedTuple):
    """What a step reuses for every token of a window."""

    weights: StepWeights
    inputs: np.ndarray  # (B * (steps + 1), D + 1) the window's inputs, rows after rows, last column 1
    offsets: np.ndarray  # (B,) where each row's inputs start in `inputs`
    buckets: np.ndarray  # (steps + 1, F) time-bias bucket of every (grid step, frame) pair
    cross_keys: np.ndarray  # (layers, B * H, head_dim, F)
    cross_values: np.ndarray  # (layers, B * H, F, head_dim)


class StepBuffers:
    """What step() keeps beside one KV cache: the residual stream, the logits, and the additive mask hiding
    each row's left padding (0 or -inf per cached position), made from the cache's `valid` at the first step."""

    def __init__(self, cache: KVCache, weights: StepWeights) -> None:
        batch = len(cache.valid)
        vocabulary, width = weights.tokens.shape
        self.x = np.zeros((batch, width), np.float32)
        self.logits = np.zeros((batch, vocabulary), np.float32)
        self.key_bias = np.where(cache.valid.numpy(), 0.0, -math.inf).astype(np.float32)


def step(model: FoleyModel, window: EncodedWindow, tokens: np.ndarray, times: np.ndarray,
         cache: KVCache) -> np.ndarray:
    """FoleyModel.decode() of one token per row, tokens and times (B,) ints, with the cache: logits (B, vocab)
    in numpy. Rows decoded after left padding need their padding marked in cache.valid before the first step."""
    from . import kernels  # numba, when the first token is decoded (kernels.py says why)

    capacity = cache.array.shape[-2]
    if cache.length >= capacity:  # the compiled step does not check: it would write past the cache's end
        raise IndexError(f"the KV cache's {capacity} positions are all used")
    tensors = window.stepping or prepare_step(model, window)
    if cache.step is None:
        cache.step = StepBuffers(cache, tensors.weights)
    buffers = cache.step
    kernels.decoder_step(tensors, np.asarray(tokens, np.int64), np.asarray(times, np.int64), cache.array,
                         cache.length, buffers.key_bias, buffers.x, buffers.logits)
    cache.length += 1
    return buffers.logits.copy()


def step_weights(model: FoleyModel) -> StepWeights:
    """The weights as step() uses them: the same for every window, so generation lays them out once."""
    carried, layers = np.zeros(model.config.d_model), []
    for layer in model.layers:
        weights, carried = _layer_weights(layer, carried)
        layers.append(weights)
    head, head_bias = fold_norm_linear(model.norm, model.head, carried)
    qkv, qkv_bias, self_out, cross_q, cross_q_bias, cross_out, ffn_in, ffn_in_bias, ffn_out = (
        np.ascontiguousarray(np.stack(kind)) for kind in zip(*layers, strict=True))
    return StepWeights(qkv, qkv_bias, self_out, cross_q, cross_q_bias, cross_out, ffn_in, ffn_in_bias, ffn_out,
                       head, head_bias,
                       nn.functional.pad(model.token_embedding.weight.detach().float(), (0, 1)).numpy(),
                       torch.cat([layer.time_bias.table for layer in model.layers], dim=1).detach().numpy())


def prepare_step(model: FoleyModel, window: EncodedWindow, weights: StepWeights | None = None) -> StepTensors:
    """Set up window.stepping, which the first step() does otherwise: call it ahead (generation does on the
    encoder's thread) to take the work out of the token loop. `weights` reuses step_weights(). The copies are
    torch's, which leave the GIL to the token loop meanwhile."""
    batch, steps, d = window.inputs.shape
    inputs = nn.functional.pad(window.inputs.detach().float().reshape(-1, d), (0, 1), value=1.0)
    frames = model.query_frames(torch.arange(steps))
    keys, values = window.cross.step_arrays()
    window.stepping = StepTensors(weights or step_weights(model), inputs.numpy(), np.arange(batch) * steps,
                                  model.layers[0].time_bias.buckets(frames, window.cross.frames).numpy(),
                                  keys.numpy(), values.numpy())
    return window.stepping


def fold_norm_linear(norm: nn.LayerNorm, linear: nn.Linear, carried: np.ndarray,
                     scale: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """linear(norm(x)), outputs times `scale`, as one (D + 1, 2 + out) product for the step's rows (x - carried,
    1), and the bias to add after the norm (out,).

    The step keeps the residual stream x with a last column of ones and adds layer outputs without their
    biases; `carried` is the sum of the biases left out, and the matrix's last row (times the ones) puts them
    back. Of the product, column 0 is the mean of x and column 1 the part of |x|^2 + D * eps that a row's own
    sum of squares lacks (the carried biases' cross terms and squares, less the ones column's 1), so the norm
    sqrt(D * (variance + eps)) is sqrt(row . row + column 1 - D * column 0^2); the rest are x - mean(x) through
    the norm's gain and the weight, times sqrt(D). The step then only divides by that norm and adds the bias
    (the norm's shift through the weight plus the linear bias). Folded in float64, kept in float32."""
    d = len(carried)
    gain, shift = _float64(norm.weight), _float64(norm.bias)
    weight, bias = _float64(linear.weight).T * scale, _float64(linear.bias) * scale
    folded = np.zeros((d + 1, 2 + weight.shape[1]))
    folded[:d, 0] = 1.0 / d
    folded[d, 0] = carried.sum() / d
    folded[:d, 1] = 2 * carried
    folded[d, 1] = carried @ carried + d * norm.eps - 1.0
    scaled = gain[:, None] * weight
    folded[:d, 2:] = math.sqrt(d) * (scaled - scaled.mean(axis=0))  # (I - 1/D) @ scaled
    folded[d, 2:] = carried @ folded[:d, 2:]
    return folded.astype(np.float32), (shift @ weight + bias).astype(np.float32)


def _layer_weights(layer: DecoderLayer, carried: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """This layer's weights in StepWeights' order (qkv to ffn_out), and `carried` (the sum of the output biases
    the step leaves out of the residual stream, see fold_norm_linear) plus this layer's."""
    d, scale = layer.heads * layer.head_dim, layer.head_dim ** -0.5
    qkv = fold_norm_linear(layer.norm1, layer.qkv, carried, np.repeat([scale, 1.0, 1.0], d))
    carried = carried + _float64(layer.self_out.bias)
    cross_q = fold_norm_linear(layer.norm2, layer.cross_q, carried, scale)
    carried = carried + _float64(layer.cross_out.bias)
    ffn_in = fold_norm_linear(layer.norm3, _linear(layer.ffn[0]), carried)
    carried = carried + _float64(_linear(layer.ffn[2]).bias)
    return (*qkv, _output(layer.self_out), *cross_q, _output(layer.cross_out), *ffn_in,
            _output(_linear(layer.ffn[2]))), carried


def _linear(module: nn.Module) -> nn.Linear:
    """One of ffn's linear layers, as what it is: indexing nn.Sequential gives a plain Module."""
    assert isinstance(module, nn.Linear)
    return module


def _float64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _output(linear: nn.Linear) -> np.ndarray:
    """(in, D + 1) weight.T of a linear layer adding to the residual: its bias is carried (see
    fold_norm_linear) and the ones column gets zeros."""
    weight = _float64(linear.weight).T
    output: np.ndarray = np.concatenate([weight, np.zeros((len(weight), 1))], axis=1).astype(np.float32)
    return output
