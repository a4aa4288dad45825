"""`import tinygrad_lite` stays light: no matplotlib, CuPy, tqdm, torch, sklearn until used."""
import subprocess
import sys

HEAVY = ["matplotlib", "cupy", "tqdm", "torch", "sklearn", "safetensors", "scipy", "threadpoolctl"]


def test_import_is_light():
    code = ("import sys, tinygrad_lite as tl; x = tl.Tensor([1.0], requires_grad=True); (x * 2).sum().backward(); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import tinygrad_lite pulled in {out.strip()}"


def test_training_stack_import_is_light():
    code = ("import sys, tinygrad_lite as tl; tl.nn, tl.optim, tl.data, tl.datasets, tl.save; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"the training stack pulled in {out.strip()}"
