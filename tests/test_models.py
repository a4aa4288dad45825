"""tl.models (the tutorials' networks and RECIPES) and tinygrad_lite.training (fit / evaluate).

The fast recipes (gates, Iris, TinyMLP on MNIST) run in CI; the other full MNIST recipes take
15-25 s each on 2 quiet cores (minutes on a busy machine) and are marked slow: run them by hand
with `pytest -m slow tests/test_models.py -s`.
"""
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.nn import functional as F
from tinygrad_lite.training import count_correct, evaluate, fit

import tinygrad_lite.models as M
from conftest import needs_mnist

REPO = Path(__file__).resolve().parents[1]


def mnist_or_skip():
    return needs_mnist()          # the folder tl.datasets (or the checkout's shared/datasets) holds MNIST in


# ---------------------------------------------------------------- shapes, counts, docs
NETS = [
    (M.MLP1000, {}, (784,), (10,), 795_010),
    (M.TwoLayerNet, {}, (784,), (10,), 39_760),
    (M.ThreeLayerNet, {}, (784,), (10,), 173_890),
    (M.TinyMLP, {}, (784,), (10,), 20_175),
    (M.IrisNet, {}, (4,), (3,), 583),
    (M.XORNet, {}, (2,), (2,), 42),
    (M.LogisticRegression, {}, (2,), (1,), 3),
    (M.LogisticRegression, {"in_features": 1}, (1,), (1,), 2),
]


@pytest.mark.parametrize("cls,kwargs,inp,out,count", NETS, ids=lambda v: getattr(v, "__name__", None))
def test_shapes_and_parameter_counts(cls, kwargs, inp, out, count):
    tl.manual_seed(0)
    model = cls(**kwargs)
    assert model.num_parameters() == count
    y = model(tl.randn(5, *inp))
    assert y.shape == (5,) + out
    assert y.dtype == np.float32
    assert isinstance(model, nn.Module)


@pytest.mark.parametrize("cls", [M.MLP, M.MLP1000, M.TwoLayerNet, M.ThreeLayerNet, M.TinyMLP, M.IrisNet,
                                 M.XORNet, M.LogisticRegression], ids=lambda c: c.__name__)
def test_docstrings_give_shape_and_recipe(cls):
    doc = cls.__doc__ or ""
    assert len(doc) > 100
    if cls is not M.MLP:
        assert "Shape" in doc and "Recipe" in doc and "Reported" in doc, doc
        assert "->" in doc


def test_mlp_options():
    m = M.MLP([10, 7, 5, 3], activation="tanh", dropout=0.5)
    assert [type(l).__name__ for l in m] == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert list(dict(m.named_parameters())) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    m.eval()
    x = tl.randn(4, 10)
    assert np.array_equal(m(x).numpy(), m(x).numpy())        # no dropout in eval mode
    for bad in ([10], [10, 0], ):
        with pytest.raises(ValueError):
            M.MLP(bad)
    with pytest.raises(ValueError, match="activation"):
        M.MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="dropout"):
        M.MLP([2, 2], dropout=1.0)


def test_two_layer_net_uses_the_books_init():
    tl.manual_seed(0)
    m = M.TwoLayerNet()
    w0, b0 = m[0].weight.numpy(), m[0].bias.numpy()
    assert w0.dtype == np.float32 and abs(w0.std() - 0.01) < 0.001
    assert not b0.any() and not m[2].bias.numpy().any()
    assert isinstance(m[1], nn.Sigmoid)
    m2 = M.TwoLayerNet(weight_init_std=None)                   # PyTorch's default init instead
    assert m2[0].bias.numpy().any()


def test_mlp_matches_torch_sequential():
    torch = pytest.importorskip("torch")
    tl.manual_seed(1)
    m = M.MLP1000()
    t = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    t.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in m.state_dict().items()})
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    np.testing.assert_allclose(m(tl.Tensor(x)).numpy(), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)


def test_predict_proba():
    m = M.XORNet()
    p = m.predict_proba(tl.Tensor([[0.0, 1.0], [1.0, 1.0]]))
    np.testing.assert_allclose(p.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert not p.requires_grad
    p2 = M.predict_proba(M.TinyMLP(), np.zeros((3, 784), np.float32))
    assert p2.shape == (3, 10)


# ---------------------------------------------------------------- RECIPES
def test_recipes_table():
    assert set(M.MNIST_RECIPES) == {"two_layer", "mlp1000", "three_layer", "tiny_mlp"}
    assert M.DEFAULT_MNIST_RECIPE == "mlp1000"
    for name, r in M.RECIPES.items():
        assert r.name == name
        assert r.optimizer in ("sgd", "adam", "adamw")
        assert 0 < r.target <= r.reported + 1e-9 and r.reported <= 1.0
        assert r.reported_note and r.title and r.source
        assert isinstance(r.describe(), str) and f"lr {r.lr:g}" in r.describe()
        model = r.build()
        assert isinstance(model, nn.Module)
        assert (r.model.__doc__ or "").strip()
    assert M.RECIPES["two_layer"].describe() == "SGD lr 0.1, batch 100, 10,000 iterations"
    assert M.RECIPES["mlp1000"].describe().startswith("Adam lr 0.001, batch 64")
    assert "L2 0.001" in M.RECIPES["three_layer"].describe()
    assert M.RECIPES["three_layer"].batch_size == 256
    assert M.RECIPES["tiny_mlp"].reported == pytest.approx(0.9327)
    assert M.RECIPES["three_layer"].reported == pytest.approx(0.9792)


def test_recipe_build_dims_and_optimizer_groups():
    r = M.RECIPES["two_layer"]
    m = r.build(in_features=64, num_classes=10)                # e.g. 8x8 digits
    assert m(tl.randn(2, 64)).shape == (2, 10)
    opt = M.RECIPES["three_layer"].make_optimizer(M.ThreeLayerNet())
    assert isinstance(opt, tl.optim.Adam)
    wd = {g["weight_decay"]: [p.ndim for p in g["params"]] for g in opt.param_groups}
    assert wd == {1e-3: [2, 2, 2], 0.0: [1, 1, 1]}             # L2 on the weights only
    opt = r.make_optimizer(m, optimizer="adamw", lr=0.5, weight_decay=0.0)
    assert isinstance(opt, tl.optim.AdamW) and opt.param_groups[0]["lr"] == 0.5
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="optimizer"):
        M.make_optimizer(m, "rmsprop", 0.1)


@pytest.mark.parametrize("name", ["and", "or", "not", "xor"])
def test_gate_recipes_reach_100_percent(name):
    r = M.train_recipe(name)
    assert r["accuracy"] == 1.0
    X, y = M.GATES[name]
    assert np.array_equal(r["predictions"], y)


def test_a_single_neuron_cannot_learn_xor():
    X, y = M.GATES["xor"]
    tl.manual_seed(0)
    m = M.LogisticRegression()
    opt = tl.optim.SGD(m.parameters(), lr=1.0)
    Xt, yt = tl.Tensor(X), tl.Tensor(y.astype(np.float32).reshape(-1, 1))
    for _ in range(500):
        loss = F.binary_cross_entropy(m(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert evaluate(m, Xt, yt, loss_fn=F.binary_cross_entropy)["accuracy"] <= 0.75


def test_iris_recipe_reaches_96_percent():
    (X, y), (X_test, y_test) = M.iris_split()
    assert len(X_test) == 30 and np.bincount(y_test).tolist() == [10, 10, 10]     # stratified
    assert abs(X.mean()) < 1e-5                                                     # standardized
    r = M.train_recipe("iris")
    assert r["accuracy"] >= 0.96
    assert len(r["history"]) == 100


def check_mnist_recipe(name):
    root = mnist_or_skip()
    r = M.train_recipe(name, data_root=root)
    recipe = M.RECIPES[name]
    print(f"{name}: {r['accuracy'] * 100:.2f}% in {r['seconds']:.1f} s (target {recipe.target * 100:.2f}%)")
    assert r["accuracy"] >= recipe.target
    assert r["predictions"].shape == (10_000,)
    if recipe.iterations:
        assert r["history"][-1]["steps"] == recipe.iterations
    else:
        assert len(r["history"]) == recipe.epochs


def test_tiny_mlp_recipe_reaches_its_accuracy():
    """The one full MNIST recipe cheap enough for CI (about 4 s of training on 2 cores)."""
    check_mnist_recipe("tiny_mlp")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_layer", "mlp1000", "three_layer"])
def test_mnist_recipe_reaches_its_accuracy(name):
    check_mnist_recipe(name)


# ---------------------------------------------------------------- fit / evaluate
def blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(3, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    X = (centers[y] + rng.normal(0, 1, size=(n, 5))).astype(np.float32)
    return X, y.astype(np.int64)


def small_run(seed=0):
    tl.manual_seed(seed)
    model = M.MLP([5, 16, 3])
    opt = tl.optim.Adam(model.parameters(), lr=1e-2)
    X, y = blobs()
    loader = tl.data.DataLoader((X[:500], y[:500]), batch_size=32, shuffle=True, seed=7)
    return model, opt, loader, (X[500:], y[500:])


def test_fit_history_and_evaluate():
    model, opt, loader, test = small_run()
    seen = []
    hist = fit(model, opt, loader, test, epochs=3, progress=False, on_epoch_end=seen.append)
    assert [h["epoch"] for h in hist] == [1, 2, 3] and seen == hist
    assert [h["steps"] for h in hist] == [16, 32, 48]
    for h in hist:
        assert set(h) == {"epoch", "steps", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["test_acc"] <= 1 and h["seconds"] >= 0
        assert isinstance(h["train_loss"], float) and isinstance(h["test_acc"], float)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    ev = evaluate(model, *test, batch_size=7)
    assert ev["accuracy"] == pytest.approx(hist[-1]["test_acc"])
    assert ev["loss"] == pytest.approx(hist[-1]["test_loss"], rel=1e-5)
    assert ev["predictions"].dtype == np.int64 and ev["predictions"].shape == (100,)
    assert ev["accuracy"] == np.mean(ev["predictions"] == test[1])
    assert ev["accuracy"] > 0.9
    assert model.training                                     # evaluate restores the mode
    assert tl.is_grad_enabled()


def test_fit_without_test_data_max_steps_and_early_stop():
    model, opt, loader, _ = small_run()
    hist = fit(model, opt, loader, None, epochs=10, progress=False, max_steps=20)
    assert [h["steps"] for h in hist] == [16, 20]
    assert hist[0]["test_acc"] is None
    hist = fit(model, opt, loader, None, epochs=10, progress=False, on_epoch_end=lambda row: row["epoch"] == 2)
    assert len(hist) == 2
    with pytest.raises(ValueError):
        fit(model, opt, loader, None, epochs=-1, progress=False)


def test_fit_with_progress_bar(capsys):
    pytest.importorskip("tqdm")
    model, opt, loader, test = small_run()
    hist = fit(model, opt, loader, test, epochs=1, progress=True)
    assert len(hist) == 1
    assert "epoch 1/1" in capsys.readouterr().err


def test_fit_resumed_from_checkpoint_equals_uninterrupted(tmp_path):
    model, opt, loader, test = small_run()
    full = fit(model, opt, loader, test, epochs=3, progress=False)

    m1, o1, l1, _ = small_run()
    fit(m1, o1, l1, test, epochs=1, progress=False, checkpoint=tmp_path / "ck.safetensors",
        checkpoint_extra={"note": "first part"})
    m2, o2, l2, _ = small_run(seed=123)                       # other initial weights: all are restored
    info = tl.load_checkpoint(tmp_path / "ck.safetensors", m2, o2)
    assert info["epoch"] == 1 and info["extra"]["note"] == "first part"
    resumed = fit(m2, o2, l2, test, epochs=3, progress=False, start_epoch=info["epoch"],
                  history=info["extra"]["history"])
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed] == strip
    for (k, a), b in zip(model.state_dict().items(), m2.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k


def test_count_correct_variants():
    logits = tl.Tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert int(count_correct(logits, tl.Tensor([0, 1, 1]))) == 2
    assert int(count_correct(logits, np.eye(2, dtype=np.float32)[[0, 1, 1]])) == 2      # one-hot targets
    probs = tl.Tensor([[0.9], [0.2], [0.6]])
    assert int(count_correct(probs, tl.Tensor([[1.0], [0.0], [0.0]]))) == 2             # sigmoid outputs


@pytest.mark.gpu
def test_fit_on_gpu_matches_cpu():
    if not tl.gpu_available():
        pytest.skip("no GPU (CuPy missing or no device visible)")
    rows = {}
    for dev in ("cpu", "gpu"):
        tl.manual_seed(0)
        model = M.MLP([5, 16, 3], device=dev)
        opt = tl.optim.Adam(model.parameters(), lr=1e-2)
        X, y = blobs()
        loader = tl.data.DataLoader((X[:500], y[:500]), batch_size=32, shuffle=True, seed=7, device=dev)
        rows[dev] = fit(model, opt, loader, (X[500:], y[500:]), epochs=2, progress=False)
        assert evaluate(model, X[500:], y[500:])["predictions"].shape == (100,)
    for a, b in zip(rows["cpu"], rows["gpu"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=0.02)


@pytest.mark.parametrize("seed,test_size", [(10, 0.2), (0, 0.25), (3, 0.1)])
def test_stratified_split_is_scikit_learns(seed, test_size):
    """iris_split draws the split scikit-learn's train_test_split(stratify=y) draws, without scikit-learn;
    uneven classes exercise the tie-breaking draws too."""
    sk = pytest.importorskip("sklearn.model_selection")
    rng = np.random.default_rng(seed)
    for y in (tl.datasets.iris()[1], rng.integers(0, 4, size=37), np.repeat([2, 0, 1], [7, 11, 5])):
        idx = np.arange(len(y))
        tr, te, _, _ = sk.train_test_split(idx, y, test_size=test_size, stratify=y, random_state=seed)
        mine_tr, mine_te = M.recipes.stratified_split(y, test_size=test_size, seed=seed)
        assert mine_tr.tolist() == tr.tolist() and mine_te.tolist() == te.tolist()
