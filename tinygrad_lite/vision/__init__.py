"""tl.vision: the corner of torchvision a tutorial's MNIST script uses, so it runs with its imports changed:
`from tinygrad_lite import vision as torchvision`, then `torchvision.datasets.MNIST(root, train=True,
transform=torchvision.transforms.ToTensor(), download=True)`.
"""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
