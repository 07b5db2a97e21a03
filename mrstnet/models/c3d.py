"""The Table 2 ablation backbone (paper §4.2): C3D with each conv layer replaced by a unit.

C3D (Tran et al. 2015): 8 conv layers, 5 max-pools, fc6 4096, fc7 4096, classifier
(``fc_norm``: BN after fc6 and fc7, for the narrow ablation backbone).
With ``unit="c3d"`` every layer is the original 3×3×3 conv (plus BN, as the paper puts BN
after every conv, §4.1); with any other unit each layer is a
:class:`~mrstnet.models.tube.Tube` with bottleneck
width C_out / 4 (conv1a, on RGB, is a stem-like tube without reduce/restore).
Pools use ``ceil_mode`` as Caffe did, so 16×112×112 ends at 512×1×4×4 = 8192 features;
an adaptive average pool to 1×4×4 (the identity there) lets other input sizes keep
fc6's shape; it is written with slices (:class:`~mrstnet.models.heads.SlicedAdaptiveAvgPool3d`,
equal to ``nn.AdaptiveAvgPool3d`` up to float rounding) so that ONNX export works at any size.
The network runs in ``channels_last_3d``, whatever the layout of its input
(``mrstnet.models.layout``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .heads import SlicedAdaptiveAvgPool3d
from .layout import match_layout, use_fast_layout
from .registry import make_config, register_model
from .tube import init_weights, make_tube


@dataclass
class C3DConfig:
    arch: str = "c3d"  # network family, used by model_from_config
    unit: str = "c3d"  # the baseline; any name in the unit table (units.py), e.g. "mrst_t"
    num_classes: int = 487  # Sports-1M, as the original C3D (79.0M parameters)
    width_mult: float = 1.0  # scales every conv width (tests and small runs)
    fc_dim: int = 4096  # fc6 / fc7 width
    # BatchNorm1d after fc6 and fc7 (before their ReLU); off in the paper's C3D. The narrow
    # ablation backbone needs it: trained with AdamW, its ReLU fc6 died whole (every unit
    # negative for every clip) before a gated unit's features told the classes apart, and the
    # net then gave one output for every clip (docs/ablation.md "Why the MRSTs stalled")
    fc_norm: bool = False
    bottleneck_ratio: int = 4  # C = C_out / ratio inside each tube (not used by "c3d")
    dropout: float = 0.5  # before fc7 and the classifier
    impl: str = "fast"  # reinforced-unit implementation: fast | reference
    frames: int = 16  # default clip length
    size: int = 112  # default crop size


# (out_channels, pool after this layer as (kT, kH) or None): conv1a ... conv5b
_LAYERS = [
    (64, (1, 2)),
    (128, (2, 2)),
    (256, None),
    (256, (2, 2)),
    (512, None),
    (512, (2, 2)),
    (512, None),
    (512, (2, 2)),
]


class C3D(nn.Module):
    feature_modules = ("features",)  # what forward_features runs (bf16 in optimize)

    def __init__(self, config: C3DConfig) -> None:
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        self.default_input = (config.frames, config.size)
        layers: list[nn.Module] = []
        in_ch = 3
        for i, (out, pool) in enumerate(_LAYERS):
            out = max(8, round(out * config.width_mult))
            first = i == 0
            width = out if first else max(4, out // config.bottleneck_ratio)
            tube = make_tube(
                in_ch, out, width, unit=config.unit, bottleneck=not first, impl=config.impl
            )
            layers += [tube, nn.ReLU(inplace=True)]
            if pool is not None:
                kt, ks = pool
                layers.append(nn.MaxPool3d((kt, ks, ks), (kt, ks, ks), ceil_mode=True))
            in_ch = out
        self.features = nn.Sequential(*layers)
        self.num_features = in_ch
        self.pool = SlicedAdaptiveAvgPool3d((1, 4, 4))  # no parameters: same state_dict
        self.fc6 = nn.Linear(in_ch * 16, config.fc_dim)
        self.fc7 = nn.Linear(config.fc_dim, config.fc_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(config.fc_dim, config.num_classes)
        norm = nn.BatchNorm1d if config.fc_norm else nn.Identity
        self.norm6, self.norm7 = norm(config.fc_dim), norm(config.fc_dim)
        init_weights(self)
        use_fast_layout(self)  # channels_last_3d weights; the input follows at conv1a

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(match_layout(x, self.features[0]))

    def forward_head(self, x: Tensor) -> Tensor:
        x = self.pool(x).flatten(1)
        x = self.dropout(torch.relu(self.norm6(self.fc6(x))))
        x = self.dropout(torch.relu(self.norm7(self.fc7(x))))
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.config.fc_dim, num_classes)
        self.num_classes = self.config.num_classes = num_classes


def _c3d(unit: str, kwargs: dict[str, Any]) -> C3D:
    return C3D(make_config(C3DConfig, kwargs, unit=unit))


@register_model(C3D, C3DConfig)
def c3d(**kwargs: Any) -> C3D:
    """The original C3D (with BN): the Table 2 baseline."""
    return _c3d("c3d", kwargs)


@register_model(C3D, C3DConfig)
def c3d_std(**kwargs: Any) -> C3D:
    return _c3d("std", kwargs)


@register_model(C3D, C3DConfig)
def c3d_std_stf(**kwargs: Any) -> C3D:
    return _c3d("std_stf", kwargs)


@register_model(C3D, C3DConfig)
def c3d_mrst_p(**kwargs: Any) -> C3D:
    return _c3d("mrst_p", kwargs)


@register_model(C3D, C3DConfig)
def c3d_mrst_s(**kwargs: Any) -> C3D:
    return _c3d("mrst_s", kwargs)


@register_model(C3D, C3DConfig)
def c3d_mrst_t(**kwargs: Any) -> C3D:
    return _c3d("mrst_t", kwargs)
