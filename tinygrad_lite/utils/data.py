"""torch.utils.data's names: `from tinygrad_lite.utils.data import DataLoader` (the same objects as tl.data)."""
from ..data import DataLoader, TensorDataset

__all__ = ["DataLoader", "TensorDataset"]
