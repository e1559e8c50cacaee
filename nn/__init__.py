"""chaingrad's neural-network package (plays ``torch.nn``).

    >>> import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))

Layer files each add one ``from .layers.<file> import ...`` line below.
"""
# ruff: noqa: F401  (this file re-exports)

from . import functional, init, parallel, utils
from .containers import ModuleDict, ModuleList, Sequential
from .layers.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .layers.attention import MultiheadAttention
from .layers.conv import Conv2d
from .layers.dropout import Dropout
from .layers.embedding import Embedding
from .layers.flatten import Flatten, Unflatten
from .layers.linear import Identity, Linear
from .layers.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .layers.pooling import AvgPool2d, MaxPool2d
from .layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .layers.transformer import TransformerEncoder, TransformerEncoderLayer
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from .module import Module
from .parameter import Parameter
from .serialization import load, save
