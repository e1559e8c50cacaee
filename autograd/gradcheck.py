"""``gradcheck``: compare analytic gradients with central finite differences.

    df/dx_i ≈ (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps)

in float64, for every output element and every input element that requires grad.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend
from .function import constant
from .functional import grad
from .tensor import Tensor, as_tuple


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients differ."""


def _outputs(fn: Callable, inputs: tuple) -> tuple:
    return tuple(o for o in as_tuple(fn(*inputs)) if isinstance(o, Tensor))


def _host64(t: Tensor) -> np.ndarray:
    """An output's values, flat, as float64 on the host (compared there)."""
    return backend.to_host(t.data).astype(np.float64).ravel()


def _numerical(fn: Callable, inputs: tuple, i: int, eps: float) -> list:
    """One Jacobian block per output, shape (output numel, input i numel)."""
    x = inputs[i].data
    flat = x.reshape(-1)
    columns = []
    # grad mode stays on: ``fn`` may itself call ``grad`` (gradcheck of a gradient)
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        plus = [_host64(o) for o in _outputs(fn, inputs)]
        flat[k] = orig - eps
        minus = [_host64(o) for o in _outputs(fn, inputs)]
        flat[k] = orig
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    n_out = len(_outputs(fn, inputs))
    return [np.stack([c[j] for c in columns], axis=1) if columns else None
            for j in range(n_out)]


def _analytic(fn: Callable, inputs: tuple, i: int) -> list:
    outs = _outputs(fn, inputs)
    blocks = []
    for out in outs:
        block = np.zeros((out.numel(), inputs[i].numel()))
        if out.requires_grad:
            for r in range(out.numel()):
                seed = backend.zeros(out.numel(), out.dtype, like=out.data)
                seed[r] = 1
                (g,) = grad(out, inputs[i], seed.reshape(out.shape), retain_graph=True,
                            allow_unused=True)
                if g is not None:
                    block[r] = backend.to_host(g.data).ravel()
        blocks.append(block)
    return blocks


def gradcheck(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True if ``fn``'s analytic gradients match finite differences at ``inputs``.

    Inputs that require grad are checked; they are used in float64 (float32 ones
    are converted, as finite differences need the precision). On a mismatch it
    raises :class:`GradcheckError` naming the worst element (or returns False
    when ``raise_exception=False``).
    """
    inputs = tuple(
        constant(t.data.astype(np.float64)).requires_grad_()
        if isinstance(t, Tensor) and t.requires_grad else t
        for t in as_tuple(inputs)
    )
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    for i in checked:
        numerical = _numerical(fn, inputs, i, eps)
        analytic = _analytic(fn, inputs, i)
        for j, (num, ana) in enumerate(zip(numerical, analytic)):
            if num is None:
                continue
            error = np.abs(num - ana) - (atol + rtol * np.abs(num))
            if np.any(error > 0) or not np.all(np.isfinite(ana) == np.isfinite(num)):
                r, c = np.unravel_index(np.argmax(np.nan_to_num(error, nan=np.inf)), error.shape)
                out_shape = _outputs(fn, inputs)[j].shape
                out_idx = np.unravel_index(r, out_shape) if out_shape else ()
                in_idx = np.unravel_index(c, inputs[i].shape) if inputs[i].shape else ()
                message = (
                    f"gradcheck: Jacobian mismatch for output {j} with respect to input {i}: "
                    f"worst at output index {tuple(map(int, out_idx))}, input index "
                    f"{tuple(map(int, in_idx))}: numerical {num[r, c]:.6g} vs analytic "
                    f"{ana[r, c]:.6g} (atol={atol}, rtol={rtol})"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True
