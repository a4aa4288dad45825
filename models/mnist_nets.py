"""The tutorials' fully connected MNIST networks: a general MLP and the named nets built from it.

Every network returns logits (no softmax): the loss is `F.cross_entropy`, which fuses the
softmax, and `logits.softmax()` gives probabilities when they are wanted.
"""
from __future__ import annotations

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import backend
from tinygrad_lite import nn

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Sequential):
    """A multilayer perceptron: Linear layers of `sizes` with `activation` (and Dropout) between them.

    `MLP([784, 1000, 10])` is Linear(784, 1000), ReLU, Linear(1000, 10): input (N, 784),
    output logits (N, 10). `activation` is "relu", "sigmoid" or "tanh"; `dropout` > 0 adds a
    Dropout after each hidden activation. Weights use PyTorch's default init unless
    `weight_init_std` is given: then W ~ weight_init_std * N(0, 1) and b = 0, as in
    "Deep Learning from Scratch". Parameters are named as in a Sequential ("0.weight", ...),
    so a state_dict ports to and from `torch.nn.Sequential` of the same layers.

        >>> import tinygrad_lite as tl
        >>> MLP([784, 1000, 10]).num_parameters()
        795010
    """

    def __init__(self, sizes, activation="relu", dropout=0.0, weight_init_std=None, device=None):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"MLP: sizes must be at least two positive layer widths, got {sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        self.sizes, self.activation, self.dropout = tuple(sizes), activation, dropout
        if weight_init_std is not None:
            for m in self:
                if isinstance(m, nn.Linear):
                    w = backend.rng("cpu").standard_normal(m.weight.shape, dtype=np.float32)
                    m.weight.data[...] = np.float32(weight_init_std) * w     # in place: keeps Linear's layout
                    m.bias.data = np.zeros(m.bias.shape, dtype=np.float32)
        if device is not None:
            self.to(device)

    def extra_repr(self):
        return f"sizes={list(self.sizes)}, activation={self.activation!r}, dropout={self.dropout}"


class TwoLayerNet(MLP):
    """784-50-10 with a sigmoid hidden layer: "Deep Learning from Scratch" ch. 4 (train_neuralnet.py).

    Shape: input (N, 784) -> Linear(784, 50) -> Sigmoid -> Linear(50, 10) -> logits (N, 10);
    39,760 parameters. Loss: softmax cross-entropy (`F.cross_entropy` on the logits).
    Init as in the book: W = weight_init_std * randn (weight_init_std=0.01), b = 0.
    Recipe: SGD lr 0.1, batch 100, 10,000 iterations (about 16.7 epochs of 60,000).
    Reported: the book's accuracy curve ends near 95% test accuracy (train and test
    curves overlap: no overfitting), a figure rather than a printed number.
    """

    def __init__(self, input_size=784, hidden_size=50, output_size=10, weight_init_std=0.01, device=None):
        super().__init__([input_size, hidden_size, output_size], activation="sigmoid",
                         weight_init_std=weight_init_std, device=device)


class MLP1000(MLP):
    """784-1000-10 with ReLU: the classic one-hidden-layer MNIST net.

    Shape: input (N, 784) -> Linear(784, 1000) -> ReLU -> Linear(1000, 10) -> logits (N, 10);
    795,010 parameters. Loss: `F.cross_entropy`.
    Recipe: Adam lr 1e-3, batch 64 (here 5 epochs). Reported: ~97% test accuracy.
    """

    def __init__(self, in_features=784, num_classes=10, dropout=0.0, device=None):
        super().__init__([in_features, 1000, num_classes], activation="relu", dropout=dropout, device=device)


class ThreeLayerNet(MLP):
    """784-200-80-10 with ReLU.

    Shape: input (N, 784) -> Linear(784, 200) -> ReLU -> Linear(200, 80) -> ReLU
    -> Linear(80, 10) -> logits (N, 10); 173,890 parameters. Loss: `F.cross_entropy`.
    Recipe: batch 256, L2 regularization 1e-3 on the weights (gradient + 1e-3 W; biases
    not decayed), here with Adam lr 1e-3 for 20 epochs. Reported: 97.92% test accuracy.
    """

    def __init__(self, in_features=784, num_classes=10, dropout=0.0, device=None):
        super().__init__([in_features, 200, 80, num_classes], activation="relu", dropout=dropout, device=device)


class TinyMLP(MLP):
    """784-25-15-10 with ReLU: a deliberately tiny net.

    Shape: input (N, 784) -> Linear(784, 25) -> ReLU -> Linear(25, 15) -> ReLU
    -> Linear(15, 10) -> logits (N, 10); 20,175 parameters. Loss: logits into
    `F.cross_entropy`. Recipe: Adam lr 1e-3, batch 64 (here 10 epochs).
    Reported: 93.27% test accuracy.
    """

    def __init__(self, in_features=784, num_classes=10, device=None):
        super().__init__([in_features, 25, 15, num_classes], activation="relu", device=device)


def predict_proba(model, x):
    """Softmax probabilities of a logits model for the input `x` (no graph recorded)."""
    with tl.no_grad():
        return model(x if isinstance(x, tl.Tensor) else tl.Tensor(x)).softmax(axis=-1)
