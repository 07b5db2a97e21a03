"""Classifier heads: (N, C, L, H, W) feature maps in, (N, num_classes) logits out."""

from __future__ import annotations

from torch import Tensor, nn


class LSTMHead(nn.Module):
    """Table 1's head: max-pool to L×2×2, reshape to (N, L, 4C), LSTM, average over time, FC.

    The pool is adaptive so that inputs other than 224×224 still give 2×2 maps;
    at 224 (a 4×4 map after conv6) it is exactly the paper's 1×2×2, stride (1,2,2) max-pool.
    """

    def __init__(
        self, in_channels: int, num_classes: int, *, hidden: int = 1024, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.pool = nn.AdaptiveMaxPool3d((None, 2, 2))
        self.lstm = nn.LSTM(in_channels * 4, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x).permute(0, 2, 1, 3, 4).flatten(2)  # (N, L, C·2·2)
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
