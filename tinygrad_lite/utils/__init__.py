"""tl.utils: PyTorch's torch.utils names. `tl.utils.tensorboard.SummaryWriter` logs for TensorBoard
(needs the `tensorboard` extra); `tl.utils.data` is `tl.data` under torch's name.

Submodules load on first use, so `import tinygrad_lite` never pulls in tensorboardX.
"""


def __getattr__(name):
    if name in ("tensorboard", "data"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinygrad_lite.utils' has no attribute {name!r}")
