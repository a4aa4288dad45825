"""tl.vision: the corner of torchvision a tutorial's MNIST script uses, so it runs with its imports changed:
`from tinygrad_lite import vision as torchvision`, then `torchvision.datasets.MNIST(root, train=True,
transform=torchvision.transforms.ToTensor(), download=True)`.
"""
from . import datasets, transforms, utils
from .utils import make_grid

__all__ = ["datasets", "transforms", "utils", "make_grid"]
