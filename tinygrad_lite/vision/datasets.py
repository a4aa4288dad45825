"""torchvision.datasets.MNIST / FashionMNIST's names, over tl.datasets' files: a dataset of (image, label).

The whole split is converted once when the dataset is made (so `tl.data.DataLoader` batches it without
per-sample work): images float32 N x 1 x 28 x 28 with ToTensor, labels int64, as torchvision gives them.
Files are found as tl.datasets finds them (`root`, then $TINYGRAD_LITE_DATA/mnist, the cache, ...) and are
checked for structure; like torchvision, files already on disk are not checksummed (downloads are).
"""
from __future__ import annotations

import numpy as np

from .. import datasets as _datasets
from ..data import TensorDataset
from ..tensor import Tensor
from . import transforms as _transforms


class MNIST(TensorDataset):
    """torchvision.datasets.MNIST(root, train=True, transform=None, target_transform=None, download=False)."""

    _name = "mnist"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train, self.transform, self.target_transform = root, train, transform, target_transform
        if transform is not None and not isinstance(transform, _transforms.SUPPORTED):
            raise TypeError(f"{type(self).__name__}: transform must be tl.vision.transforms.ToTensor, Normalize or "
                            f"Compose of them (applied to the whole split at once), got {transform!r}")
        if target_transform is not None:
            raise NotImplementedError(f"{type(self).__name__}: target_transform is not supported")
        images, labels = _datasets._load(self._name, root, train, download, verify=False)
        self.data, self.targets = images, labels.astype(np.int64)
        x = transform(images) if transform is not None else images
        super().__init__(Tensor(x), Tensor(self.targets))

    def __getitem__(self, i):
        img, target = super().__getitem__(i)
        return img, int(target.item())

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: "
                f"{self.root}\n    Split: {split}\n    Transform: {self.transform!r}")


class FashionMNIST(MNIST):
    """torchvision.datasets.FashionMNIST: as MNIST, from the fashion-mnist files."""

    _name = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
