"""One decoding step per token on a CPU: DecoderLayer.forward's maths for one new position per row, in few calls.

At batch size 1-4 a step costs per call, not per multiply: of the shipped model's step, about 40 % is MKL
streaming the weights (3.0 MB a token, more than a core's L2 holds) and the rest is the fixed cost of ~150
torch and numpy calls (3-7 thousand instructions each, measured with valgrind). So the same maths is laid
out to need few, cheap calls:

- each layer norm is folded into the matrix product after it (fold_norm_linear), the attention scale into
  the queries, output biases into the next norm; the residual stream has a last column of ones; the norm
  comes from the row's sum of squares and two columns of the product (its mean and the carried biases'
  part), not from a (D + 1)-wide centring block (3.6 MB a token before; 3 % faster a step, the same notes);
- products run in torch (MKL: a third of numpy's OpenBLAS time at these shapes), the small elementwise work
  in numpy, both on the same memory; views of the cache are numpy's slices (a torch slice costs twice as
  much), the residual's torch view is made once per step, a single row divides by a scalar;
- the self-attention scores of all heads are one plain product: each head's query sits in its block of a
  (heads, heads x head_dim) matrix that is zero elsewhere, against the keys kept transposed beside the
  cache (StepBuffers); torch's batched product with the cache's keys transposed on the fly took twice as
  long (12.7 us against 5.7 for the block product, alone, at the shipped model's shapes);
- the cross-attention time biases of every layer are one lookup, kept while the rows stay at the same grid
  step (the events at one moment share it).

Measured with valgrind on the shipped model: 1.74 million instructions a step before this layout, 1.45 after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .decoder import DecoderLayer, KVCache

if TYPE_CHECKING:
    from .network import EncodedWindow, FoleyModel


@dataclass
class NormLinear:
    """A layer norm and the linear layer after it, as fold_norm_linear lays them out for norm_linear."""

    weight: torch.Tensor  # (D + 1, 2 + out)
    bias: np.ndarray  # (1, out)
    width: int  # D, the residual's width without its ones column


def fold_norm_linear(norm: nn.LayerNorm, linear: nn.Linear, carried: np.ndarray,
                     scale: float | np.ndarray = 1.0) -> NormLinear:
    """linear(norm(x)), outputs times `scale`, as one product for step()'s rows (x - carried, 1).

    step() keeps the residual stream x with a last column of ones and adds layer outputs without their
    biases; `carried` is the sum of the biases left out, and the matrix's last row (times the ones) puts them
    back. Of the product, column 0 is the mean of x and column 1 the part of |x|^2 + D * eps that a row's own
    sum of squares lacks (the carried biases' cross terms and squares, less the ones column's 1), so the norm
    sqrt(D * (variance + eps)) is sqrt(row . row + column 1 - D * column 0^2); the rest are x - mean(x) through
    the norm's gain and the weight, times sqrt(D). norm_linear then only divides by that norm and adds the bias
    (the norm's shift through the weight plus the linear bias). Two columns instead of a (D + 1)-wide centring
    block: a sixth fewer bytes to stream per token. Folded in float64, kept in float32."""
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
    return NormLinear(torch.from_numpy(folded.astype(np.float32)),
                      (shift @ weight + bias).astype(np.float32)[None], d)


def norm_linear(xt: torch.Tensor, folded: NormLinear, space: Space) -> np.ndarray:
    """linear(layer_norm(residual)) of step()'s rows, `xt` (B, D + 1), into space.out (returned): one product
    and a few numpy calls, see fold_norm_linear. (One row divides by a scalar: numpy's broadcasting costs as
    much again as the division.)"""
    torch.mm(xt, folded.weight, out=space.z_t)
    if len(space.out) == 1:
        mean, rest = space.moments[0].tolist()
        row = space.x[0]
        np.divide(space.product, math.sqrt(float(row.dot(row)) + rest - folded.width * mean * mean), out=space.out)
    else:
        squares = np.einsum("ij,ij->i", space.x, space.x)
        norms = np.sqrt(squares + space.moments[:, 1] - folded.width * np.square(space.moments[:, 0]))
        np.divide(space.product, norms[:, None], out=space.out)
    space.out += folded.bias
    return space.out


class Space:
    """A NormLinear's product and output for B rows, kept from token to token so that no call allocates
    them, with the views norm_linear reads and their torch views; `x` is the residual stream it reads."""

    def __init__(self, x: np.ndarray, folded: NormLinear) -> None:
        batch, out = len(x), folded.bias.shape[1]
        self.x = x
        self.z = np.zeros((batch, 2 + out), np.float32)
        self.z_t = torch.from_numpy(self.z)
        self.moments, self.product = self.z[:, :2], self.z[:, 2:]
        self.out = np.zeros((batch, out), np.float32)
        self.out_t = torch.from_numpy(self.out)


@dataclass
class LayerStep:
    """A decoder layer's weights as layer_step uses them: norms folded into the linear layer after them (the
    attention scale into the queries), output weights (in, D + 1) without their biases."""

    qkv: NormLinear
    self_out: torch.Tensor
    cross_q: NormLinear
    cross_out: torch.Tensor
    ffn_in: NormLinear
    ffn_out: torch.Tensor


@dataclass
class StepWeights:
    """The model's weights as step() uses them; rows of its residual stream have D + 1 columns, the last one
    constant 1 (see fold_norm_linear)."""

    layers: list[LayerStep]
    head: NormLinear  # the final norm and the output layer
    tokens: np.ndarray  # (vocab, D + 1) token embeddings, last column 0
    bias_table: np.ndarray  # (2R + 1, layers * H) cross-attention time biases, one row per bucket


@dataclass
class StepTensors:
    """What step() reuses for every token of a window, laid out so each lookup is one cheap operation."""

    weights: StepWeights
    memory: list[tuple[torch.Tensor, torch.Tensor]]  # CrossMemory.step_arrays()
    buckets: np.ndarray  # (steps + 1, F) bias bucket of every (grid step, frame) pair
    inputs: np.ndarray  # (B * (steps + 1), D + 1) the window's inputs, rows after rows, last column 1
    offsets: np.ndarray  # (B,) where each row's inputs start in `inputs`


class StepBuffers:
    """What step() keeps beside one KV cache: every layer's keys transposed, (B, H * head_dim, capacity),
    filled from the cache for the positions decode() wrote (sync) and by step() for its own; the block
    matrix of queries, (B, H, H * head_dim), zero outside each head's own block; the residual, the products
    and the attention outputs, written in place (Space), with the views that read them made once; and the
    time biases of the last grid steps looked up (tokens at one grid step share them)."""

    def __init__(self, cache: KVCache, weights: StepWeights) -> None:
        _, batch, heads, capacity, dim = cache.arrays[0].shape
        d = heads * dim
        self.batch, self.heads = batch, heads
        self.keys = [np.zeros((batch, d, capacity), np.float32) for _ in cache.arrays]
        self.values = [kv[1].reshape(batch * heads, capacity, dim) for kv in cache.arrays]
        self.queries = np.zeros((batch, heads, d), np.float32)
        item = self.queries.itemsize
        self.blocks = np.lib.stride_tricks.as_strided(  # (B, H, head_dim): each head's block of the queries
            self.queries, (batch, heads, dim), (heads * d * item, (d + dim) * item, item))
        self.queries_t = torch.from_numpy(self.queries[0] if batch == 1 else self.queries)
        self.x = np.zeros((batch, d + 1), np.float32)  # the residual stream
        self.x_t = torch.from_numpy(self.x)
        self.spaces: dict[int, Space] = {}  # by output width: layers use them one after another
        layer = weights.layers[0]
        for folded in (layer.qkv, layer.cross_q, layer.ffn_in, weights.head):
            self.spaces.setdefault(folded.bias.shape[1], Space(self.x, folded))
        self.qkv, self.cross_q = self.space(layer.qkv), self.space(layer.cross_q)
        self.ffn_in, self.head = self.space(layer.ffn_in), self.space(weights.head)
        qkv = self.qkv.out
        self.new_kv = qkv[:, d:].reshape(batch, 2, heads, dim).swapaxes(0, 1)  # views: written to the cache
        self.new_keys, self.new_queries = qkv[:, d:2 * d], qkv[:, :d].reshape(batch, heads, dim)
        self.cross_queries = self.cross_q.out_t.view(batch * heads, 1, dim)
        self.attended = torch.zeros(batch * heads, 1, dim)
        self.attended_rows = self.attended.view(batch, d)
        assert np.shares_memory(self.new_kv, qkv) and np.shares_memory(self.new_queries, qkv)
        self.synced = 0  # the keys of positions [0, synced) are in self.keys
        self.biases_at = b""  # the grid steps (bytes) self.biases were looked up for
        self.biases: list[torch.Tensor] = []

    def space(self, folded: NormLinear) -> Space:
        return self.spaces[folded.bias.shape[1]]

    def sync(self, cache: KVCache) -> None:
        """Transpose the keys that decode() added to the cache since the last step."""
        start, end = self.synced, cache.length
        if start < end:
            for keys, kv in zip(self.keys, cache.arrays, strict=True):
                keys[:, :, start:end] = kv[0, :, :, start:end].transpose(0, 1, 3, 2).reshape(
                    self.batch, -1, end - start)
        self.synced = end

    def time_biases(self, tensors: StepTensors, index: np.ndarray) -> list[torch.Tensor]:
        """Per layer the (B * H, 1, F) cross-attention time biases of the rows at grid steps `index` (B,)."""
        at = index.tobytes()
        if at != self.biases_at:
            layers = len(tensors.memory)
            found = tensors.weights.bias_table.take(tensors.buckets.take(index, 0), 0)  # (B, F, layers * H)
            biases = found.reshape(self.batch, -1, layers, self.heads).transpose(2, 0, 3, 1)
            table = torch.from_numpy(np.ascontiguousarray(biases).reshape(layers, self.batch * self.heads, 1, -1))
            self.biases, self.biases_at = list(table.unbind(0)), at
        return self.biases


def layer_step(weights: LayerStep, memory: tuple[torch.Tensor, torch.Tensor], bias: torch.Tensor,
               key_bias: torch.Tensor | None, cache: KVCache, buffers: StepBuffers, index: int) -> None:
    """DecoderLayer.forward for one new position per row, in place on the residual buffers.x (B, D + 1) (see
    the module's docstring). `memory` is CrossMemory.step_arrays()'s for this layer, `bias` the
    cross-attention time bias (B * H, 1, F), `key_bias` cache.key_bias()."""
    t, b, x, position = weights, buffers.batch, buffers.x_t, cache.length
    length = position + 1
    norm_linear(x, t.qkv, buffers.qkv)
    cache.arrays[index][:, :, :, position] = buffers.new_kv
    keys = buffers.keys[index]
    keys[:, :, position] = buffers.new_keys
    buffers.blocks[...] = buffers.new_queries
    if b == 1:
        scores = torch.mm(buffers.queries_t, torch.from_numpy(keys[0, :, :length]))  # (H, keys)
    else:
        scores = torch.bmm(buffers.queries_t, torch.from_numpy(keys[:, :, :length]))  # (B, H, keys)
        if key_bias is not None:
            scores.add_(key_bias[:, 0, :, :length])
    torch.bmm(torch.softmax(scores, -1).view(b * buffers.heads, 1, length),
              torch.from_numpy(buffers.values[index][:, :length]), out=buffers.attended)
    x.addmm_(buffers.attended_rows, t.self_out)
    norm_linear(x, t.cross_q, buffers.cross_q)
    scores = torch.baddbmm(bias, buffers.cross_queries, memory[0])
    torch.bmm(torch.softmax(scores, -1), memory[1], out=buffers.attended)
    x.addmm_(buffers.attended_rows, t.cross_out)
    norm_linear(x, t.ffn_in, buffers.ffn_in)
    x.addmm_(F.gelu(buffers.ffn_in.out_t, approximate="tanh"), t.ffn_out)


def step(model: FoleyModel, window: EncodedWindow, tokens: np.ndarray, times: np.ndarray,
         key_bias: torch.Tensor | None, cache: KVCache) -> np.ndarray:
    """FoleyModel.decode() of one token per row, tokens and times (B,) ints, with the cache: logits (B, vocab)
    in numpy. `key_bias` is cache.key_bias() (computed once after the prefix, None without padding)."""
    t = window.stepping or prepare_step(model, window)
    w = t.weights
    if cache.step is None:
        cache.step = StepBuffers(cache, w)
    buffers = cache.step
    buffers.sync(cache)
    index = np.minimum(times, len(t.buckets) - 1)
    np.add(w.tokens.take(tokens, 0), t.inputs.take(t.offsets + index, 0), out=buffers.x)
    biases = buffers.time_biases(t, index)
    for i in range(len(t.memory)):
        layer_step(w.layers[i], t.memory[i], biases[i], key_bias, cache, buffers, i)
    cache.length += 1
    buffers.synced = cache.length
    return norm_linear(buffers.x_t, w.head, buffers.head).copy()


def step_weights(model: FoleyModel) -> StepWeights:
    """The weights as step() uses them: the same for every window, so generation lays them out once."""
    carried, layers = np.zeros(model.config.d_model), []
    for layer in model.layers:
        weights, carried = _layer_weights(layer, carried)
        layers.append(weights)
    return StepWeights(layers, fold_norm_linear(model.norm, model.head, carried),
                       nn.functional.pad(model.token_embedding.weight.detach().float(), (0, 1)).numpy(),
                       torch.cat([layer.time_bias.table for layer in model.layers], dim=1).detach().numpy())


def prepare_step(model: FoleyModel, window: EncodedWindow, weights: StepWeights | None = None) -> StepTensors:
    """Set up window.stepping, which the first step() does otherwise: call it ahead (generation does on the
    encoder's thread) to take the work out of the token loop. `weights` reuses step_weights(). The copies are
    torch's, which leave the GIL to the token loop meanwhile."""
    batch, steps, d = window.inputs.shape
    inputs = nn.functional.pad(window.inputs.detach().float().reshape(-1, d), (0, 1), value=1.0)
    frames = model.query_frames(torch.arange(steps))
    window.stepping = StepTensors(
        weights or step_weights(model), window.cross.step_arrays(),
        model.layers[0].time_bias.buckets(frames, window.cross.frames).numpy(), inputs.numpy(),
        np.arange(batch) * steps)
    return window.stepping


def _layer_weights(layer: DecoderLayer, carried: np.ndarray) -> tuple[LayerStep, np.ndarray]:
    """This layer's weights laid out for layer_step, and `carried` (the sum of the output biases the step
    leaves out of the residual stream, see fold_norm_linear) plus this layer's."""
    d, scale = layer.heads * layer.head_dim, layer.head_dim ** -0.5
    qkv = fold_norm_linear(layer.norm1, layer.qkv, carried, np.repeat([scale, 1.0, 1.0], d))
    carried = carried + _float64(layer.self_out.bias)
    cross_q = fold_norm_linear(layer.norm2, layer.cross_q, carried, scale)
    carried = carried + _float64(layer.cross_out.bias)
    ffn_in = fold_norm_linear(layer.norm3, _linear(layer.ffn[0]), carried)
    carried = carried + _float64(_linear(layer.ffn[2]).bias)
    return LayerStep(qkv, _output(layer.self_out), cross_q, _output(layer.cross_out), ffn_in,
                     _output(_linear(layer.ffn[2]))), carried


def _linear(module: nn.Module) -> nn.Linear:
    """One of ffn's linear layers, as what it is: indexing nn.Sequential gives a plain Module."""
    assert isinstance(module, nn.Linear)
    return module


def _float64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _output(linear: nn.Linear) -> torch.Tensor:
    """(in, D + 1) weight.T of a linear layer adding to the residual: its bias is carried (see
    fold_norm_linear) and the ones column gets zeros."""
    weight = _float64(linear.weight).T
    return torch.from_numpy(np.concatenate([weight, np.zeros((len(weight), 1))], axis=1).astype(np.float32))
