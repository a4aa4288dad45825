"""tl.nn: Module, layers and (as nn.functional) the functional API."""
from . import functional
from .modules import (Dropout, Flatten, Identity, Linear, LogSoftmax, Module, ModuleList, Parameter, ReLU,
                      Sequential, Sigmoid, Softmax, Tanh)
