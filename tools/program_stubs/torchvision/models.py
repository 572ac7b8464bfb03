"""ResNet-18 for the torchvision stand-in, used only by tools/run_programs.py.

pytorch/examples' siamese_network builds `torchvision.models.resnet18(weights=None)`, replaces
`.conv1`, reads `.fc.in_features` and keeps `children()[:-1]`, so the attribute names and the
order of the children must be torchvision's: conv1, bn1, relu, maxpool, layer1..layer4, avgpool,
fc. Written for this stand-in from the ResNet paper (He et al. 2015, "Deep Residual Learning for
Image Recognition": 18 layers = a 7x7 stem and four stages of two basic blocks) and torchvision's
documented constructor; it runs on whichever `torch` is imported (real PyTorch or ember through
the torch mapping). There are no pretrained weights here: anything but `weights=None` raises.
"""

import torch
from torch import nn

__all__ = ["BasicBlock", "ResNet", "resnet18"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (a 1x1 projection when the shape
    changes). `expansion` is 1: the block's output has `planes` channels."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """A ResNet of basic blocks: stem (conv1, bn1, relu, maxpool), four stages of `layers[i]`
    blocks with 64/128/256/512 channels (stages 2-4 halve the resolution), global average
    pooling and a linear classifier `fc`."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, norm_layer=None):
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # The paper's initialisation (He et al. 2015b for convolutions), unit-scale batch norm.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Each block then starts as the identity (Goyal et al. 2017).
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                self._norm_layer(planes * block.expansion),
            )
        stage = [block(self.inplanes, planes, stride, downsample, self._norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            stage.append(block(self.inplanes, planes, norm_layer=self._norm_layer))
        return nn.Sequential(*stage)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18 (layers [2, 2, 2, 2]) with random initial weights; keyword arguments as
    torchvision's: num_classes, zero_init_residual, norm_layer."""
    if weights is not None:
        raise NotImplementedError(
            "torchvision.models.resnet18: the torchvision stand-in of tools/run_programs.py has "
            f"no pretrained weights (got weights={weights!r}); pass weights=None"
        )
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)
