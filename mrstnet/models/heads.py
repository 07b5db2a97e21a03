"""Classifier heads: (N, C, L, H, W) feature maps in, (N, num_classes) logits out."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _max_halves(x: Tensor) -> Tensor:
    """Adaptive max-pool of the last axis to 2 bins: (..., n) -> (..., 2).

    Bin i covers [floor(i·n/2), ceil((i+1)·n/2)) exactly as ``adaptive_max_pool``, so n = 1
    gives the value twice. Written with slices so an exported ONNX graph needs no static
    size (the exporter cannot write adaptive pooling once an axis is dynamic).
    """
    n = x.shape[-1]
    return torch.stack((x[..., : (n + 1) // 2].amax(-1), x[..., n // 2 :].amax(-1)), dim=-1)


def max_pool_2x2(x: Tensor) -> Tensor:
    """(N, C, L, H, W) -> (N, C, L, 2, 2): ``AdaptiveMaxPool3d((None, 2, 2))``, export-friendly."""
    x = _max_halves(x)  # W -> 2
    return _max_halves(x.transpose(-1, -2)).transpose(-1, -2)  # H -> 2


def _avg_bins(x: Tensor, k: int) -> Tensor:
    """Adaptive average of the last axis to k bins: (..., n) -> (..., k).

    Bin i covers [floor(i·n/k), ceil((i+1)·n/k)) exactly as ``adaptive_avg_pool``. Slices
    whose bounds are computed from the traced size export to ONNX at any n (the exporter
    writes ``adaptive_avg_pool`` only when n is a multiple of k, with the kernel fixed).
    """
    n = x.shape[-1]
    bins = [x[..., (i * n) // k : ((i + 1) * n + k - 1) // k].mean(-1) for i in range(k)]
    return torch.stack(bins, dim=-1)


def adaptive_avg_pool3d(
    x: Tensor, output_size: tuple[int | None, int | None, int | None]
) -> Tensor:
    """(N, C, L, H, W) -> (N, C, *output_size): ``F.adaptive_avg_pool3d``, export-friendly.

    A box's mean is the mean over W of the means over H of the means over L, so the axes
    are pooled one after the other; only the summation order differs from PyTorch's kernel
    (results agree to float rounding). ``None`` keeps an axis.
    """
    for dim, k in zip((-3, -2, -1), output_size, strict=True):
        if k is not None:
            x = _avg_bins(x.transpose(dim, -1), k).transpose(dim, -1)
    return x


class SlicedAdaptiveAvgPool3d(nn.AdaptiveAvgPool3d):
    """``nn.AdaptiveAvgPool3d`` computed by :func:`adaptive_avg_pool3d` (exports at any size)."""

    def forward(self, x: Tensor) -> Tensor:
        size = self.output_size
        return adaptive_avg_pool3d(x, (size,) * 3 if isinstance(size, int) else tuple(size))


class LSTMHead(nn.Module):
    """Table 1's head: max-pool to L×2×2, reshape to (N, L, 4C), LSTM, average over time, FC.

    The pool is adaptive so that inputs other than 224×224 still give 2×2 maps;
    at 224 (a 4×4 map after conv6) it is exactly the paper's 1×2×2, stride (1,2,2) max-pool.
    It is :func:`max_pool_2x2` so that ONNX export keeps clip length and crop size dynamic.
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
