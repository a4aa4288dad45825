"""torchvision.transforms' names for whole-dataset image conversion: ToTensor, Normalize, Compose.

Each is applied to a batch of images at once (N x H x W uint8, or N x C x H x W float) when a dataset is
made, giving the same values torchvision gives sample by sample.
"""
from __future__ import annotations

import numpy as np


class ToTensor:
    """uint8 H x W images -> float32 1 x H x W in [0, 1] (torchvision's ToTensor on a grayscale image)."""

    def __call__(self, images):
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise TypeError(f"ToTensor: expected uint8 images, got dtype {images.dtype}")
        return (images.astype(np.float32) / np.float32(255.0))[:, None]

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel, on float N x C x H x W images (after ToTensor)."""

    def __init__(self, mean, std):
        self.mean, self.std = tuple(float(m) for m in np.atleast_1d(mean)), tuple(float(s) for s in np.atleast_1d(std))
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std has a zero {self.std}: it would divide by zero")

    def __call__(self, images):
        if images.ndim != 4 or images.dtype.kind != "f":
            raise TypeError(f"Normalize: expected float N x C x H x W images (put ToTensor() first), "
                            f"got {images.dtype} of shape {images.shape}")
        shape = (1, -1, 1, 1)
        mean = np.asarray(self.mean, dtype=images.dtype).reshape(shape)
        std = np.asarray(self.std, dtype=images.dtype).reshape(shape)
        return (images - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images

    def __repr__(self):
        return f"Compose({self.transforms})"


SUPPORTED = (ToTensor, Normalize, Compose)
