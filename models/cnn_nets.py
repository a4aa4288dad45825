"""The convolutional networks: the book's SimpleConvNet (ch. 7) and DeepConvNet (ch. 8), LeNet-5, a
Fashion-MNIST CNN, and the BatchNorm + dropout MLP of the MLP record.

Each takes flat images (N, 784), as the examples' data come, or image-shaped ones (N, 1, 28, 28):
the first layer (ImageInput) reshapes flat rows, so nothing needs reshaping by hand. Each returns
logits (N, num_classes) for `F.cross_entropy`.
"""
from __future__ import annotations

import math

import numpy as np

from tinygrad_lite import backend, nn


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081     # of MNIST's training pixels in [0, 1]


class ImageInput(nn.Module):
    """(N, C*side*side) -> (N, C, side, side); an (N, C, H, W) input passes through unchanged.
    With `mean` and `std` the pixels are standardized too, (x - mean) / std, inside the model, so it
    still takes the raw [0, 1] pixels the data loaders give."""

    def __init__(self, channels=1, side=28, mean=None, std=None):
        super().__init__()
        self.channels, self.side, self.mean, self.std = channels, side, mean, std

    def forward(self, x):
        if x.ndim != 4:
            if x.ndim != 2 or x.shape[1] != self.channels * self.side * self.side:
                raise ValueError(f"{type(self).__name__}: expected images (N, {self.channels}, {self.side}, "
                                 f"{self.side}) or flat rows (N, {self.channels * self.side * self.side}), got shape "
                                 f"{x.shape}")
            x = x.reshape(x.shape[0], self.channels, self.side, self.side)
        if self.mean is not None:
            x = (x - self.mean) * (1.0 / self.std)
        return x

    def extra_repr(self):
        norm = f", mean={self.mean}, std={self.std}" if self.mean is not None else ""
        return f"channels={self.channels}, side={self.side}{norm}"


def _side(in_features):
    side = int(round(math.sqrt(in_features)))
    if side * side != in_features:
        raise ValueError(f"a CNN needs square single-channel images: in_features {in_features} is not a square")
    return side


def _conv_out(side, k, pad, stride=1):
    return (side + 2 * pad - k) // stride + 1


def _he_init(model):
    """W ~ N(0, 2/fan_in), b = 0 (He et al.), as the book's DeepConvNet (drawn on the CPU generator)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = int(np.prod(m.weight.shape[1:]))
            w = backend.rng("cpu").standard_normal(m.weight.shape).astype(np.float32) * np.float32(math.sqrt(2 / fan_in))
            m.weight.data[...] = backend.to_device(w, m.weight.device)
            m.bias.data[...] = 0


class SimpleConvNet(nn.Sequential):
    """"Deep Learning from Scratch" ch. 7 (train_convnet.py): conv(30 filters 5x5, stride 1, pad 0) -> ReLU
    -> max-pool 2x2 -> Linear(30*12*12, 100) -> ReLU -> Linear(100, 10).

    Shape: (N, 784) or (N, 1, 28, 28) -> (N, 30, 24, 24) -> (N, 30, 12, 12) -> (N, 4320) -> (N, 100)
    -> logits (N, 10); 433,890 parameters. PyTorch's default init (the book draws 0.01 * randn).
    Recipe: Adam lr 1e-3, batch 100 (the book: 20 epochs). Reported: ~98.9% test accuracy.
    """

    def __init__(self, in_features=784, num_classes=10, filters=30, kernel=5, hidden=100, device=None):
        side = _side(in_features)
        pooled = _conv_out(side, kernel, 0) // 2
        super().__init__(ImageInput(1, side), nn.Conv2d(1, filters, kernel), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(filters * pooled * pooled, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        if device is not None:
            self.to(device)


class LeNet5(nn.Sequential):
    """LeNet-5 with ReLU and max-pooling (LeCun et al. 1998, modernized): conv(6, 5x5, pad 2) -> ReLU -> pool
    -> conv(16, 5x5) -> ReLU -> pool -> 400 -> 120 -> 84 -> 10; 61,706 parameters.
    `batch_norm=True` adds BatchNorm2d after each conv (and BatchNorm1d after the hidden Linears); the input
    is standardized with MNIST's mean and std (`normalize=False`: not)."""

    def __init__(self, in_features=784, num_classes=10, batch_norm=False, normalize=True, device=None):
        side = _side(in_features)
        s = _conv_out(_conv_out(side, 5, 2) // 2, 5, 0) // 2
        bn2 = (lambda c: [nn.BatchNorm2d(c)]) if batch_norm else (lambda c: [])
        bn1 = (lambda c: [nn.BatchNorm1d(c)]) if batch_norm else (lambda c: [])
        super().__init__(ImageInput(1, side, *((MNIST_MEAN, MNIST_STD) if normalize else ())),
                         nn.Conv2d(1, 6, 5, padding=2), *bn2(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), *bn2(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * s * s, 120), *bn1(120), nn.ReLU(), nn.Linear(120, 84), *bn1(84), nn.ReLU(),
                         nn.Linear(84, num_classes))
        if device is not None:
            self.to(device)


class DeepConvNet(nn.Sequential):
    """"Deep Learning from Scratch" ch. 8 (deep_convnet.py): three blocks conv-ReLU-conv-ReLU-pool with 3x3
    filters (16, 16 | 32, 32 | 64, 64; pad 1, the fourth pad 2), Linear(64*4*4, 50) -> ReLU -> Dropout(0.5)
    -> Linear(50, 10) -> Dropout(0.5); He init, as in the book. 8 layers with weights, 123,552 parameters.
    Recipe: Adam lr 1e-3, batch 100, 12 epochs, lr x0.1 after epochs 8 and 11 (the book trains 20 epochs at a
    constant lr: 99.18% here on 2026-11-30). Reported: 99.38% test accuracy (the book's figure)."""

    def __init__(self, in_features=784, num_classes=10, device=None):
        side = _side(in_features)
        layers = [ImageInput(1, side)]
        c_in = 1
        for c, pads in ((16, (1, 1)), (32, (1, 2)), (64, (1, 1))):
            for pad in pads:
                layers += [nn.Conv2d(c_in, c, 3, padding=pad), nn.ReLU()]
                side, c_in = _conv_out(side, 3, pad), c
            layers.append(nn.MaxPool2d(2))
            side //= 2
        layers += [nn.Flatten(), nn.Linear(c_in * side * side, 50), nn.ReLU(), nn.Dropout(0.5),
                   nn.Linear(50, num_classes), nn.Dropout(0.5)]
        super().__init__(*layers)
        _he_init(self)
        if device is not None:
            self.to(device)


class FashionCNN(nn.Sequential):
    """A small BatchNorm CNN for Fashion-MNIST: conv(16, 3x3, pad 1) -> BN -> ReLU -> pool -> conv(32, 3x3,
    pad 1) -> BN -> ReLU -> pool -> Linear(32*7*7, 128) -> ReLU -> Dropout(0.3) -> 10; 207,018 parameters."""

    def __init__(self, in_features=784, num_classes=10, c1=16, c2=32, hidden=128, dropout=0.3, device=None):
        side = _side(in_features)
        s = side // 4
        super().__init__(ImageInput(1, side),
                         nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(c2 * s * s, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))
        if device is not None:
            self.to(device)


class BNMLP(nn.Sequential):
    """The MLP record: 784 -> [Linear(h) -> BatchNorm1d -> ReLU -> Dropout(p)] x len(hidden) -> 10
    (default 784-512-512-10, dropout 0.2: 671,754 parameters)."""

    def __init__(self, in_features=784, num_classes=10, hidden=(512, 512), dropout=0.2, device=None):
        layers, n_in = [], in_features
        for h in hidden:
            layers += [nn.Linear(n_in, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
            n_in = h
        layers.append(nn.Linear(n_in, num_classes))
        super().__init__(*layers)
        if device is not None:
            self.to(device)
