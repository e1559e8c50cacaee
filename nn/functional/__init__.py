"""Functional forms of the layers and losses (plays ``torch.nn.functional``).

    >>> import nn.functional as F
    >>> loss = F.cross_entropy(logits, labels)

One import line per file; files for further layer families append theirs.
"""
# ruff: noqa: F401  (this file re-exports)

from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .attention import scaled_dot_product_attention
from .conv import avg_pool2d, conv2d, max_pool2d
from .dropout import dropout
from .embedding import embedding
from .linear import linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
)
from .norm import batch_norm, layer_norm
