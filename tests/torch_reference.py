"""PyTorch reference networks for the tsn-convert tests (not derived from tsn_tf code).

- BN-Inception: the `pretrainedmodels` package's own module file
  (pretrainedmodels/models/bninception.py), loaded by path: the package's
  __init__ imports torchvision, which does not load beside torch 2.13.
- ResNet-50: torchvision's published layout (torchvision/models/resnet.py,
  `Bottleneck` with the stride on conv2, `downsample` = Sequential(1x1
  conv, BN)), written out here because torchvision does not load.
"""
import copy
import importlib.util
import os
import re

import numpy as np
import torch
from torch import nn


def bninception_module():
    """pretrainedmodels.models.bninception, without importing the package."""
    root = importlib.util.find_spec("pretrainedmodels").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location(
        "pm_bninception", os.path.join(root, "models", "bninception.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bninception(num_classes=1000, in_channels=3):
    """pretrainedmodels' BNInception (last_linear), conv1 taking `in_channels`."""
    model = bninception_module().BNInception(num_classes=num_classes)
    if in_channels != 3:
        model.conv1_7x7_s2 = nn.Conv2d(in_channels, 64, kernel_size=(7, 7), stride=(2, 2),
                                       padding=(3, 3))
    return model


def bninception_features(model, images):
    """(B, C, H, W) -> pooled (B, 1024) features and logits (any size: mean, not AvgPool(7)).

    Computed in float64, so the comparison measures the converted model's
    float32 error alone, not the reference's own rounding too.
    """
    model, images = copy.deepcopy(model).double(), images.double()
    with torch.no_grad():
        features = model.features(images).mean(dim=(2, 3))
        return features.numpy(), model.last_linear(features).numpy()


class Bottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck (expansion 4, stride on conv2)."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet with Bottleneck blocks."""

    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000, in_channels=3):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride,
                                                 bias=False), nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def resnet_features(model, images):
    """(B, C, H, W) -> (B, 2048) features and logits, in float64 (see bninception_features)."""
    model, images = copy.deepcopy(model).double(), images.double()
    with torch.no_grad():
        features = model.features(images)
        return features.numpy(), model.fc(features).numpy()


def randomize(model, images, seed=0):
    """Random weights and BN statistics of the right scale for `model`.

    Conv / linear weights keep PyTorch's random init; BN affine parameters
    are drawn at random, then BN running statistics are set from one batch of
    `images` (momentum 1), floored and perturbed: activations stay of order 1.
    """
    torch.manual_seed(seed)
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in batch_norms:
            bn.momentum = 1.0
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
        model.train()
        model.features(images)
        for bn in batch_norms:
            bn.running_mean += 0.1 * bn.running_var.sqrt() * torch.randn_like(bn.running_mean)
            # a floor at the median keeps the net well conditioned (a variance of
            # 1e-6 from a 2-image batch would amplify float32 rounding 1000x)
            floor = bn.running_var.median()
            bn.running_var.clamp_(min=floor).mul_(
                torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
    model.eval()
    return model


def mmaction2_state(resnet):
    """torchvision ResNet state dict under mmaction2's TSN keys (ConvModule .conv / .bn)."""
    state = {}
    for key, value in resnet.state_dict().items():
        new = re.sub(r"^conv1\.", "conv1.conv.", key)
        new = re.sub(r"^bn1\.", "conv1.bn.", new)
        new = re.sub(r"\.conv(\d)\.", r".conv\1.conv.", new)
        new = re.sub(r"\.bn(\d)\.", r".conv\1.bn.", new)
        new = new.replace("downsample.0.", "downsample.conv.").replace(
            "downsample.1.", "downsample.bn.")
        new = "cls_head.fc_cls." + new[3:] if new.startswith("fc.") else "backbone." + new
        state[new] = value
    return state


def caffe_name(key_prefix):
    """pretrainedmodels layer name -> the Caffe prototxt's: conv1_7x7_s2 -> conv1/7x7_s2."""
    return re.sub(r"^(conv\d|inception_\d[a-e])_", r"\1/", key_prefix)


def caffe_layers(model, classifier="fc-action"):
    """[(name, type, blobs)] of `model` as the TSN Caffe models store them (BN blobs (1, C))."""
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    layers = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            layers.append((caffe_name(name), "Convolution",
                           [state[f"{name}.weight"], state[f"{name}.bias"]]))
        elif isinstance(module, nn.BatchNorm2d):
            layers.append((caffe_name(name), "BN", [
                state[f"{name}.{k}"].reshape(1, -1)
                for k in ("weight", "bias", "running_mean", "running_var")]))
    layers.append((classifier, "InnerProduct",
                   [state["last_linear.weight"], state["last_linear.bias"]]))
    return layers


def nchw(images):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(images, np.float32)
                                                 .transpose(0, 3, 1, 2)))
