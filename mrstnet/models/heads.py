"""Classifier heads: (N, C, L, H, W) feature maps in, (N, num_classes) logits out."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _max_halves(x: Tensor) -> Tensor:
    """Adaptive max-pool of the last axis to 2 bins: (..., n) -> (..., 2).

    Bin i covers [floor(i·n/2), ceil((i+1)·n/2)) exactly as ``adaptive_max_pool``, so n = 1
    gives the value twice. Written with slices so an exported ONNX graph needs no static
    size (the exporter cannot write adaptive pooling once the clip length is dynamic).
    """
    n = x.shape[-1]
    return torch.stack((x[..., : (n + 1) // 2].amax(-1), x[..., n // 2 :].amax(-1)), dim=-1)


def max_pool_2x2(x: Tensor) -> Tensor:
    """(N, C, L, H, W) -> (N, C, L, 2, 2): ``AdaptiveMaxPool3d((None, 2, 2))``, export-friendly."""
    x = _max_halves(x)  # W -> 2
    return _max_halves(x.transpose(-1, -2)).transpose(-1, -2)  # H -> 2


class LSTMHead(nn.Module):
    """Table 1's head: max-pool to L×2×2, reshape to (N, L, 4C), LSTM, average over time, FC.

    The pool is adaptive so that inputs other than 224×224 still give 2×2 maps;
    at 224 (a 4×4 map after conv6) it is exactly the paper's 1×2×2, stride (1,2,2) max-pool.
    It is :func:`max_pool_2x2` so that ONNX export keeps the clip length dynamic.
    """

    def __init__(
        self, in_channels: int, num_classes: int, *, hidden: int = 1024, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(in_channels * 4, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = max_pool_2x2(x).permute(0, 2, 1, 3, 4).flatten(2)  # (N, L, C·2·2)
        x, _ = self.lstm(x)
        return self.fc(self.dropout(x.mean(dim=1)))


class AvgHead(nn.Module):
    """Global average pooling over L×H×W, dropout, FC."""

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.5) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(x).flatten(1)))
