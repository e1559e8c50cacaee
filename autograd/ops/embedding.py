"""Embedding lookup: rows of a weight matrix picked by integer indices.

    z[..., :] = W[idx[...], :]

Its gradient adds each output row's gradient back into the row it came from,
summing where an index repeats (a scatter-add, done with one ``np.bincount``
over flat positions). The scatter's own gradient is the lookup again, so
double backward works.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Op


class EmbeddingOp(Op):
    """z = W[idx].   dz/dW · g = Σ over the positions holding row r of g (row r of
    the result), zero for ``padding_idx``"""

    __slots__ = ("indices", "padding_idx")

    def forward(self, weight, indices=None, padding_idx=None):
        self.indices, self.padding_idx = indices, padding_idx
        return np.take(weight, indices, axis=0)

    def backward(self, g):
        rows = self.inputs[0].shape[0]
        return (EmbeddingGrad.apply(g, indices=self.indices, rows=rows,
                                    padding_idx=self.padding_idx),)


class EmbeddingGrad(Op):
    """z = zeros(rows, D) with g[...] added at row idx[...] (repeats accumulate; the
    ``padding_idx`` row stays zero).   Linear in g:  dz/dg · gz = gz[idx], zero where
    idx is the padding row"""

    __slots__ = ("indices", "padding_idx")

    def forward(self, g, indices=None, rows=0, padding_idx=None):
        self.indices, self.padding_idx = indices, padding_idx
        dim = g.shape[-1]
        # flat position idx·D + column for every gradient element; bincount sums
        # the repeats (in float64) far faster than np.add.at
        flat = (indices.reshape(-1, 1) * dim + backend.arange(dim, like=indices)).ravel()
        out = np.bincount(flat, weights=g.reshape(-1), minlength=rows * dim)
        out = out.reshape(rows, dim).astype(g.dtype, copy=False)
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    def backward(self, gz):
        picked = gz[self.indices]
        if self.padding_idx is None:
            return (picked,)
        keep = (self.indices != self.padding_idx)[..., None].astype(gz.dtype)
        return (picked * keep,)
