"""Inference fusion: BN folded into the preceding conv, fewer memory passes per block.

Each module that can be fused says how with a ``fuse()`` method (as timm's
``reparameterize``): a ``ConvBN`` becomes a :class:`FusedConv` (BN folded, ReLU as a oneDNN
post-op), a residual ``Block`` a :class:`FusedBlock` (its last conv, the residual add and
the ReLU as one call). :func:`fuse_for_inference` walks a model and calls them. All of it
is exact in eval mode (the same operations, BN's affine map folded into the conv), and
works in place: ``mrstnet.optimize`` calls it on a copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ops import conv_add_relu, mkldnn_ok


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """In place: every ``Conv3d`` directly followed by ``BatchNorm3d`` in an ``nn.Sequential``
    becomes one conv with bias (exact in eval mode); the BN is replaced by ``nn.Identity``."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in list(model.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = module._modules[a], module._modules[b]
            if isinstance(conv, nn.Conv3d) and foldable(bn):
                module._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module._modules[b] = nn.Identity()
    return model


def foldable(norm: nn.Module) -> bool:
    """A BatchNorm3d with running statistics: an affine map in eval mode."""
    return (
        isinstance(norm, nn.BatchNorm3d)
        and norm.track_running_stats
        and norm.running_mean is not None
    )


class FusedConv(nn.Module):
    """A folded ``ConvBN`` for inference: conv (+ ReLU as a oneDNN post-op on CPU fp32).

    oneDNN also runs the small late-stage convs (4×4 maps) that PyTorch would send to its
    slow reference kernel. Elsewhere (CUDA, autocast, autograd) it is conv3d + ReLU.
    """

    def __init__(self, conv: nn.Conv3d, relu: bool) -> None:
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        if mkldnn_ok(x, self.weight):
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, self.padding, self.stride, [1, 1, 1], 1,
                "relu" if self.relu else "none", [], "",
            )  # fmt: skip
        y = F.conv3d(x, self.weight, self.bias, self.stride, self.padding)
        return F.relu_(y) if self.relu else y


class FusedBlock(nn.Module):
    """A residual block for inference: ReLU(last(tube(x)) + shortcut(x)) as one conv call.

    ``tube`` is the block's tube without its last conv (X* for an MRST tube, the input
    itself for the C3D baseline); ``last`` is that conv, folded.
    """

    def __init__(self, tube: nn.Module, last: FusedConv, shortcut: nn.Module) -> None:
        super().__init__()
        self.tube, self.last, self.shortcut = tube, last, shortcut

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.shortcut(x)
        mid, last = self.tube(x), self.last
        return conv_add_relu(mid, last.weight, last.bias, shortcut, last.stride, last.padding)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """In place: every submodule with a ``fuse()`` method is replaced by what it returns
    (``ConvBN`` -> :class:`FusedConv`, ``Block`` -> :class:`FusedBlock`); call in eval mode."""
    for name, child in list(model.named_children()):
        fuse = getattr(child, "fuse", None)
        if callable(fuse):
            setattr(model, name, fuse())
        else:
            fuse_for_inference(child)
    return model
