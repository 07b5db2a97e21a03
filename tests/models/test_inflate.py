"""ImageNet inflation from a hand-written 2D ResNet-50 (torchvision's key names and shapes)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mrstnet
from mrstnet.engine.checkpoint import load_init
from mrstnet.models.inflate import inflate, read_state_dict


class Bottleneck2d(nn.Module):
    """torchvision's ResNet-50 block: conv1 1×1, conv2 3×3 (stride), conv3 1×1 (×4)."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4)
            )


class ResNet2d(nn.Module):
    """Only the parameters (no forward needed): ResNet-50 is depths (3, 4, 6, 3)."""

    def __init__(self, depths=(3, 4, 6, 3), base: int = 64, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        inplanes = base
        for s, depth in enumerate(depths):
            planes = base * 2**s
            blocks = []
            for i in range(depth):
                blocks.append(Bottleneck2d(inplanes, planes, 2 if i == 0 and s > 0 else 1))
                inplanes = planes * 4
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, num_classes)


def randomised(module: nn.Module) -> dict:
    """A state dict with every tensor random, BN statistics included (as a trained one)."""
    torch.manual_seed(0)
    sd = module.state_dict()
    for k, v in sd.items():
        if v.is_floating_point():
            v.uniform_(0.5, 1.5) if "running_var" in k else v.normal_(0, 0.1)
    return sd


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("imagenet") / "resnet50.pth"
    sd = randomised(ResNet2d())
    assert (
        len(sd) == 320
        and sum(v.numel() for k, v in sd.items() if "num_batches" not in k and "running" not in k)
        == 25_557_032
    )
    torch.save(sd, path)
    return path


def test_resnet50_into_mrst_t_net(resnet50_file):
    model = mrstnet.create_model("mrst_t_net", num_classes=10)
    sd = read_state_dict(resnet50_file)
    report = inflate(model, sd)
    loaded = report["loaded"]
    # the stem: 7×7 -> 1×7×7 and its BN, statistics too
    assert loaded["stem.spatial.0.weight"] == "conv1.weight"
    torch.testing.assert_close(model.stem.spatial[0].weight[:, :, 0], sd["conv1.weight"])
    torch.testing.assert_close(model.stem.spatial[1].running_var, sd["bn1.running_var"])
    # every ResNet 3×3 whose width MRST-Net shares becomes a tube's 1×3×3
    assert loaded["stages.0.1.tube.spatial.0.weight"] == "layer1.0.conv2.weight"
    assert loaded["stages.1.2.tube.spatial.0.weight"] == "layer1.1.conv2.weight"  # conv3: 64
    assert loaded["stages.2.1.tube.spatial.0.weight"] == "layer2.0.conv2.weight"  # conv4: 128
    assert loaded["stages.3.6.tube.spatial.0.weight"] == "layer3.5.conv2.weight"  # conv5: 256
    assert "stages.3.7.tube.spatial.0.weight" in report["fresh"]  # layer3 has 6 blocks
    assert loaded["stages.2.2.tube.restore.0.weight"] == "layer2.1.conv3.weight"  # 128 -> 512
    assert report["not_loaded"]["layer4.0.conv2.weight"] == "no counterpart in MRST-Net"
    assert report["not_loaded"]["fc.weight"] == "no counterpart in MRST-Net"
    assert not any(".temporal." in k or ".ss." in k or k.startswith("head.") for k in loaded)
    assert len(set(loaded.values())) + len(report["not_loaded"]) == len(sd)
    assert len(loaded) + len(report["fresh"]) == len(model.state_dict())
    print(
        f"ResNet-50 -> mrst_t_net: {len(set(loaded.values()))}/{len(sd)} ResNet tensors used, "
        f"{len(loaded)}/{len(model.state_dict())} MRST-Net tensors filled, "
        f"{len(report['fresh'])} fresh"
    )


def test_inflated_stem_sees_each_frame_as_the_2d_net(resnet50_file):
    """On a clip of one repeated image, the inflated stem's S path is conv1 + bn1 + ReLU."""
    model = mrstnet.create_model("mrst_t_net_small", width_mult=1.0, num_classes=4).eval()
    sd = read_state_dict(resnet50_file)
    inflate(model, sd)
    image = torch.randn(1, 3, 32, 32)
    clip = image[:, :, None].expand(1, 3, 4, 32, 32)
    s = model.stem.spatial(clip)
    y = F.conv2d(image, sd["conv1.weight"], stride=2, padding=3)
    y = F.relu(
        F.batch_norm(
            y, sd["bn1.running_mean"], sd["bn1.running_var"], sd["bn1.weight"], sd["bn1.bias"]
        )
    )
    for t in range(4):
        torch.testing.assert_close(s[:, :, t], y, atol=1e-5, rtol=1e-5)


def test_init_imagenet_prefix_goes_through_load_init(resnet50_file):
    model = mrstnet.create_model("mrst_t_net_small", num_classes=4)
    lines = []
    report = load_init(model, f"imagenet:{resnet50_file}", log=lines.append)
    assert "ImageNet inflation" in lines[0] and report["loaded"]


def test_other_architectures_are_refused(resnet50_file):
    with pytest.raises(ValueError, match="MRST-Net"):
        inflate(mrstnet.create_model("c3d", width_mult=0.125), read_state_dict(resnet50_file))
