"""2-D convolution (NCHW) as matrix products over an im2col matrix.

    z[n, o, p, q] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw]

The patches of x are copied once into ``cols``, one strided copy per kernel
offset (see ``window.py``); then z = W @ cols with W the weight as an
(O, C·kh·kw) matrix. With groups, channels split into G blocks and the product
is batched over the blocks.

How the batch is laid out for the products is chosen by shape (see
:func:`batch_blocks`): one product per image when a patch has few numbers (the
products are then too thin for BLAS to gain from width, and per-image outputs
are already in NCHW order), else one wide product over the whole batch.

z is linear in x and in w, so its gradients are again convolutions, and the
three ops below are each other's derivatives (double backward works):

    conv2d(x, w)               dx: conv2d_input_grad(g, w)    dw: conv2d_weight_grad(x, g)
    conv2d_input_grad(g, w)    dg: conv2d(gx, w)              dw: conv2d_weight_grad(gx, g)
    conv2d_weight_grad(x, g)   dx: conv2d_input_grad(g, gw)   dg: conv2d(x, gw)
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Op
from .window import Window2d

#: patches with fewer numbers than this (C/G·kh·kw) get one product per image;
#: measured on benchmarks/cnn_step.py (9 numbers: 3.5x faster per image,
#: 144 numbers: 1.2x faster as one product)
PER_IMAGE_BELOW = 64


def batch_blocks(n: int, channels: int, window: Window2d, groups: int) -> int:
    """Into how many blocks B the batch of ``n`` images is split for the products."""
    return max(n, 1) if channels // groups * window.offsets < PER_IMAGE_BELOW else 1


def im2col(x: np.ndarray, window: Window2d, groups: int) -> np.ndarray:
    """Patches of x (N, C, H, W) as (B, G, C/G·kh·kw, N/B·Ho·Wo): row c·kh·kw + k
    of group g holds channel g·C/G + c at kernel offset k (``w``'s own order)."""
    n, c = x.shape[:2]
    blocks = batch_blocks(n, c, window, groups)
    ho, wo = window.out_size
    cols = backend.empty((blocks, c, window.offsets, n // blocks, ho, wo), x.dtype, like=x)
    padded = window.pad(x).reshape(blocks, n // blocks, c, *window.padded_size)
    window.gather(padded.transpose(0, 2, 1, 3, 4), out=cols.transpose(2, 0, 1, 3, 4, 5))
    return cols.reshape(blocks, groups, c // groups * window.offsets, n // blocks * ho * wo)


def col2im(cols: np.ndarray, window: Window2d, n: int, c: int) -> np.ndarray:
    """The adjoint of :func:`im2col`: patches (B, G, C/G·kh·kw, N/B·Ho·Wo) summed
    back into an (N, C, H, W) array."""
    blocks = cols.shape[0]
    values = cols.reshape(blocks, c, window.offsets, n // blocks, *window.out_size)
    padded = window.scatter(values.transpose(2, 0, 1, 3, 4, 5), (blocks, c, n // blocks),
                            cols.dtype)
    image_first = window.crop(padded).transpose(0, 2, 1, 3, 4)
    return backend.contiguous(image_first).reshape(n, c, *window.in_size)


def to_rows(g: np.ndarray, blocks: int, groups: int) -> np.ndarray:
    """An (N, O, Ho, Wo) array as (B, G, O/G, N/B·Ho·Wo): one row per channel
    (free when B = N, a transposing copy when the batch is one block)."""
    n, o, ho, wo = g.shape
    by_block = g.reshape(blocks, n // blocks, o, ho * wo)
    if blocks != n:
        by_block = by_block.transpose(0, 2, 1, 3)
    return by_block.reshape(blocks, groups, o // groups, n // blocks * ho * wo)


def from_rows(rows: np.ndarray, n: int, window: Window2d, bias=None) -> np.ndarray:
    """The inverse of :func:`to_rows` (``rows`` is consumed) as a contiguous
    (N, O, Ho, Wo) array, with ``bias`` (O,) added on the way."""
    blocks = rows.shape[0]
    o = rows.shape[1] * rows.shape[2]
    pixels = window.out_size[0] * window.out_size[1]
    if blocks == n:  # already image-major: add the bias in place, no copy
        out = rows.reshape(n, o, pixels)
        if bias is not None:
            out += bias.reshape(o, 1)
        return out.reshape(n, o, *window.out_size)
    image_first = rows.reshape(blocks, o, n // blocks, pixels).transpose(0, 2, 1, 3)
    out = backend.empty((blocks, n // blocks, o, pixels), rows.dtype, like=rows)
    if bias is None:
        np.copyto(out, image_first)
    else:
        np.add(image_first, bias.reshape(o, 1), out=out)
    return out.reshape(n, o, *window.out_size)


def grouped(w: np.ndarray, groups: int) -> np.ndarray:
    """A weight (O, C/G, kh, kw) as the matrices (G, O/G, C/G·kh·kw)."""
    return w.reshape(groups, w.shape[0] // groups, math.prod(w.shape[1:]))


class Conv2dOp(Op):
    """z = conv2d(x, w) + b (see the module docstring for the formula).
    dz/dx · g = conv2d_input_grad(g, w),  dz/dw · g = conv2d_weight_grad(x, g),
    dz/db · g = Σ_{n,p,q} g"""

    __slots__ = ("window", "groups")

    def forward(self, x, w, b=None, window=None, groups=1):
        self.window, self.groups = window, groups
        cols = im2col(x, window, groups)
        self.saved = (cols,)  # reused by the weight gradient: no second im2col
        return from_rows(grouped(w, groups) @ cols, x.shape[0], window, b)

    def backward(self, g):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        attrs = {"window": self.window, "groups": self.groups}
        gx = Conv2dInputGrad.apply(g, w, n_channels=x.shape[1], **attrs) if need[0] else None
        gw = Conv2dWeightGrad.apply(x, g, cols=self.saved[0], kernel_shape=w.shape,
                                    **attrs) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (g.sum((0, 2, 3)) if need[2] else None)

    def name(self) -> str:
        return "ConvolutionBackward0"


class Conv2dInputGrad(Op):
    """z = conv2d_input_grad(g, w): the gradient of conv2d with respect to its
    input (a transposed convolution), col2im(Wᵀ @ g).   Linear in g and w:
    dz/dg · gz = conv2d(gz, w),  dz/dw · gz = conv2d_weight_grad(gz, g)"""

    __slots__ = ("window", "groups")

    def forward(self, g, w, window=None, groups=1, n_channels=0):
        self.window, self.groups = window, groups
        n = g.shape[0]
        rows = to_rows(g, batch_blocks(n, n_channels, window, groups), groups)
        cols = grouped(w, groups).swapaxes(-1, -2) @ rows  # (B, G, C/G·kh·kw, N/B·Ho·Wo)
        return col2im(cols, window, n, n_channels)

    def backward(self, gz):
        g, w = self.inputs
        need = self.needs_input_grad
        attrs = {"window": self.window, "groups": self.groups}
        gg = Conv2dOp.apply(gz, w, **attrs) if need[0] else None
        gw = Conv2dWeightGrad.apply(gz, g, kernel_shape=w.shape, **attrs) if need[1] else None
        return gg, gw


class Conv2dWeightGrad(Op):
    """z = conv2d_weight_grad(x, g): the gradient of conv2d with respect to its
    weight, g @ im2col(x)ᵀ.   Linear in x and g:
    dz/dx · gz = conv2d_input_grad(g, gz),  dz/dg · gz = conv2d(x, gz)"""

    __slots__ = ("window", "groups")

    def forward(self, x, g, window=None, groups=1, kernel_shape=(), cols=None):
        self.window, self.groups = window, groups
        if cols is None:
            cols = im2col(x, window, groups)
        rows = to_rows(g, cols.shape[0], groups)
        grad = (rows @ cols.swapaxes(-1, -2)).sum(axis=0)  # (G, O/G, C/G·kh·kw)
        return grad.reshape(kernel_shape)

    def backward(self, gz):
        x, g = self.inputs
        need = self.needs_input_grad
        attrs = {"window": self.window, "groups": self.groups}
        gx = Conv2dInputGrad.apply(g, gz, n_channels=x.shape[1], **attrs) if need[0] else None
        gg = Conv2dOp.apply(x, gz, **attrs) if need[1] else None
        return gx, gg
