"""``repr`` of a Tensor in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend


def _format_array(data: np.ndarray) -> str:
    if data.dtype.kind == "f" and data.size:
        finite = data[np.isfinite(data)]
        integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
        big = finite.size and (np.abs(finite).max() >= 1e8 or (
            np.abs(finite[finite != 0]).min(initial=1) < 1e-4))
        if integral and not big:
            def fmt(v):
                return f"{v:.0f}." if np.isfinite(v) else str(v)
        elif big:
            def fmt(v):
                return f"{v:.4e}"
        else:
            def fmt(v):
                return f"{v:.4f}"
        # as PyTorch, pad every element to the widest; that is the min, the max or
        # a non-finite value, so the whole array need not be formatted twice
        extremes = [finite.min(), finite.max()] if finite.size else []
        extremes += np.unique(data[~np.isfinite(data)]).tolist()
        width = max(len(fmt(v)) for v in extremes)
        formatter = {"float_kind": lambda v: fmt(v).rjust(width)}
        return np.array2string(data, separator=", ", prefix="tensor(", formatter=formatter,
                               threshold=1000, edgeitems=3)
    return np.array2string(data, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)


def tensor_repr(t: Any) -> str:
    parts = [_format_array(backend.to_host(t.data))]
    device = t.device
    if device.type != "cpu":
        parts.append(f"device='{device}'")
    if t.data.dtype not in (np.float32, np.int64, np.bool_):
        parts.append(f"dtype={t.data.dtype}")
    if t.grad_fn is not None:
        parts.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        parts.append("requires_grad=True")
    return "tensor(" + ", ".join(parts) + ")"
