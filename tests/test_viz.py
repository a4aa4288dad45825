"""tl.summary, tl.to_dot / render_dot (tinygrad_lite/viz.py) and the PNG plots (tinygrad_lite/plots.py)."""
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn, plots, viz
from tinygrad_lite.nn import functional as F

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def mlp1000():
    return nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 10))


# ---------------------------------------------------------------- summary
def test_summary_of_the_784_1000_10_net(capsys):
    text = tl.summary(mlp1000(), (784,))
    assert capsys.readouterr().out.strip() == text.strip()       # printed and returned
    assert "Total params: 795,010" in text
    assert "Trainable params: 795,010" in text and "Non-trainable params: 0" in text
    rows = [l for l in text.splitlines() if re.match(r"^\d+ \(", l)]
    assert len(rows) == 3
    assert re.search(r"0 \(Linear\)\s+\(None, 1000\)\s+785,000$", rows[0])
    assert re.search(r"1 \(ReLU\)\s+\(None, 1000\)\s+0$", rows[1])
    assert re.search(r"2 \(Linear\)\s+\(None, 10\)\s+10,010$", rows[2])
    assert "(None, 784)" in text and 'Model: "Sequential"' in text


def test_summary_nested_custom_module_and_restores_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh())
            self.head = nn.Linear(8, 3)
            self.unused = nn.Linear(2, 2)
            self.scale = nn.Parameter(tl.ones(3))

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    net = Net()
    net.train()
    text = viz.summary(net, (4, 4), print_fn=None)
    assert "body.0 (Flatten)" in text and "(None, 16)" in text
    assert "body.1 (Linear)" in text and "head (Linear)" in text
    assert "unused (Linear, not called)" in text
    assert "(parameters outside the layers)" in text
    assert f"Total params: {net.num_parameters():,}" in text
    assert all("forward" not in m.__dict__ for m in net.modules())    # the hooks are gone
    assert net.training                                                # mode restored
    assert net(tl.randn(2, 4, 4)).shape == (2, 3)


def test_summary_of_a_model_from_models_package_and_int_shape():
    try:
        from tinygrad_lite.models import IrisNet, MLP1000
    except ModuleNotFoundError:
        pytest.skip("tinygrad_lite.models is not installed (pip install -e .)")
    assert "Total params: 795,010" in tl.summary(MLP1000(), 784, print_fn=None)
    assert "Total params: 583" in tl.summary(IrisNet(), (4,), print_fn=None)


# ---------------------------------------------------------------- to_dot
STATEMENT = re.compile(r'^\s*(n\d+ \[label=".*"(, [a-z]+=("[^"]*"|[\w.]+))*\];|n\d+ -> n\d+;|rankdir=TB;|'
                       r'(node|edge) \[.*\];|\})$')


def assert_valid_dot(src):
    lines = src.strip().splitlines()
    assert lines[0].startswith("digraph ") and lines[0].endswith("{")
    assert lines[-1] == "}"
    assert src.count("{") == src.count("}")
    for line in lines[1:]:
        assert STATEMENT.match(line), line
    ids = set(re.findall(r"^\s*(n\d+) \[", src, flags=re.M))
    for a, b in re.findall(r"(n\d+) -> (n\d+);", src):
        assert a in ids and b in ids


def test_to_dot_of_a_training_loss():
    tl.manual_seed(0)
    model = mlp1000()
    x, y = tl.randn(4, 784), tl.Tensor([1, 2, 3, 4])
    loss = F.cross_entropy(model(x), y)
    src = tl.to_dot(loss, params=dict(model.named_parameters()))
    assert_valid_dot(src)
    for op in ("CrossEntropy", "Linear", "ReLU"):
        assert f'label="{op}\\n' in src
    assert "(4, 1000)" in src and "(4, 10)" in src and "(4, 784)" in src
    assert src.count('fillcolor="lightblue"') == 4                     # the four parameters
    assert "0.weight\\n(1000, 784)" in src and "2.bias\\n(10,)" in src
    assert src.count('fillcolor="lightgrey"') == 1                     # the input batch
    assert src.count("->") == 8                                        # 1 + 3 + 1 + 3 inputs
    assert 'color="red"' in src                                        # the output
    loss.backward()
    assert "(freed)" in tl.to_dot(loss)                                # the graph was released


def test_to_dot_shared_subexpressions_leaves_and_deep_graphs():
    a = tl.Tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = (b + b).sum()                                                  # b used twice: one node
    src = tl.to_dot(c)
    assert_valid_dot(src)
    assert src.count("MulScalar") == 1 and src.count("Add\\n") == 1
    assert_valid_dot(tl.to_dot(a))                                     # a lone leaf
    x = tl.Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):                                              # no recursion limit
        y = y * 1.0
    src = tl.to_dot(y)
    assert src.count("MulScalar") == 3000
    with pytest.raises(TypeError):
        tl.to_dot(np.zeros(2))


def test_to_dot_escapes_quotes():
    x = tl.Tensor([1.0], requires_grad=True)
    src = tl.to_dot(x * 3, params={'the "x"': x})
    assert 'the \\"x\\"' in src
    assert_valid_dot(src)


def test_render_dot_without_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    out = viz.render_dot((x * x).sum(), tmp_path / "graph.png")
    assert out == tmp_path / "graph.dot" and out.read_text().startswith("digraph")
    assert not (tmp_path / "graph.png").exists()
    msg = capsys.readouterr().out
    assert "not installed" in msg and "dot -Tpng" in msg


def test_render_dot_with_graphviz(tmp_path):
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    x = tl.Tensor([1.0, 2.0], requires_grad=True)
    out = viz.render_dot((x * x).sum(), tmp_path / "graph.png")
    assert out.read_bytes()[:8] == PNG_SIGNATURE


# ---------------------------------------------------------------- plots
def assert_png(path, min_size=(200, 200)):
    path = Path(path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image as mpimg
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= min_size[0] and img.shape[1] >= min_size[1]
    assert img.std() > 0.01                                            # not a blank canvas
    return img


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 0.1 / e, "test_loss": 1.1 / e,
                "test_acc": 1 - 0.12 / e, "seconds": 1.0} for e in range(1, 6)]
    assert plots.plot_history(history, tmp_path / "sub" / "curves.png") == tmp_path / "sub" / "curves.png"
    assert_png(tmp_path / "sub" / "curves.png")
    plots.plot_history([dict(history[0], test_loss=None, test_acc=None)], tmp_path / "c1.png")
    assert_png(tmp_path / "c1.png")
    with pytest.raises(ValueError):
        plots.plot_history([], tmp_path / "none.png")

    rng = np.random.default_rng(0)
    images = rng.random((60, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 60)
    preds = labels.copy()
    preds[::3] = (preds[::3] + 1) % 10
    assert_png(plots.plot_misclassified(images, labels, preds, tmp_path / "mis.png", n=9))
    assert_png(plots.plot_misclassified(images.reshape(60, 1, 28, 28), labels, labels, tmp_path / "none.png"),
               min_size=(100, 100))
    with pytest.raises(ValueError):
        plots.plot_misclassified(images[:, :780], labels, preds, tmp_path / "bad.png")
    assert_png(plots.plot_confusion(labels, preds, tmp_path / "conf.png", classes=[str(i) for i in range(10)]))
    m = plots.confusion_matrix(labels, preds, 10)
    assert m.sum() == 60 and np.trace(m) == np.sum(labels == preds)
