"""Geometry shared by the 2-D window ops (convolution and pooling), NCHW.

Output pixel (p, q) of a window op reads the padded input at

    row p·sh + i·dh,   column q·sw + j·dw      for kernel offsets i < kh, j < kw

so for one kernel offset (i, j) the pixels read by *all* outputs form a strided
slice of the padded input. The ops work offset by offset on those slices
(kh·kw numpy calls over whole arrays, never a loop over pixels): gathering
patches is one strided copy per offset, scattering gradients back is one
strided add per offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import backend


def pair(value: Any, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints as ``(h, w)``, as PyTorch's 2-D ops accept."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if (isinstance(value, (tuple, list)) and len(value) in (1, 2)
            and all(isinstance(v, (int, np.integer)) for v in value)):
        return (int(value[0]), int(value[-1]))
    raise RuntimeError(
        f"{op}: expected {name} to be a single integer value or a list of 2 values "
        f"to match the convolution dimensions, but got {name}={value!r}"
    )


class Window2d:
    """Where each output pixel of a 2-D window op reads its input (see module doc).

    ``padding`` is ``(top, bottom, left, right)``; ``in_size`` is the unpadded
    ``(H, W)``. Construction checks the arguments and raises ``RuntimeError``
    naming ``op`` and the sizes when no output pixel fits.
    """

    __slots__ = ("in_size", "kernel", "stride", "padding", "dilation", "out_size")

    def __init__(self, op: str, in_size: tuple, kernel: tuple, stride: tuple,
                 padding: tuple, dilation: tuple = (1, 1)) -> None:
        if min(kernel) <= 0:
            raise RuntimeError(f"{op}: kernel size must be greater than zero, got {kernel}")
        if min(stride) <= 0:
            raise RuntimeError(f"{op}: non-positive stride is not supported, got {stride}")
        if min(padding) < 0:
            raise RuntimeError(f"{op}: negative padding is not supported, got {padding}")
        if min(dilation) <= 0:
            raise RuntimeError(f"{op}: dilation must be greater than zero, got {dilation}")
        self.in_size = tuple(in_size)
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.padding, self.dilation = tuple(padding), tuple(dilation)
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        hp, wp = self.padded_size
        self.out_size = ((hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1)
        if min(self.out_size) <= 0:
            raise RuntimeError(
                f"{op}: calculated padded input size per channel ({hp} x {wp}) is smaller "
                f"than the kernel size ({dh * (kh - 1) + 1} x {dw * (kw - 1) + 1}); "
                f"input size ({in_size[0]} x {in_size[1]}), padding {padding}"
            )

    @property
    def padded_size(self) -> tuple[int, int]:
        top, bottom, left, right = self.padding
        return self.in_size[0] + top + bottom, self.in_size[1] + left + right

    @property
    def offsets(self) -> int:
        """Number of kernel offsets, kh·kw."""
        return self.kernel[0] * self.kernel[1]

    @property
    def overlapping(self) -> bool:
        """True when an input pixel may be read by more than one output pixel
        (a stride shorter than the dilated kernel)."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        return sh < dh * (kh - 1) + 1 or sw < dw * (kw - 1) + 1

    def slices(self) -> Iterator[tuple[slice, slice]]:
        """For each kernel offset (i, j), row-major: the rows and columns of the
        padded input that the output pixels read at that offset."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        ho, wo = self.out_size
        for i in range(kh):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            for j in range(kw):
                yield rows, slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)

    def pad(self, x: Any, fill: float = 0.0) -> Any:
        """``x`` (..., H, W) with the padding added (``x`` itself when there is none)."""
        if not any(self.padding):
            return x
        top, _, left, _ = self.padding
        h, w = self.in_size
        out = backend.full((*x.shape[:-2], *self.padded_size), fill, x.dtype, like=x)
        out[..., top:top + h, left:left + w] = x
        return out

    def crop(self, xp: Any) -> Any:
        """The unpadded region of a padded array (a view)."""
        top, _, left, _ = self.padding
        h, w = self.in_size
        return xp[..., top:top + h, left:left + w]

    def gather(self, xp: Any, out: Any = None) -> Any:
        """Patches of the padded ``xp`` (..., Hp, Wp) as one array (kh·kw, ..., Ho, Wo):
        entry k holds what every output pixel reads at kernel offset k."""
        if out is None:
            out = backend.empty((self.offsets, *xp.shape[:-2], *self.out_size), xp.dtype, like=xp)
        for k, (rows, cols) in enumerate(self.slices()):
            out[k] = xp[..., rows, cols]
        return out

    def scatter(self, values: Any, lead: tuple, dtype: Any) -> Any:
        """The adjoint of :meth:`gather`: a padded array (*lead, Hp, Wp) with
        ``values[k]`` (*lead, Ho, Wo) added where offset k read from."""
        out = backend.zeros((*lead, *self.padded_size), dtype, like=values)
        add_in_place = self.overlapping
        for k, (rows, cols) in enumerate(self.slices()):
            if add_in_place:
                out[..., rows, cols] += values[k]
            else:  # each input pixel is written at most once
                out[..., rows, cols] = values[k]
        return out

    def __repr__(self) -> str:
        return (f"Window2d(in_size={self.in_size}, kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation})")
