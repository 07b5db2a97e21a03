"""MRST-Net (paper §3.2, Table 1): a stem tube, five residual stages of MRST blocks, a head.

Every stage starts with a 1×2×2 max-pool, stride (1, 2, 2); time is never pooled::

    input 3×L×224×224
    conv1  stem tube: spatial 1×7×7 / temporal 3×1×1, stride (1,2,2), 4 × (1×1×1, 64)   L×112×112
    conv2  pool, [64 → 128]  × 3                                                        L×56×56
    conv3  pool, [64 → 256]  × 4                                                        L×28×28
    conv4  pool, [128 → 512] × 12                                                       L×14×14
    conv5  pool, [256 → 512] × 11                                                       L×7×7
    conv6  pool, [256 → 512] × 3                                                        L×4×4
    head   pool to L×2×2, reshape to L×2048, LSTM 1024, mean over time, dropout, FC

``[C → C_out] × n`` is n residual MRST blocks with bottleneck width C. Small
variants (the CPU demo) are the same code with a width multiplier, fewer blocks
per stage and the average head. The network runs in ``channels_last_3d``, whatever the
layout of its input (``mrstnet.models.layout``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from .heads import AvgHead, LSTMHead
from .layout import match_layout, use_fast_layout
from .registry import make_config, register_model
from .tube import Block, init_weights, make_tube


@dataclass
class MRSTNetConfig:
    arch: str = "mrst_net"  # network family, used by model_from_config
    unit: str = "mrst_t"  # the unit of the stem and every block (paper §3.1, Table 2 names)
    num_classes: int = 400  # Kinetics-400
    width_mult: float = 1.0  # scales every channel count (stem, bottlenecks, outputs)
    stem_width: int = 64  # conv1: channels of S, T and the stem's output
    widths: tuple[int, ...] = (64, 64, 128, 256, 256)  # bottleneck C of conv2..conv6
    out_channels: tuple[int, ...] = (128, 256, 512, 512, 512)  # C_out of conv2..conv6
    depths: tuple[int, ...] = (3, 4, 12, 11, 3)  # blocks per stage (Table 1)
    head: str = "lstm"  # "lstm" (Table 1) or "avg" (global average pooling)
    lstm_hidden: int = 1024  # LSTM hidden units (Table 1)
    dropout: float = 0.5  # before the classifier (0.5 from scratch, 0.9 fine-tuning, §4.1)
    impl: str = "fast"  # reinforced-unit implementation: fast | reference
    frames: int = 16  # default clip length
    size: int = 224  # default crop size


def _scale(channels: int, mult: float) -> int:
    return max(4, round(channels * mult))


class MRSTNet(nn.Module):
    feature_modules = ("stem", "stages")  # what forward_features runs (bf16 in optimize)

    def __init__(self, config: MRSTNetConfig) -> None:
        super().__init__()
        if not len(config.widths) == len(config.out_channels) == len(config.depths):
            raise ValueError("widths, out_channels and depths need one entry per stage")
        self.config = config
        self.num_classes = config.num_classes
        self.default_input = (config.frames, config.size)
        m, unit, impl = config.width_mult, config.unit, config.impl
        stem = _scale(config.stem_width, m)
        self.stem = make_tube(
            3,
            stem,
            stem,
            unit=unit,
            spatial_kernel=7,
            stride=(1, 2, 2),
            bottleneck=False,
            impl=impl,
        )
        stages: list[nn.Module] = []
        in_ch = stem
        for width, out, depth in zip(
            config.widths, config.out_channels, config.depths, strict=True
        ):
            width, out = _scale(width, m), _scale(out, m)
            blocks: list[nn.Module] = [nn.MaxPool3d((1, 2, 2), (1, 2, 2), ceil_mode=True)]
            for _ in range(depth):
                blocks.append(Block(in_ch, out, width, unit=unit, impl=impl))
                in_ch = out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_ch
        self.head = self._make_head(config.num_classes)
        init_weights(self)
        use_fast_layout(self)  # channels_last_3d weights; the input follows at the stem

    def _make_head(self, num_classes: int) -> nn.Module:
        c = self.config
        if c.head == "lstm":
            return LSTMHead(self.num_features, num_classes, hidden=c.lstm_hidden, dropout=c.dropout)
        if c.head == "avg":
            return AvgHead(self.num_features, num_classes, dropout=c.dropout)
        raise ValueError(f"unknown head {c.head!r}; choose 'lstm' or 'avg'")

    def forward_features(self, x: Tensor) -> Tensor:
        return self.stages(self.stem(match_layout(x, self.stem)))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        fc = self.head.fc
        self.head.fc = nn.Linear(fc.in_features, num_classes)
        self.num_classes = self.config.num_classes = num_classes


def _mrst_net(kwargs: dict[str, Any], **defaults: Any) -> MRSTNet:
    return MRSTNet(make_config(MRSTNetConfig, kwargs, **defaults))


@register_model(MRSTNet, MRSTNetConfig)
def mrst_p_net(**kwargs: Any) -> MRSTNet:
    """MRST-Net with MRST-P tubes (Table 1)."""
    return _mrst_net(kwargs, unit="mrst_p")


@register_model(MRSTNet, MRSTNetConfig)
def mrst_s_net(**kwargs: Any) -> MRSTNet:
    """MRST-Net with MRST-S tubes (Table 1)."""
    return _mrst_net(kwargs, unit="mrst_s")


@register_model(MRSTNet, MRSTNetConfig)
def mrst_t_net(**kwargs: Any) -> MRSTNet:
    """MRST-T-Net, the paper's main model (Table 1, Table 3)."""
    return _mrst_net(kwargs, unit="mrst_t")


@register_model(MRSTNet, MRSTNetConfig)
def mrst_t_net_small(**kwargs: Any) -> MRSTNet:
    """A CPU-trainable MRST-T-Net for the built-in demo: 1/4 width, one block per stage,
    average head, 16×112×112 clips. The temporal 3×1×1 path is in every tube."""
    return _mrst_net(
        kwargs, unit="mrst_t", width_mult=0.25, depths=(1, 1, 1, 1, 1), head="avg", size=112
    )
