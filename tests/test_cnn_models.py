"""Tests for models/cnn_nets.py and the CNN recipes: shapes and parameter counts, flat or image-shaped
input, tl.summary's conv rows, examples/mnist.py --model NAME, a short CNN run on real MNIST above 98%,
and (slow tier) each recipe reaching its target."""
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import nn
from tinygrad_lite.models import RECIPES, train_recipe
from tinygrad_lite.models.cnn_nets import BNMLP, DeepConvNet, FashionCNN, ImageInput, LeNet5, SimpleConvNet

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("TINYGRAD_LITE_DATA") or REPO_ROOT.parent / "shared" / "datasets")
CNN_RECIPES = ["lenet5", "simple_convnet", "deep_convnet", "mlp_record", "fashion_cnn"]


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@pytest.mark.parametrize("cls,params", [(SimpleConvNet, 433_890), (LeNet5, 61_706), (DeepConvNet, 123_552),
                                        (FashionCNN, 207_018), (BNMLP, 671_754)])
def test_shapes_and_parameter_counts(cls, params):
    tl.manual_seed(0)
    m = cls()
    assert m.num_parameters() == params
    m.eval()
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    with tl.no_grad():
        flat = m(tl.Tensor(x))
        assert flat.shape == (3, 10) and flat.dtype == np.float32
        if cls is not BNMLP:
            image = m(tl.Tensor(x.reshape(3, 1, 28, 28)))          # image-shaped input, same answer
            np.testing.assert_array_equal(image.numpy(), flat.numpy())


def test_image_input_errors_and_other_sizes():
    with pytest.raises(ValueError, match=r"ImageInput: expected images \(N, 1, 28, 28\) or flat rows \(N, 784\)"):
        ImageInput(1, 28)(tl.ones(2, 100))
    with pytest.raises(ValueError, match="not a square"):
        SimpleConvNet(in_features=100 + 1)
    assert SimpleConvNet(in_features=64)(tl.ones(2, 64)).shape == (2, 10)        # 8x8 digits
    z = ImageInput(1, 2, mean=0.5, std=0.25)(tl.Tensor(np.array([[0.0, 0.5, 0.75, 1.0]], np.float32)))
    assert z.shape == (1, 1, 2, 2) and z.dtype == np.float32
    np.testing.assert_allclose(z.numpy().ravel(), [-2.0, 0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="conv2d: kernel 5x5 is larger than the padded input 4x4"):
        LeNet5(in_features=64)(tl.ones(2, 64))                                    # too small for LeNet


def test_deep_convnet_has_he_init():
    tl.manual_seed(0)
    m = DeepConvNet()
    convs = [l for l in m if isinstance(l, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 16, 32, 32, 64, 64]
    w = convs[-1].weight.numpy()
    assert abs(w.std() - np.sqrt(2 / (64 * 9))) < 0.1 * np.sqrt(2 / (64 * 9))
    assert np.all(convs[-1].bias.numpy() == 0)


def test_summary_shows_conv_layers_with_output_shapes():
    text = tl.summary(SimpleConvNet(), (784,), print_fn=None)
    assert "(Conv2d)" in text and "(None, 30, 24, 24)" in text
    assert "(MaxPool2d)" in text and "(None, 30, 12, 12)" in text
    assert "433,890" in text


def test_recipes_are_registered():
    for name in CNN_RECIPES:
        r = RECIPES[name]
        assert r.build().num_parameters() > 0
    assert RECIPES["fashion_cnn"].dataset == "fashion-mnist"


def _mnist():
    folder = next((f for f in (DATA_ROOT, DATA_ROOT / "mnist")
                   if (f / "t10k-labels-idx1-ubyte").exists() or (f / "t10k-labels-idx1-ubyte.gz").exists()), None)
    if folder is None:
        pytest.skip(f"MNIST not found in {DATA_ROOT} (set TINYGRAD_LITE_DATA to a folder containing mnist/)")
    return tl.datasets.load_mnist(root=DATA_ROOT, download=False)


def test_short_cnn_run_on_mnist_is_above_98_percent():
    """LeNet-5 (inputs standardized inside the model), one epoch of the 60,000 images with Adam under a
    OneCycleLR schedule: above 98% on the 10,000 test images (98.67% when measured; ~20 s on one core)."""
    (X, y), (Xt, yt) = _mnist()
    tl.manual_seed(0)
    m = LeNet5()
    opt = tl.optim.Adam(m.parameters(), lr=1e-3)
    loader = tl.data.DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    sched = tl.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=len(loader))
    with _one_blas_thread():
        for i, (xb, yb) in enumerate(loader):
            opt.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            opt.step()
            if i < len(loader) - 1:
                sched.step()
        acc = tl.training.evaluate(m, Xt, yt)["accuracy"]
    assert acc > 0.98, f"test accuracy {acc:.4f}"


def test_mnist_example_takes_a_cnn_model(tmp_path):
    _mnist()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TINYGRAD_LITE_DATA=str(DATA_ROOT), MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "mnist.py"), "--model", "simple_convnet",
                          "--limit", "300", "--epochs", "1", "--quiet", "--no-plots", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "(Conv2d)" in out.stdout and "(None, 30, 24, 24)" in out.stdout
    assert "final test accuracy" in out.stdout


# measured below target on 2026-11-30 (docs/reproduction.md): kept visible, not hidden
BELOW = {}   # every recipe has reached its target when measured (deep_convnet: 99.46% on 2026-11-30)


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=f"measured {BELOW[n]}", strict=False))
                                  if n in BELOW else n for n in CNN_RECIPES])
def test_recipe_reaches_its_target(name):
    if RECIPES[name].dataset == "fashion-mnist" and not Path("/usr/share/datasets/fashion-mnist").exists() \
            and not (DATA_ROOT / "fashion-mnist").exists():
        pytest.skip("Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)")
    with _one_blas_thread():
        r = train_recipe(name)
    assert r["accuracy"] >= RECIPES[name].target, f"{name}: {r['accuracy']:.4f} < {RECIPES[name].target}"
