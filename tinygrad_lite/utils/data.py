"""torch.utils.data's names: `from tinygrad_lite.utils.data import DataLoader` (the same objects as tl.data)."""
from ..data import DataLoader, Subset, TensorDataset, random_split

__all__ = ["DataLoader", "Subset", "TensorDataset", "random_split"]
