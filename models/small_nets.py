"""The tutorials' small networks: logic gates (a single neuron, and XOR) and Iris."""
from __future__ import annotations

import tinygrad_lite as tl
from tinygrad_lite import nn


class LogisticRegression(nn.Module):
    """The "OneNet" of the logic-gate tutorial: one neuron, y = sigmoid(x @ W.T + b).

    Shape: input (N, in_features) -> Linear(in_features, 1) -> Sigmoid -> probabilities (N, 1);
    in_features + 1 parameters (3 for AND / OR with 2 inputs, 2 for NOT with 1 input).
    Loss: `F.binary_cross_entropy` on the output probabilities; predict 1 where p > 0.5.
    Recipe: full batch (the 4 rows of the truth table, 2 for NOT), SGD lr 1.0,
    2,000 steps. Reported: 100% (every row of the truth table right).
    """

    def __init__(self, in_features=2, device=None):
        super().__init__()
        self.in_features = in_features
        self.linear = nn.Linear(in_features, 1)
        if device is not None:
            self.to(device)

    def forward(self, x):
        return self.linear(x).sigmoid()

    def extra_repr(self):
        return f"in_features={self.in_features}"


class XORNet(nn.Module):
    """XOR: 2-H-2 with a ReLU hidden layer and a softmax output over the classes {0, 1}.

    Shape: input (N, 2) -> Linear(2, hidden) -> ReLU -> Linear(hidden, 2) -> logits (N, 2)
    (`predict_proba` applies the softmax; the loss `F.cross_entropy` fuses it);
    5 * hidden + 2 parameters (42 with the default hidden=8).
    Recipe: full batch (the 4 rows), Adam lr 0.05 with L2 regularization 1e-4 on the weights,
    500 steps. Reported: 100% (a single neuron cannot do it: XOR is not linearly separable).
    """

    def __init__(self, hidden=8, device=None):
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(2, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 2)
        if device is not None:
            self.to(device)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

    def predict_proba(self, x):
        with tl.no_grad():
            return self(x).softmax(axis=-1)

    def extra_repr(self):
        return f"hidden={self.hidden}"


class IrisNet(nn.Module):
    """Iris: 4-20-20-3 with ReLU.

    Shape: input (N, 4) standardized features -> Linear(4, 20) -> ReLU -> Linear(20, 20) -> ReLU
    -> Linear(20, 3) -> logits (N, 3); 583 parameters. Loss: `F.cross_entropy`.
    Recipe: stratified 80/20 split (random_state=10), features standardized with the training
    split's mean and std, Adam lr 0.01, batch 16, 100 epochs.
    Reported: 100% on its test split (at least 96% is required here).
    """

    def __init__(self, in_features=4, hidden=20, num_classes=3, device=None):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_classes))
        if device is not None:
            self.to(device)

    def forward(self, x):
        return self.net(x)
