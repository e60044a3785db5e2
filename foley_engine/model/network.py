"""The Graph-Transformer: pose encoder + event decoder, conditioned on the instrument, and its config.

One module holds the whole network so training, generation and checkpoints agree on a single config type;
the config is plain data (ints, floats, strings) so it can live in a checkpoint loaded with weights_only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from ..instruments import FAMILIES, INSTRUMENTS, Instrument
from . import stepping
from .decoder import CrossMemory, DecoderLayer, KVCache, time_encoding
from .features import NUM_FEATURES
from .graph import PoseEncoder
from .stepping import StepTensors, StepWeights
from .vocabulary import NUM_PITCHES, PAD_TOKEN, EventVocabulary


@dataclass(frozen=True)
class ModelConfig:
    """Network shape, the time layout it was trained for, and the vocabulary and instruments it knows."""

    d_model: int = 128
    heads: int = 4
    layers: int = 3
    ffn: int = 512
    encoder_channels: int = 32
    encoder_blocks: int = 3
    kernel: int = 5  # temporal convolution width, frames
    frame_layers: int = 2
    dropout: float = 0.1
    radius: int = 30  # cross-attention time bias reaches +-radius frames (1 s at 30 fps)
    rate: float = 30.0  # pose frames per second the encoder expects
    window: float = 8.0  # seconds of video per decoder window
    overlap: float = 2.0  # seconds of each window primed with the previous window's notes
    steps_per_second: int = 100
    max_shift_steps: int = 100
    velocity_bins: int = 32
    onset_head: bool = True  # per-frame onset/pitch predictions from the encoder (a training aid, see below)
    onset_threshold: float = 0.5  # onset-head peaks above it guide generation; set on validation data (calibration)
    onset_mass: float = 0.0  # weaker peaks join up to this x the head's probability mass (onsets.py); likewise
    #: instrument -> onsets per motion-onset strike that the floor asks for (onsets.py; calibration); else 1
    motion_floor_scale: dict[str, float] = field(default_factory=dict)
    instruments: tuple[str, ...] = field(default_factory=lambda: tuple(INSTRUMENTS))
    families: tuple[str, ...] = FAMILIES

    @property
    def vocabulary(self) -> EventVocabulary:
        return EventVocabulary(self.steps_per_second, self.max_shift_steps, self.velocity_bins)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["instruments"], data["families"] = list(self.instruments), list(self.families)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ModelError(f"model config has unknown fields {sorted(unknown)}; it needs a newer Foley")
        values = dict(data)
        for name in ("instruments", "families"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass
class EncodedWindow:
    """What the decoder reads from one window of video, computed once per window.

    `inputs[b, t]` is everything a token reaching grid step t gets besides its own embedding: the time code,
    the features of the frames around t and the instrument; tokens just look it up.
    """

    cross: CrossMemory
    inputs: torch.Tensor  # (B, steps + 1, D)
    stepping: StepTensors | None = None  # FoleyModel.prepare_step's, for step()
    onsets: torch.Tensor | None = None  # (B, F) probability that a note starts in each frame (onset head)

    def repeated(self, times: int) -> EncodedWindow:
        """This window with each row `times` times over, copies side by side (before prepare_step): the takes
        of one performer see the same video, so generation encodes it once and gives each take a copy."""
        if times == 1:
            return self

        def repeat(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.repeat_interleave(times, dim=0)

        cross = CrossMemory([repeat(k) for k in self.cross.keys], [repeat(v) for v in self.cross.values],
                            self.cross.frames)
        return EncodedWindow(cross, repeat(self.inputs), onsets=None if self.onsets is None else repeat(self.onsets))


class FoleyModel(nn.Module):
    layers: Sequence[DecoderLayer]  # an nn.ModuleList, whose items torch types as plain Modules

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoder = PoseEncoder(NUM_FEATURES, config.encoder_channels, config.encoder_blocks, config.kernel,
                                   d, config.frame_layers, config.dropout)
        self.instrument_embedding = nn.Embedding(len(config.instruments), d)
        self.family_embedding = nn.Embedding(len(config.families), d)
        self.token_embedding = nn.Embedding(config.vocabulary.size, d, padding_idx=PAD_TOKEN)
        self.time_projection = nn.Linear(d, d)
        self.local = nn.Conv1d(d, d, 4)  # frames f-1 .. f+2 around the token's frame f (padded in encode)
        self.layers = nn.ModuleList(  # type: ignore[assignment]  # it holds DecoderLayers only (see above)
            DecoderLayer(d, config.heads, config.ffn, config.dropout, config.radius) for _ in range(config.layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.vocabulary.size)
        # Dense per-frame supervision of the encoder (is a note starting here, which pitches): every frame
        # gets a label, so the encoder learns what an onset looks like far faster than through the decoder.
        self.onset_head = nn.Linear(d, 1 + NUM_PITCHES) if config.onset_head else None

    def instrument_ids(self, instruments: list[Instrument]) -> torch.Tensor:
        """(B, 2) instrument and family indices; an instrument the model never saw uses its family only."""
        rows = []
        for instrument in instruments:
            name = instrument.name if instrument.name in self.config.instruments else None
            if instrument.motion_family not in self.config.families:
                raise ModelError(f"this model does not know the {instrument.family} family of {instrument.name}")
            rows.append((self.config.instruments.index(name) if name else -1,
                         self.config.families.index(instrument.motion_family)))
        return torch.tensor(rows, dtype=torch.long)

    def memory(self, features: torch.Tensor, mask: torch.Tensor,
               instrument_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame features (B, T, D) with the instrument added, and the instrument condition (B, D)."""
        known = instrument_ids[:, 0] >= 0
        condition = self.family_embedding(instrument_ids[:, 1]) + \
            self.instrument_embedding(instrument_ids[:, 0].clamp(min=0)) * known.unsqueeze(-1)
        return self.encoder(features, mask) + condition.unsqueeze(1), condition

    def encode(self, features: torch.Tensor, mask: torch.Tensor, instrument_ids: torch.Tensor,
               steps: int | None = None, memory: tuple[torch.Tensor, torch.Tensor] | None = None
               ) -> EncodedWindow:
        """features (B, T, 67, 5), mask (B, T, 67), instrument_ids (B, 2) -> per-window decoder inputs for
        token times 0..steps (default: the config's window length); `memory` reuses memory()'s result."""
        frames, condition = memory or self.memory(features, mask, instrument_ids)
        padded = nn.functional.pad(frames.transpose(1, 2), (1, 2), mode="replicate")
        local = self.local(padded).transpose(1, 2)
        if steps is None:
            steps = round(self.config.window * self.config.steps_per_second)
        times = torch.arange(steps + 1, device=features.device)
        frame = self.query_frames(times).floor().long().clamp(0, frames.shape[1] - 1)
        inputs = (local[:, frame] + self.time_projection(time_encoding(times, self.config.d_model))
                  + condition.unsqueeze(1))
        keys, values = zip(*(layer.memory_kv(frames) for layer in self.layers), strict=True)
        onsets = None if self.onset_head is None else torch.sigmoid(self.onset_head(frames)[..., 0])
        return EncodedWindow(CrossMemory(list(keys), list(values), frames.shape[1]), inputs, onsets=onsets)

    def query_frames(self, times: torch.Tensor) -> torch.Tensor:
        """Fractional frame position of grid times (steps)."""
        return times.to(torch.float32) * (self.config.rate / self.config.steps_per_second)

    def decode(self, window: EncodedWindow, tokens: torch.Tensor, times: torch.Tensor,
               self_mask: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, L, vocab) for the token after each of `tokens` (B, L); `times` (B, L) are the grid
        steps reached after each token. With `cache`, the tokens continue the cached ones."""
        times = times.clamp(max=window.inputs.shape[1] - 1)  # as step() does; generation never goes past
        index = times.unsqueeze(-1).expand(-1, -1, window.inputs.shape[-1])
        x = self.token_embedding(tokens) + window.inputs.gather(1, index)
        buckets = self.layers[0].time_bias.buckets(self.query_frames(times), window.cross.frames)
        for i, layer in enumerate(self.layers):
            x = layer(x, (window.cross.keys[i], window.cross.values[i]), buckets, self_mask, cache, i)
        if cache is not None:
            cache.length += tokens.shape[1]
        logits: torch.Tensor = self.head(self.norm(x))
        return logits

    def forward(self, features: torch.Tensor, mask: torch.Tensor, instrument_ids: torch.Tensor,
                tokens: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced token logits (B, L, vocab) and per-frame onset logits (B, T, 1 + 128) or None."""
        memory = self.memory(features, mask, instrument_ids)
        onsets = self.onset_head(memory[0]) if self.onset_head is not None else None
        return self.decode(self.encode(features, mask, instrument_ids, memory=memory), tokens, times), onsets

    def step(self, window: EncodedWindow, tokens: np.ndarray, times: np.ndarray, cache: KVCache) -> np.ndarray:
        """decode() of one token per row, tokens and times (B,) ints, with the cache: logits (B, vocab), in
        numpy (stepping.py says how). Left padding is hidden as cache.valid marks it at the first step."""
        return stepping.step(self, window, tokens, times, cache)

    def step_weights(self) -> StepWeights:
        """The weights as step() uses them: the same for every window, so generation lays them out once."""
        return stepping.step_weights(self)

    def prepare_step(self, window: EncodedWindow,
                     weights: StepWeights | None = None) -> StepTensors:
        """Set up window.stepping, which the first step() does otherwise (stepping.prepare_step)."""
        return stepping.prepare_step(self, window, weights)

    def new_cache(self, batch: int, capacity: int, like: torch.Tensor) -> KVCache:
        c = self.config
        return KVCache.empty(c.layers, batch, c.heads, capacity, c.d_model // c.heads, like)
