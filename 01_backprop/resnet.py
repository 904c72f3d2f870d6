r"""ResNet-34 in torch (He et al. 2016; ARENA 0.2), with torchvision's parameter names.

A residual block computes $y = \mathrm{ReLU}(F(x) + S(x))$: $F$ is conv 3×3 → BatchNorm → ReLU → conv 3×3 →
BatchNorm, and the shortcut $S$ is the identity, or a strided 1×1 conv + BatchNorm where the block changes the
resolution or the width. ResNet-34 is a 7×7 stride-2 stem with max-pooling, then four groups of 3, 4, 6 and 3 blocks
with 64, 128, 256 and 512 channels (each group after the first halves the resolution), global average pooling and a
linear classifier.

The attribute names (`conv1`, `bn1`, `layer1.0.downsample.0`, `fc`, ...) are torchvision's, so a state dict moves
between this class and `torchvision.models.resnet34` unchanged; `from_hf_resnet` renames Hugging Face's
`ResNetForImageClassification` keys, an independent implementation of the same network.

`BatchNorm2d` here is the torch version of day 83's layer (autograd does its backward): batch statistics and
running averages in training mode, running averages in evaluation mode.
"""

from __future__ import annotations

import re

import torch
from jaxtyping import Float
from torch import Tensor, nn


class BatchNorm2d(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.eps, self.momentum = eps, momentum

    def forward(self, x: Float[Tensor, "batch channels height width"]) -> Float[Tensor, "batch channels height width"]:
        if self.training:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            m = x.numel() // x.shape[1]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * m / (m - 1), self.momentum)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        shape = (1, -1, 1, 1)  # (C,) -> broadcast over (batch, C, height, width)
        x_hat = (x - mean.view(shape)) / (var.view(shape) + self.eps).sqrt()
        return x_hat * self.weight.view(shape) + self.bias.view(shape)


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)  # BatchNorm's beta makes a bias redundant


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, batchnorm: bool = True, skip: bool = True):
        super().__init__()
        norm = BatchNorm2d if batchnorm else lambda c: nn.Identity()
        self.conv1, self.bn1 = conv3x3(c_in, c_out, stride), norm(c_out)
        self.relu = nn.ReLU()
        self.conv2, self.bn2 = conv3x3(c_out, c_out), norm(c_out)
        self.skip = skip
        self.downsample = None
        if skip and (stride != 1 or c_in != c_out):
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), norm(c_out))

    def forward(self, x: Float[Tensor, "batch c_in h w"]) -> Float[Tensor, "batch c_out h_out w_out"]:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.skip:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(
        self,
        blocks: tuple[int, ...] = (3, 4, 6, 3),  # ResNet-34's blocks per group
        widths: tuple[int, ...] = (64, 128, 256, 512),  # channels per group
        n_classes: int = 1000,  # ImageNet's classes
        in_channels: int = 3,  # RGB
        stem: bool = True,  # the 7x7 stride-2 conv and max-pool; tiny images (8x8 digits) skip them
        batchnorm: bool = True,
        skip: bool = True,
    ):
        super().__init__()
        norm = BatchNorm2d if batchnorm else lambda c: nn.Identity()
        if stem:
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1, self.maxpool = conv3x3(in_channels, widths[0]), nn.Identity()
        self.bn1, self.relu = norm(widths[0]), nn.ReLU()
        c_in = widths[0]
        for g, (n, c_out) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if g == 0 else 2
            group = [
                BasicBlock(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1, batchnorm, skip) for i in range(n)
            ]
            setattr(self, f"layer{g + 1}", nn.Sequential(*group))
            c_in = c_out
        self.n_groups = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, n_classes)

    def forward(self, x: Float[Tensor, "batch channels height width"]) -> Float[Tensor, "batch n_classes"]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for g in range(self.n_groups):
            x = getattr(self, f"layer{g + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet34(n_classes: int = 1000) -> ResNet:
    return ResNet(n_classes=n_classes)


_HF_RENAMES = [  # Hugging Face ResNetForImageClassification -> torchvision names
    (r"^resnet\.embedder\.embedder\.convolution\.", "conv1."),
    (r"^resnet\.embedder\.embedder\.normalization\.", "bn1."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.convolution\.", "layer{s}.{b}.downsample.0."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.normalization\.", "layer{s}.{b}.downsample.1."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.0\.convolution\.", "layer{s}.{b}.conv1."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.0\.normalization\.", "layer{s}.{b}.bn1."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.1\.convolution\.", "layer{s}.{b}.conv2."),
    (r"^resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.1\.normalization\.", "layer{s}.{b}.bn2."),
    (r"^classifier\.1\.", "fc."),
]


def from_hf_resnet(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a Hugging Face `ResNetForImageClassification` state dict to torchvision's (and this module's) names."""
    out = {}
    for key, value in state.items():
        for pattern, template in _HF_RENAMES:
            match = re.match(pattern, key)
            if match:
                groups = match.groups()
                prefix = template.format(s=int(groups[0]) + 1, b=groups[1]) if groups else template
                out[prefix + key[match.end() :]] = value
                break
        else:
            raise KeyError(f"no torchvision name for Hugging Face key {key!r}")
    return out
