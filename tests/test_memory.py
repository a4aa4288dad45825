"""Training holds no memory from one step to the next: traced NumPy memory is flat after the first epoch."""
import gc
import tracemalloc

import numpy as np

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn


def test_memory_stops_growing_after_the_first_epoch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2048, 64)).astype(np.float32)
    y = rng.integers(0, 10, 2048)
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    opt = tl.optim.Adam(model.parameters(), lr=1e-3)
    loader = tl.data.DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    after = []
    tracemalloc.start()
    try:
        for _ in range(10):
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            del xb, yb, loss
            gc.collect()
            after.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    growth = max(after[1:]) - after[0]
    assert growth < 16 * 1024, f"traced memory grew by {growth} bytes after epoch 1: {after}"
