"""The visual encoder: spatial graph convolutions over the performer's skeleton, then convolutions in time.

ST-GCN style (Yan et al. 2018), as in Foley Music, but mask-aware: a joint's neighbourhood average runs over
the neighbours the tracker actually saw (normalised by their number), and a missing joint is never a source,
so a hand that drops out for a few frames weakens the evidence instead of teleporting to (0, 0). Joint
identity is kept to the end (the last layer reads every joint's own channels), because *which* finger moves
says which note it is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..skeleton import NUM_JOINTS, performer_graph_edges


def adjacency_matrix() -> torch.Tensor:
    """(67, 67) float 0/1 matrix of the skeleton's bones, symmetric, without self-loops."""
    matrix = torch.zeros(NUM_JOINTS, NUM_JOINTS)
    for a, b in performer_graph_edges():
        matrix[a, b] = matrix[b, a] = 1.0
    return matrix


class MaskedGraphConv(nn.Module):
    """x_i W_self + mean over visible neighbours j of x_j W_neighbour (GraphSAGE-like, two partitions)."""

    adjacency: torch.Tensor  # a buffer (register_buffer below)

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.self_proj = nn.Linear(in_channels, out_channels)
        self.neighbour_proj = nn.Linear(in_channels, out_channels, bias=False)
        self.register_buffer("adjacency", adjacency_matrix(), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, V, C), mask (B, T, V) float 0/1 -> (B, T, V, C_out)."""
        b, t, v, c = x.shape
        sources = (x * mask.unsqueeze(-1)).permute(2, 0, 1, 3).reshape(v, -1)  # (V, B*T*C): one GEMM
        summed = (self.adjacency @ sources).reshape(v, b, t, c).permute(1, 2, 0, 3)
        count = mask @ self.adjacency  # visible neighbours per joint (adjacency is symmetric)
        mean = summed / count.clamp(min=1.0).unsqueeze(-1)
        out: torch.Tensor = self.self_proj(x) + self.neighbour_proj(mean)
        return out


class SpatioTemporalBlock(nn.Module):
    """Graph conv, then a temporal conv per joint, with a residual; masked joints feed neither."""

    def __init__(self, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.graph = MaskedGraphConv(channels, channels)
        self.norm1 = nn.LayerNorm(channels)
        self.temporal = nn.Conv2d(channels, channels, (kernel, 1), padding=(kernel // 2, 0))
        self.norm2 = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.graph(x, mask)))
        h = h * mask.unsqueeze(-1)
        h = self.temporal(h.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # conv over T for every joint
        out: torch.Tensor = x + self.dropout(F.gelu(self.norm2(h)))
        return out


class PoseEncoder(nn.Module):
    """(B, T, 67, features) + mask -> (B, T, d_model) per-frame features for the decoder to attend to."""

    def __init__(self, num_features: int, channels: int, blocks: int, kernel: int, d_model: int,
                 frame_layers: int, dropout: float) -> None:
        super().__init__()
        self.input = nn.Linear(num_features, channels)
        self.joint_embedding = nn.Parameter(torch.randn(NUM_JOINTS, channels) * 0.02)
        self.blocks = nn.ModuleList(SpatioTemporalBlock(channels, kernel, dropout) for _ in range(blocks))
        self.readout = nn.Linear(NUM_JOINTS * channels, d_model)
        self.visibility = nn.Linear(NUM_JOINTS, d_model, bias=False)  # which joints are seen at all
        self.frame_convs = nn.ModuleList(nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2)
                                         for _ in range(frame_layers))
        self.frame_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(frame_layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(features.dtype)
        x = (self.input(features) + self.joint_embedding) * mask.unsqueeze(-1)
        for block in self.blocks:
            x = block(x, mask)
        x = x * mask.unsqueeze(-1)  # read out only what was seen
        b, t = x.shape[:2]
        h = F.gelu(self.readout(x.reshape(b, t, -1)) + self.visibility(mask))
        for conv, norm in zip(self.frame_convs, self.frame_norms, strict=True):
            h = h + self.dropout(F.gelu(conv(norm(h).transpose(1, 2)).transpose(1, 2)))
        return h
