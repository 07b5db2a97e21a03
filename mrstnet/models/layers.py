"""The conv layers every tube is made of: conv + BN (+ ReLU), and the 1×1×1 "fully connected"."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from .fuse import FusedConv, foldable
from .ops import conv3d

NormLayer = Callable[[int], nn.Module]


class ConvBN(nn.Sequential):
    """Conv3d (no bias) + norm, optionally followed by ReLU: (N, C_in, L, H, W) -> (N, C_out, ...).

    "same" padding (k // 2 per axis); ``stride`` shrinks the output as in Conv3d.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        relu: bool = True,
        norm_layer: NormLayer = nn.BatchNorm3d,
    ) -> None:
        padding = tuple(k // 2 for k in kernel_size)
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            norm_layer(out_channels),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)

    def forward(self, x: Tensor) -> Tensor:
        # the conv through ops.conv3d: a 1×1×1 conv on channels_last_3d is one GEMM
        x = conv3d(self[0], x)
        for layer in list(self._modules.values())[1:]:
            x = layer(x)
        return x

    def fuse(self) -> nn.Module:
        """For inference: a :class:`~mrstnet.models.fuse.FusedConv` with the BN folded in
        (already folded by ``fold_batchnorm`` or not); ``self`` when the norm is not a
        foldable BatchNorm3d (then it stays as it is)."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        conv, norm = self[0], self[1]
        if foldable(norm):
            conv = fuse_conv_bn_eval(conv.eval(), norm.eval())
        elif not isinstance(norm, nn.Identity):
            return self
        return FusedConv(conv, relu=len(self) == 3)


def fc(channels: int) -> nn.Conv3d:
    """One of the four "fully connected" layers of the reinforced unit (paper §3.1, Table 1
    writes them (1×1×1, C) × 4): applied at every position, C -> C, with bias, no norm."""
    return nn.Conv3d(channels, channels, kernel_size=1)
