"""Loss functions: ``F.mse_loss``, ``F.cross_entropy``... (as ``torch.nn.functional``).

Each takes ``reduction="mean"|"sum"|"none"`` and runs as one fused op from
``autograd/ops/loss.py``. Regression losses refuse a target whose shape differs
from the input's (PyTorch only warns and broadcasts: a classic silent bug).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import backend
from autograd.ops import loss as loss_ops
from autograd.tensor import Tensor, expect_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _as_target(target: Any, input: Tensor) -> Tensor:
    """``target`` as a Tensor of the input's float dtype (differentiably)."""
    if not isinstance(target, Tensor):
        target = Tensor(target)
    return target.to(input.dtype)


def _promoted(input: Tensor, target: Tensor) -> tuple:
    """``input`` and ``target`` in their common dtype, as PyTorch's regression losses
    compute: a float beats an integer (int64 with float32 is float32), the wider float
    wins. Never the input's dtype alone: an int input would truncate a float target."""
    dtypes = (input.dtype, target.dtype)
    floats = [d for d in dtypes if d.kind == "f"]
    dtype = max(floats, key=lambda d: d.itemsize) if floats else np.result_type(*dtypes)
    return input.to(dtype), target.to(dtype)


def _array(value: Any, like: Any) -> Any:
    """A weight argument (Tensor, array or None) as an array of ``like``'s dtype,
    on its device."""
    if value is None:
        return None
    data = value.data if isinstance(value, Tensor) else value
    return backend.asarray(data, like=like).astype(like.dtype, copy=False)


def _regression(op: Any, name: str, input: Tensor, target: Any, reduction: str,
                **attrs: Any) -> Tensor:
    expect_tensor(input, name)
    _check_reduction(reduction)
    input, target = _promoted(input, target if isinstance(target, Tensor) else Tensor(target))
    expect_tensor(input, name, kinds="fiu")  # bool - bool has no meaning
    if target.shape != input.shape:
        raise ValueError(
            f"{name}: target shape {tuple(target.shape)} differs from input shape "
            f"{tuple(input.shape)}; they must match (reshape one, e.g. target.view(-1, 1) "
            "or input.squeeze(-1), rather than relying on broadcasting)"
        )
    return op.apply(input, target, reduction=reduction, **attrs)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of (x - y)²."""
    return _regression(loss_ops.MSELossOp, "mse_loss", input, target, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of ``|x - y|``."""
    return _regression(loss_ops.L1LossOp, "l1_loss", input, target, reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """``½d²`` where ``|d| < delta``, else ``delta·(|d| - ½delta)``, for ``d = x - y``."""
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, "
                           f"got {delta}")
    return _regression(loss_ops.HuberLossOp, "huber_loss", input, target, reduction, delta=delta)


# --------------------------------------------------------------------------- class losses


def _class_dim(op: str, input: Tensor) -> int:
    if input.ndim == 0:
        raise RuntimeError(f"{op}: input must have a class dim, got a 0-d tensor")
    return 1 if input.ndim >= 2 else 0


def _check_class_target(op: str, input: Tensor, t: np.ndarray, dim: int) -> None:
    expected = input.shape[:dim] + input.shape[dim + 1:]
    if t.shape == expected:
        return
    if input.ndim == 2 and t.ndim == 1:
        raise ValueError(f"{op}: Expected input batch_size ({input.shape[0]}) to match "
                         f"target batch_size ({t.shape[0]}).")
    raise RuntimeError(
        f"{op}: target of shape {t.shape} does not fit input of shape {tuple(input.shape)}: "
        f"class-index targets need shape {expected} (integers in [0, {input.shape[dim]})), "
        f"class-probability targets the input's shape"
    )


def _class_distribution(op: str, input: Tensor, target: Any, weight: Any, ignore_index: int,
                        label_smoothing: float, reduction: str) -> tuple[np.ndarray, int, bool]:
    """The target as a distribution q over the class dim, per sample; the class
    dim; and whether the mean has nothing to average (every target ignored).

    For class indices t: q = (1-ε)·w_t·onehot(t) + (ε/C)·w, zero for ignored
    samples; for probabilities p: q = ((1-ε)·p + ε/C)·w. Under "mean" q is
    divided by PyTorch's denominator (Σ w_t over counted samples for indices,
    the number of samples for probabilities), so the loss is -Σ q·log p summed.
    """
    expect_tensor(input, op, kinds="f")
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
    dim = _class_dim(op, input)
    x = input.data
    n_classes = x.shape[dim]
    along_dim = [1] * x.ndim
    along_dim[dim] = n_classes
    w = _array(weight, x)
    if w is not None and w.shape != (n_classes,):
        raise RuntimeError(
            f"{op}: weight tensor should be defined either for all {n_classes} classes or "
            f"no classes but got weight tensor of shape: {list(w.shape)}"
        )
    w_along = None if w is None else w.reshape(along_dim)
    t = backend.asarray(target.data if isinstance(target, Tensor) else target, like=x)
    eps = label_smoothing
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != x.shape:
            raise RuntimeError(
                f"{op}: probability targets must have the input's shape "
                f"{tuple(x.shape)}, got {t.shape} (class-index targets must be integers)"
            )
        q = t.astype(x.dtype)
        if eps:
            q = q * (1 - eps) + eps / n_classes
        if w_along is not None:
            q = q * w_along
        denom = x.size // n_classes
    else:
        if t.dtype.kind not in "iu":
            raise RuntimeError(f"{op}: expected integer class indices, got dtype {t.dtype}")
        _check_class_target(op, input, t, dim)
        # On a GPU nothing here may look at the values from the host (each look waits
        # for the device): the general path runs, and an out-of-range class index
        # turns the loss into NaN there instead of raising (PyTorch stops with a
        # device-side assert).
        on_host = backend.is_cpu(t)
        counted = t != ignore_index
        everything_counted = on_host and counted.all()
        safe = t if everything_counted else np.where(counted, t, 0)
        outside = (safe < 0) | (safe >= n_classes)
        if on_host and safe.size and outside.any():
            raise IndexError(f"{op}: Target {int(safe[outside][0])} is out of bounds "
                             f"(the input has {n_classes} classes)")
        if not on_host:
            safe = np.where(outside, 0, safe)
        # the weight of each sample's target class (0 for ignored samples)
        if w is not None:
            picked = w[safe] * counted
        elif everything_counted:
            picked = x.dtype.type(1)  # the same for every sample
        else:
            picked = counted.astype(x.dtype)
        q = backend.zeros_like(x)
        on_target = picked * (1 - eps) if eps else picked
        if x.ndim == 2:
            q[backend.arange(len(safe), like=x), safe] = on_target
        else:
            values = np.expand_dims(on_target, dim) if np.ndim(on_target) else on_target
            np.put_along_axis(q, np.expand_dims(safe, dim), values, axis=dim)
        if eps:
            spread = eps / n_classes if w_along is None else w_along * (eps / n_classes)
            q += np.expand_dims(counted, dim) * spread
        if not on_host:
            q *= np.where(outside.any(), np.nan, 1.0).astype(x.dtype)
        denom = t.size if w is None and everything_counted else picked.sum()
    if not on_host_array(denom):  # a device scalar: decided on the device, no waiting
        empty = (denom == 0) if reduction == "mean" else False
        if reduction == "mean":
            q /= np.where(empty, 1, denom).astype(x.dtype)
        return q, dim, empty
    empty = reduction == "mean" and not denom
    if reduction == "mean" and not empty:
        q /= x.dtype.type(denom)
    return q, dim, empty


def on_host_array(value: Any) -> bool:
    """True for Python and numpy numbers and arrays (their values are free to read)."""
    return isinstance(value, (int, float, np.generic)) or backend.is_cpu(value)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """-log softmax(x)[target] from logits, fused and max-shifted (stable for any
    logit size). ``target``: class indices (N,) / (N, d1, ...) or probabilities
    of the input's shape. Class dim 1 (0 for an unbatched (C,) input)."""
    q, dim, empty = _class_distribution("cross_entropy", input, target, weight, ignore_index,
                                        label_smoothing, reduction)
    return loss_ops.CrossEntropy.apply(input, q=q, dim=dim, reduction=reduction, empty=empty)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-input[target] for log-probabilities ``input`` (e.g. from ``log_softmax``)."""
    t = backend.asarray(target.data if isinstance(target, Tensor) else target,
                        like=input.data)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"nll_loss: expected integer class indices, got dtype {t.dtype}")
    q, dim, empty = _class_distribution("nll_loss", input, t, weight, ignore_index, 0.0,
                                        reduction)
    return loss_ops.NLL.apply(input, q=q, dim=dim, reduction=reduction, empty=empty)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-(y log x + (1 - y) log(1 - x)) for probabilities x (logs clamped at -100)."""
    expect_tensor(input, "binary_cross_entropy", kinds="f")
    _check_reduction(reduction)
    target = _as_target(target, input)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy: Using a target size ({tuple(target.shape)}) that is "
            f"different to the input size ({tuple(input.shape)}) is deprecated. Please "
            "ensure they have the same size."
        )
    return loss_ops.BinaryCrossEntropy.apply(input, target, weight=_array(weight, input.data),
                                             reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """BCE of σ(x) computed from the logits x in the stable softplus form."""
    expect_tensor(input, "binary_cross_entropy_with_logits", kinds="f")
    _check_reduction(reduction)
    target = _as_target(target, input)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: Target size ({tuple(target.shape)}) must be "
            f"the same as input size ({tuple(input.shape)})"
        )
    return loss_ops.BinaryCrossEntropyWithLogits.apply(
        input, target, weight=_array(weight, input.data),
        pos_weight=_array(pos_weight, input.data), reduction=reduction)
