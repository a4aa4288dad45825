"""tl.nn: Module, layers, loss modules and (as nn.functional) the functional API."""
from . import functional, init, utils
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv2d, Dropout2d, MaxPool2d
from .normalization import BatchNorm1d, BatchNorm2d
from .modules import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, Identity, L1Loss, LeakyReLU, Linear,
                      LogSoftmax, Module, ModuleList, MSELoss, NLLLoss, Parameter, ReLU, Sequential, Sigmoid, Softmax,
                      Softplus, Tanh)
# ---- PyTorch-parity activations
from .modules import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, ReLU6,  # noqa: E402
                      SiLU, Softmin, Softsign)
