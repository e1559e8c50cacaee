"""Tensor: an array that remembers the op that made it.

``data`` is the backing array, ``grad`` the accumulated gradient (a Tensor),
``grad_fn`` the node that made it (None for leaves). Every method that computes
is one line that hands its inputs to an op in ``autograd/ops``.
"""

from __future__ import annotations

import math
import numbers
import operator
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend, engine, function
from .engine import RetainGrad, _mode
from .function import constant
from .ops import elementwise as ew
from .ops import linalg, reduce, shape
from .ops.dims import normalize_dim, normalize_dims
from .printing import tensor_repr
from .random import multinomial as _multinomial

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

MinMax = namedtuple("MinMax", ["values", "indices"])
TopK = namedtuple("topk", ["values", "indices"])


def numeric_dtype(dtype: Any, op: str = "tensor") -> np.dtype:
    """``dtype`` as a numpy dtype a Tensor may hold: bool, integer or floating point.

    Complex numbers, strings, objects and dates are refused with a TypeError (as
    PyTorch refuses all but complex; chaingrad has no complex gradients, so a complex
    tensor would give wrong ones, e.g. for ``abs``)."""
    dt = np.dtype(dtype)
    if dt.kind in "biuf":
        return dt
    what = "complex numbers are not supported" if dt.kind == "c" else (
        "only bool, integer and floating-point dtypes are supported")
    raise TypeError(f"{op}: can't make a tensor of dtype {dt}: {what}")


def default_array(data: Any, dtype: Any = None, device: Any = None) -> Any:
    """``data`` as a new array with PyTorch's dtype rules (docs/semantics.md,
    "dtypes"), on ``device`` (default: where ``data`` is; the CPU for numbers and
    lists)."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = numeric_dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)) or not backend.is_cpu(data):
        numeric_dtype(data.dtype)  # a string array must not be parsed into numbers
        if isinstance(data, np.generic):
            array = backend.asarray(data, dtype)
        else:  # an array keeps its dtype
            array = data.astype(dtype) if dtype is not None else data.copy()
        return array if device is None else backend.to_device(array, device)
    try:
        array = backend.asarray(data, dtype)
    except ValueError as err:  # ragged nesting, or strings given a numeric dtype
        raise ValueError(f"tensor: could not make a tensor from "
                         f"{type(data).__name__} data: {err}") from None
    except TypeError as err:
        raise TypeError(f"tensor: could not make a tensor from "
                        f"{type(data).__name__} data: {err}") from None
    if dtype is None:
        numeric_dtype(array.dtype)
        if array.dtype.kind == "f":
            array = array.astype(float32)
        elif array.dtype.kind in "iu":
            array = array.astype(int64)
    return array if device is None else backend.to_device(array, device)


def _operands(a: Tensor, b: Any) -> tuple:
    """``(a, b)`` as Tensors with PyTorch's promotion: a Python number takes the
    tensor's dtype within its kind, and ints meeting floats become that float."""
    if type(b) is Tensor or isinstance(b, Tensor):  # subclasses too (nn.Parameter)
        da, db = a.data.dtype, b.data.dtype
        if da is db or da == db:  # numpy's dtypes are singletons: `is` is the quick test
            return a, b
        fa, fb = da.kind == "f", db.kind == "f"
        if fa and not fb:
            return a, b.to(da)
        if fb and not fa:
            return a.to(db), b
        if da.kind == db.kind and a.data.ndim != b.data.ndim and 0 in (a.data.ndim, b.data.ndim):
            # as in PyTorch, a 0-d tensor does not widen a dimensioned one of its kind
            return (a, b.to(da)) if a.data.ndim else (a.to(db), b)
        return a, b
    if isinstance(b, (bool, numbers.Number)) and not isinstance(b, np.ndarray):
        kind = a.data.dtype.kind
        if isinstance(b, bool):
            dtype = a.data.dtype
        elif isinstance(b, numbers.Integral):
            dtype = a.data.dtype if kind != "b" else int64
        elif isinstance(b, numbers.Real):
            if kind == "f":
                dtype = a.data.dtype
            else:
                a, dtype = a.to(float32), float32
        else:
            raise TypeError(f"unsupported operand: complex number {b!r}")
        return a, constant(backend.scalar(b, dtype, like=a.data))
    if isinstance(b, (np.generic, list, tuple)) or backend.is_array(b):
        return _operands(a, Tensor(b, device=a.device))
    raise TypeError(f"unsupported operand type for a Tensor op: {type(b).__name__}")


# The hottest ops' entry points, bound once (an attribute lookup less per call).
_add, _sub, _mul, _div = ew.Add.apply, ew.Sub.apply, ew.Mul.apply, ew.Div.apply
_exp, _log, _tanh, _sigmoid = ew.Exp.apply, ew.Log.apply, ew.TanhOp.apply, ew.SigmoidOp.apply


def _fill_value(value: Any, dtype: Any, op: str) -> Any:
    """``value`` (a number or a 0-d tensor) to fill a ``dtype`` array with, refused as
    PyTorch does where it cannot become that dtype: a nan, an infinity or a number out
    of range into an integer dtype (numpy would store garbage or raise its own error)."""
    if isinstance(value, Tensor):
        value = value.item()
    kind = np.dtype(dtype).kind
    if kind in "iu" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        info = np.iinfo(dtype)
        if not (math.isfinite(value) and info.min <= value <= info.max):
            if isinstance(value, numbers.Integral):  # PyTorch's type for a Python int
                raise OverflowError(f"{op}: int {value} too big to convert to "
                                    f"{np.dtype(dtype)}")
            raise RuntimeError(f"{op}: value {value} cannot be converted to type "
                               f"{np.dtype(dtype)} without overflow")
    return value


def _is_bool(value: Any) -> bool:
    """A Python bool, or a tensor or array of bools."""
    if isinstance(value, (bool, np.bool_)):
        return True
    data = value.data if isinstance(value, Tensor) else value
    return getattr(getattr(data, "dtype", None), "kind", None) == "b"


def _floating(t: Tensor) -> Tensor:
    """``t`` itself if it holds floats, else as float32: exp, log... of ints are floats."""
    return t if t.data.dtype.kind == "f" else t.to(float32)


def _int_dims(dims: tuple) -> tuple:
    """Varargs or one sequence, as PyTorch accepts both: ``f(2, 3)`` or ``f((2, 3))``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return tuple(dims[0])
    return tuple(dims)


def _shape_arg(shape: tuple, op: str) -> tuple:
    """A shape a user gave: ints (at most one -1, inferred), checked as PyTorch does."""
    inferred = False
    out = []
    for i, n in enumerate(shape):
        if type(n) is not int:
            if isinstance(n, bool) or not hasattr(n, "__index__"):
                raise TypeError(f"{op}(): argument 'shape' must be a tuple of ints, but found "
                                f"element of type {type(n).__name__} at pos {i}")
            n = operator.index(n)
        if n < 0:
            if n != -1:
                raise RuntimeError(f"{op}: invalid shape dimension {n} at index {i} of shape "
                                   f"{list(shape)}")
            if inferred:
                raise RuntimeError(f"{op}: only one dimension can be inferred (shape "
                                   f"{list(shape)})")
            inferred = True
        out.append(n)
    return tuple(out)


def _dim_arg(dim: Any, axis: Any) -> Any:
    return axis if dim is None else dim


def _index_arrays(index: Any, like: Any) -> Any:
    """An index with Tensors and lists turned into arrays on the device of the
    array ``like`` they index (a CPU index tensor is copied over, as in PyTorch)."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i, like) for i in index)
    if isinstance(index, Tensor):
        if index.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int or bool tensors")
        return backend.asarray(index.data, like=like)
    if isinstance(index, list):
        array = backend.asarray([backend.to_host(_index_arrays(i, like)) for i in index],
                                like=like)
        if array.dtype.kind == "f":
            raise IndexError("lists used as indices must hold ints or bools")
        return array
    if isinstance(index, np.ndarray):
        return backend.asarray(index, like=like)
    return index


def _index_array(index: Any, like: Any) -> Any:
    """An integer index given as a Tensor, array or list, as an array on the
    device of ``like``."""
    array = backend.asarray(index.data if isinstance(index, Tensor) else index, like=like)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"expected an int32 or int64 index, got dtype {array.dtype}")
    return array


def _check_assigned_grad(tensor: Tensor, grad: Any) -> None:
    """PyTorch's checks on ``t.grad = g``: a Tensor of ``t``'s size, dtype and device."""
    if not isinstance(grad, Tensor):
        raise TypeError(
            "assigned grad expected to be a Tensor or None but got grad of type "
            f"{type(grad).__name__}"
        )
    if grad.device != tensor.device:
        raise RuntimeError(
            f"attempting to assign a gradient on device '{grad.device}' to a tensor on "
            f"device '{tensor.device}'. Please ensure that the gradient and the tensor are "
            "on the same device"
        )
    if grad.data.dtype != tensor.data.dtype:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{grad.dtype}' to a tensor with "
            f"dtype '{tensor.dtype}'. Please ensure that the gradient and the tensor have "
            "the same dtype"
        )
    if grad.data.shape != tensor.data.shape:
        raise RuntimeError(
            f"attempting to assign a gradient of size {list(grad.shape)} to a tensor of "
            f"size {list(tensor.shape)}. Please ensure that the gradient and the tensor are "
            "the same size"
        )


class NotATensorError(TypeError):
    """A Tensor was expected and something else came (a numpy array, a list...).

    ``nn.Module.__call__`` prefixes the message with the innermost layer it reached
    (``layer``), so the user learns which layer was handed what."""

    layer: str | None = None


# PyTorch's names for dtypes, as its "not implemented for 'Long'" errors spell them
_TORCH_DTYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                      "int32": "Int", "int64": "Long"}


def expect_tensor(value: Any, op: str, arg: str = "input", kinds: str = "") -> None:
    """Raise a TypeError naming ``op`` and ``arg`` unless ``value`` is a Tensor; with
    ``kinds`` (numpy dtype kinds, "f" floating, "fiu" anything but bool), raise
    PyTorch's NotImplementedError for a Tensor of another kind: a function with no
    integer formula must not answer in integers, truncated."""
    if not isinstance(value, Tensor):
        kind = type(value)
        name = kind.__name__ if kind.__module__ == "builtins" else (
            f"{kind.__module__.split('.')[0]}.{kind.__name__}")
        raise NotATensorError(f"{op}(): argument '{arg}' must be a Tensor, not {name} "
                              "(wrap arrays and lists with autograd.tensor(...))")
    if kinds and value.data.dtype.kind not in kinds:
        dtype = value.data.dtype.name
        raise NotImplementedError(
            f'{op}(): "{op}" not implemented for \'{_TORCH_DTYPE_NAMES.get(dtype, dtype)}\' '
            f"(argument '{arg}' has dtype {dtype}; convert it first, e.g. {arg}.float())")


_NON_LEAF_FLAG = "you can only change requires_grad flags of leaf variables."
_DETACH_HINT = (" If you want to use a computed variable in a subgraph that doesn't require "
                "differentiation use var_no_grad = var.detach().")

# one lock for every leaf's read-add-write of .grad. Uncontended it costs about 0.2 µs
# per leaf per backward (acquire/release calls: half the cost of a `with` block here)
_grad_lock = threading.Lock()
_grad_lock_acquire, _grad_lock_release = _grad_lock.acquire, _grad_lock.release


class _HookHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` may be a number, a
    nested list, a numpy array or a Tensor (copied). Floats default to float32, ints
    to int64; a numpy array keeps its dtype; ``dtype=`` always wins.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "grad_fn", "_hooks",
                 "_post_accumulate_grad_hooks", "__weakref__")  # the last unset until used
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__
    grad_on_node = False  # the engine gathers gradients for Tensors in a dict

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 device: Any = None) -> None:
        self.data = default_array(data, dtype, device)
        self._grad = None
        self.grad_fn = None
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: Any, grad_fn: Any) -> Tensor:
        """A Tensor around ``data`` made by ``grad_fn`` (fast path for ops)."""
        t = _new(Tensor)
        t.data = data
        t._grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._hooks = None
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient: a Tensor of this tensor's shape, dtype and device."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # users' assignments are checked as PyTorch checks them (backward writes
        # ``_grad`` directly: its gradients are already the right kind)
        if value is not None:
            _check_assigned_grad(self, value)
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor record a graph and backward computes its gradient."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(_NON_LEAF_FLAG + ("" if requires_grad else _DETACH_HINT))
        self.requires_grad_(requires_grad)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> backend.Device:
        """Where the numbers live (``autograd.device``)."""
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        if self.data.ndim < 2:
            return self
        return shape_ops.Permute.apply(self, dims=tuple(range(self.data.ndim))[::-1])

    @property
    def mT(self) -> Tensor:
        """The last two dims swapped (batched matrix transpose)."""
        n = self.data.ndim
        if n == 0:  # as in PyTorch, a 0-d tensor is its own transpose
            return self
        if n < 2:
            raise RuntimeError(f"mT: expected a tensor with 2 or more dims, got {n}")
        return shape_ops.Permute.apply(self, dims=(*range(n - 2), n - 1, n - 2))

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.data.shape
        return self.data.shape[normalize_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    # ------------------------------------------------------------------ conversion
    def item(self) -> Any:
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.reshape(()).item()

    def numpy(self) -> np.ndarray:
        """The numbers as a numpy array: the same memory on the CPU, a copy from
        another device."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return backend.to_host(self.data)

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return constant(self.data)

    def clone(self) -> Tensor:
        return ew.Clone.apply(self)

    def to(self, *args: Any, dtype: Any = None, device: Any = None,
           copy: bool = False, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)`` (its
        device and dtype): a differentiable copy (the gradient flows back to this
        tensor's device and dtype), or ``self`` when nothing changes and not ``copy``."""
        for arg in args:
            if isinstance(arg, (str, backend.Device)):
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                dtype = arg
        out = self
        if device is not None:
            target = backend.as_device(device)
            if target != self.device:
                out = ew.ToDevice.apply(out, device=target)
        if dtype is not None:
            dtype = numeric_dtype(dtype, "to")
            if dtype != out.data.dtype:
                out = ew.Cast.apply(out, dtype=dtype)
        if copy and out is self:
            out = ew.Clone.apply(self)
        return out

    def cuda(self, device: Any = None) -> Tensor:
        """A copy on a GPU (``device``: an index or ``"cuda:N"``; default the current one)."""
        if isinstance(device, int):
            device = backend.Device("cuda", device)
        return self.to(device if device is not None else "cuda")

    def cpu(self) -> Tensor:
        """A copy in host memory (``self`` when it is there already)."""
        return self.to("cpu")

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """A host array (copied from another device), as ``np.asarray(t)`` expects."""
        host = backend.to_host(self.data)
        return host if dtype is None else host.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.data.size} values is ambiguous"
            )
        return bool(self.data.reshape(()))

    def __float__(self) -> float:
        return float(self._one_number())

    def __int__(self) -> int:
        return int(self._one_number())

    def _one_number(self) -> Any:
        """The element of a one-element tensor, for Python's ``float()`` and ``int()``."""
        if self.data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(got shape {self.shape})")
        return self.item()

    def __index__(self) -> int:
        if self.data.dtype.kind not in "biu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self) -> str:
        return tensor_repr(self)

    # ------------------------------------------------------------------ autograd
    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless ``self`` holds one element. The graph is
        freed afterwards unless ``retain_graph`` (which defaults to ``create_graph``).
        """
        backward(self, gradient, retain_graph, create_graph)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(_NON_LEAF_FLAG + _DETACH_HINT)
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients "
                f"(got dtype {self.data.dtype})"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf after backward (leaves keep it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            hooks = self._node_hooks()
            if not any(isinstance(h, RetainGrad) for h in hooks):
                hooks.append(RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        if self.grad_fn is None or not self.grad_fn.hooks:
            return False
        return any(isinstance(h, RetainGrad) for h in self._node_hooks())

    def register_hook(self, hook: Callable) -> _HookHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned
        Tensor replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require gradient"
            )
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self._node_hooks()
        # a user hook runs before retain_grad stores the gradient, as in PyTorch
        at = next((i for i, h in enumerate(hooks) if isinstance(h, RetainGrad)), len(hooks))
        hooks.insert(at, hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable) -> _HookHandle:
        """Call ``hook(self)`` each time backward has summed a gradient into this
        leaf's ``.grad`` (after the ``register_hook`` hooks). Returns a handle with
        ``remove()``. ``DistributedDataParallel`` starts its all-reduces from here."""
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require gradient"
            )
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        hooks = getattr(self, "_post_accumulate_grad_hooks", None)
        if hooks is None:
            hooks = self._post_accumulate_grad_hooks = []
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def _node_hooks(self) -> list:
        node = self.grad_fn
        if node.hooks is None:
            node.hooks = {}
        return node.hooks.setdefault(node.output_index(self), [])

    def _accumulate_grad(self, grad: Tensor, create_graph: bool = False) -> None:
        if grad.data.shape != self.data.shape:
            raise RuntimeError(
                f"gradient of shape {tuple(grad.shape)} does not match tensor of "
                f"shape {tuple(self.data.shape)} (did a hook change its shape?)"
            )
        # read-add-write under a lock: backward calls running in several threads
        # on one graph must not lose each other's sums (as PyTorch guarantees)
        _grad_lock_acquire()
        try:
            old = self._grad
            if create_graph:  # the sum is part of the graph: a new, recorded Tensor
                self._grad = grad if old is None else old + grad
            elif old is None:
                if not grad.data.flags.owndata:
                    # a view (e.g. a broadcast) must not stay aliased or read-only
                    grad = constant(grad.data.copy())
                self._grad = grad
            else:
                self._grad = constant(old.data + grad.data)
        finally:
            _grad_lock_release()

    # ------------------------------------------------------------------ in place
    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and _mode.enabled:
            kind = "a leaf Variable that requires grad" if self.is_leaf else (
                "a tensor that requires grad")
            raise RuntimeError(
                f"{op}: {kind} is being used in an in-place operation; use an "
                "out-of-place op, or wrap the update in `with autograd.no_grad():`"
            )

    def _inplace(self, op: str, ufunc: Any, other: Any) -> Tensor:
        self._check_inplace(op)
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as err:
            raise RuntimeError(
                f"{op}: cannot update a tensor of shape {self.shape} and dtype "
                f"{self.dtype} in place with {np.shape(value)} values: {err}"
            ) from None
        engine.mark_modified(self.data)
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        return self._inplace("add_", np.add, self._times_alpha(other, alpha, "add_"))

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        if self.data.dtype.kind == "b" or _is_bool(other):
            raise RuntimeError(ew.BOOL_SUBTRACTION)
        return self._inplace("sub_", np.subtract, self._times_alpha(other, alpha, "sub_"))

    def _times_alpha(self, other: Any, alpha: Any, op: str) -> Any:
        """``other·alpha`` for ``add``/``sub`` and their in-place forms, with PyTorch's
        rules for ``alpha``: no float alpha for integers, a bool one only for bools
        (where any true alpha leaves ``other`` as it is)."""
        if alpha is True or (alpha == 1 and not isinstance(alpha, bool)):
            return other
        a, b = _operands(self, other)
        kind = np.result_type(a.data.dtype, b.data.dtype).kind  # the result's kind
        if isinstance(alpha, (bool, np.bool_)) and kind != "b":
            raise RuntimeError(f"{op}: Boolean alpha only supported for Boolean results "
                               f"(a {self.dtype} tensor and alpha={alpha})")
        if kind in "biu" and not isinstance(alpha, (numbers.Integral, np.bool_)):
            raise RuntimeError(f"{op}: For integral input tensors, argument alpha must not "
                               f"be a floating point number (alpha={alpha})")
        if kind == "b":
            return other if alpha else b & False
        return other * alpha

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", np.true_divide, other)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace("fill_")
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions")
        self.data[...] = _fill_value(value, self.data.dtype, "fill_")
        engine.mark_modified(self.data)
        return self

    def copy_(self, src: Any) -> Tensor:
        self._check_inplace("copy_")
        value = src.data if isinstance(src, Tensor) else src
        try:
            if np.broadcast_shapes(self.data.shape, np.shape(value)) != self.data.shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(f"copy_: the source of shape {tuple(np.shape(value))} does not "
                               f"broadcast to the tensor's shape {self.shape}") from None
        self.data[...] = value
        engine.mark_modified(self.data)
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        # a number is converted first (PyTorch's order): an int tensor refuses nan
        value = value.data if isinstance(value, Tensor) else _fill_value(
            value, self.data.dtype, "__setitem__")
        index = _index_arrays(index, self.data)
        try:
            self.data[index] = value
        except ValueError as err:  # the values do not broadcast to the selection
            raise RuntimeError(f"__setitem__: cannot assign values of shape "
                               f"{tuple(np.shape(value))} to the selection of a tensor of "
                               f"shape {self.shape}: {err}") from None
        engine.mark_modified(self.data)

    # ------------------------------------------------------------------ operators
    # The four arithmetic operators test the common case (a Tensor of the same
    # dtype) before calling _operands: ~0.1 µs of a ~1 µs small op.
    def __add__(self, other: Any) -> Tensor:
        if type(other) is Tensor and other.data.dtype is self.data.dtype:
            return _add(self, other)
        return _add(*_operands(self, other))

    def __radd__(self, other: Any) -> Tensor:
        b, a = _operands(self, other)
        return ew.Add.apply(a, b)

    def __sub__(self, other: Any) -> Tensor:
        if type(other) is Tensor and other.data.dtype is self.data.dtype:
            return _sub(self, other)
        if self.data.dtype.kind == "b" or _is_bool(other):
            raise RuntimeError(ew.BOOL_SUBTRACTION)
        return _sub(*_operands(self, other))

    def __rsub__(self, other: Any) -> Tensor:
        if self.data.dtype.kind == "b" or _is_bool(other):
            raise RuntimeError(ew.BOOL_SUBTRACTION)
        b, a = _operands(self, other)
        return ew.Sub.apply(a, b)

    def __mul__(self, other: Any) -> Tensor:
        if type(other) is Tensor and other.data.dtype is self.data.dtype:
            return _mul(self, other)
        return _mul(*_operands(self, other))

    def __rmul__(self, other: Any) -> Tensor:
        b, a = _operands(self, other)
        return ew.Mul.apply(a, b)

    def __truediv__(self, other: Any) -> Tensor:
        if type(other) is Tensor and other.data.dtype is self.data.dtype and (
                self.data.dtype.kind == "f"):
            return _div(self, other)
        a, b = _operands(self, other)
        if a.data.dtype.kind != "f":  # true division of ints gives floats
            a, b = a.to(float32), b.to(float32)
        return ew.Div.apply(a, b)

    def __rtruediv__(self, other: Any) -> Tensor:
        b, a = _operands(self, other)
        return a.__truediv__(b)

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def __rpow__(self, base: Any) -> Tensor:
        b, a = _operands(self, base)
        return ew.Pow.apply(a, b)

    def __matmul__(self, other: Any) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        b, a = _operands(self, other)
        return _matmul(a, b)

    def __neg__(self) -> Tensor:
        if self.data.dtype.kind == "b":
            raise RuntimeError("neg: negation, the `-` operator, on a bool tensor is not "
                               "supported; to invert a mask use the `~` operator")
        return ew.Neg.apply(self)

    def __pos__(self) -> Tensor:
        if self.data.dtype.kind == "b":
            raise RuntimeError("pos: the `+` operator on a bool tensor is not supported")
        return self

    def _compare(self, ufunc: Any, other: Any) -> Tensor:
        a, b = _operands(self, other)
        try:
            return constant(ufunc(a.data, b.data))
        except ValueError:
            raise ew.broadcast_error(ufunc.__name__, a, b) from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def __invert__(self) -> Tensor:
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"~ (bitwise not) needs a bool or integer tensor, got {self.dtype}")
        return constant(~self.data)

    def _bitwise(self, ufunc: Any, other: Any) -> Tensor:
        """``&``, ``|``, ``^``: bitwise on integers, logical on bools, as in PyTorch."""
        a, b = _operands(self, other)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ew.broadcast_error(ufunc.__name__, a, b) from None
        if a.data.dtype.kind not in "biu" or b.data.dtype.kind not in "biu":
            raise TypeError(f"{ufunc.__name__}: needs bool or integer tensors, got "
                            f"{a.dtype} and {b.dtype}")
        return constant(ufunc(a.data, b.data))

    def __and__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_and, other)

    def __or__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_or, other)

    def __xor__(self, other: Any) -> Tensor:
        return self._bitwise(np.bitwise_xor, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # ------------------------------------------------------------------ elementwise
    def add(self, other: Any, alpha: float = 1) -> Tensor:
        return self + self._times_alpha(other, alpha, "add")

    def sub(self, other: Any, alpha: float = 1) -> Tensor:
        if self.data.dtype.kind == "b" or _is_bool(other):
            raise RuntimeError(ew.BOOL_SUBTRACTION)
        return self - self._times_alpha(other, alpha, "sub")

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        if isinstance(exponent, numbers.Real) and not isinstance(exponent, bool):
            kind = self.data.dtype.kind
            if kind != "f" and float(exponent).is_integer():
                if exponent < 0:
                    raise RuntimeError("pow: Integers to negative integer powers are not "
                                       f"allowed (a {self.dtype} tensor ** {exponent})")
                a = self if kind != "b" else self.to(int64)  # True ** 2 is 1, an int64
            else:
                a = self if kind == "f" else self.to(float32)
            return ew.PowScalar.apply(a, exponent=exponent)
        return ew.Pow.apply(*_operands(self, exponent))

    def exp(self) -> Tensor:
        return _exp(self if self.data.dtype.kind == "f" else _floating(self))

    def log(self) -> Tensor:
        return _log(self if self.data.dtype.kind == "f" else _floating(self))

    def log1p(self) -> Tensor:
        return ew.Log1p.apply(_floating(self))

    def sqrt(self) -> Tensor:
        return ew.Sqrt.apply(_floating(self))

    def abs(self) -> Tensor:
        return ew.Abs.apply(self)

    __abs__ = abs

    def sign(self) -> Tensor:
        return ew.Sign.apply(self)

    def sin(self) -> Tensor:
        return ew.Sin.apply(_floating(self))

    def cos(self) -> Tensor:
        return ew.Cos.apply(_floating(self))

    def tanh(self) -> Tensor:
        return _tanh(self if self.data.dtype.kind == "f" else _floating(self))

    def sigmoid(self) -> Tensor:
        return _sigmoid(self if self.data.dtype.kind == "f" else _floating(self))

    def relu(self) -> Tensor:
        if self.data.dtype.kind == "b":
            raise RuntimeError("relu: Boolean inputs not supported for relu")
        return ew.ReluOp.apply(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        if self.data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
            # an int tensor clamped to a float bound gives floats, as in PyTorch
            return ew.Clamp.apply(self.to(float32), min=min, max=max)
        return ew.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return ew.Maximum.apply(*_operands(self, other))

    def minimum(self, other: Any) -> Tensor:
        return ew.Minimum.apply(*_operands(self, other))

    def where(self, condition: Any, other: Any) -> Tensor:
        """``where(condition, self, other)``."""
        cond = backend.asarray(condition.data if isinstance(condition, Tensor) else condition,
                               like=self.data)
        if cond.dtype != bool:
            raise RuntimeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
        a, b = _operands(self, other)
        try:
            cond = np.broadcast_to(cond, np.broadcast_shapes(cond.shape, a.shape, b.shape))
        except ValueError:
            raise RuntimeError(
                f"where: condition {cond.shape}, input {a.shape} and other {b.shape} "
                "cannot be broadcast together"
            ) from None
        return ew.Where.apply(a, b, condition=cond)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.Sum.apply(self, dim=dim, keepdim=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        if self.data.dtype.kind != "f":
            raise RuntimeError(
                f"mean(): could not infer output dtype. Input dtype must be floating "
                f"point, got {self.dtype}"
            )
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.Mean.apply(self, dim=dim, keepdim=keepdim)

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        return self._spread(reduce.Var, dim, unbiased, keepdim, correction, axis, keepdims)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None, axis: Any = None,
            keepdims: bool | None = None) -> Tensor:
        return self._spread(reduce.Std, dim, unbiased, keepdim, correction, axis, keepdims)

    def _spread(self, op: Any, dim: Any, unbiased: bool, keepdim: bool,
                correction: int | None, axis: Any, keepdims: bool | None) -> Tensor:
        """var or std (``op``) with PyTorch's arguments."""
        if self.data.dtype.kind != "f":
            raise RuntimeError(f"std and var only support floating point dtypes, got "
                               f"{self.dtype}")
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        if correction is None:
            correction = 1 if unbiased else 0
        return op.apply(self, dim=dim, keepdim=keepdim, correction=correction)

    def prod(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.Prod.apply(self, dim=dim, keepdim=keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.Amax.apply(self, dim=dim, keepdim=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> Tensor:
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.Amin.apply(self, dim=dim, keepdim=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        """``max()``: the largest value (ties share the gradient evenly);
        ``max(dim)``: ``(values, indices)``, the gradient going to the returned index;
        ``max(other)``: elementwise ``maximum``."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return self._extremum(self.amax, np.argmax, dim, axis, keepdim or bool(keepdims))

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None) -> Any:
        """As :meth:`max`, for the smallest value."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return self._extremum(self.amin, np.argmin, dim, axis, keepdim or bool(keepdims))

    def _extremum(self, whole: Callable, arg: Any, dim: Any, axis: Any, keepdim: bool) -> Any:
        dim = _dim_arg(dim, axis)
        if dim is None:
            return whole()
        if isinstance(dim, (tuple, list)):
            raise TypeError("max/min take an int dim (use amax/amin for several dims)")
        d = normalize_dim(dim, self.ndim, arg.__name__[3:])
        if self.data.ndim and self.data.shape[d] == 0:
            raise IndexError(f"{arg.__name__[3:]}(): cannot reduce an empty dim {dim} "
                             f"of a tensor of shape {self.shape}")
        index = np.expand_dims(arg(self.data, axis=d), d) if self.ndim else (
            backend.zeros((), int64, like=self.data))
        values = self.gather(d, index) if self.ndim else self
        if not keepdim and self.ndim:
            values = values.squeeze(d)
            index = index.squeeze(d)
        return MinMax(values, constant(index.astype(int64)))

    def argmax(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
               keepdims: bool | None = None) -> Tensor:
        """The index of the largest value (of the flattened tensor when ``dim`` is None)."""
        return self._arg(np.argmax, _dim_arg(dim, axis), keepdim or bool(keepdims))

    def argmin(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
               keepdims: bool | None = None) -> Tensor:
        """The index of the smallest value (of the flattened tensor when ``dim`` is None)."""
        return self._arg(np.argmin, _dim_arg(dim, axis), keepdim or bool(keepdims))

    def _arg(self, fn: Any, dim: Any, keepdim: bool) -> Tensor:
        op = fn.__name__
        if self.data.dtype.kind == "b":
            raise RuntimeError(f"{op}(): does not support bool input")
        if dim is None:
            reduce.check_nonempty(op, self.shape, None, (), IndexError)
            out = backend.as_array(fn(self.data))
            if keepdim:
                out = out.reshape((1,) * self.ndim)
        else:
            d = normalize_dim(dim, self.ndim, op)
            if self.ndim == 0:  # a 0-d tensor has one element, at index 0
                out = backend.zeros((), int64, like=self.data)
            else:
                reduce.check_nonempty(op, self.shape, d, (d,))
                out = fn(self.data, axis=d, keepdims=keepdim)
        return constant(out.astype(int64, copy=False))

    def logsumexp(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
                  keepdims: bool | None = None) -> Tensor:
        dim, keepdim = _dim_arg(dim, axis), keepdim or bool(keepdims)
        return reduce.LogSumExp.apply(_floating(self), dim=dim, keepdim=keepdim)

    def softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return reduce.SoftmaxOp.apply(self, dim=_softmax_dim(self, _dim_arg(dim, axis)))

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return reduce.LogSoftmaxOp.apply(self, dim=_softmax_dim(self, _dim_arg(dim, axis)))

    def sum_to_size(self, *size: Any) -> Tensor:
        """Sum broadcast dims away until the shape is ``size`` (undoes broadcasting)."""
        size = _int_dims(size)
        if not size:  # a 0-d target is a plain sum (an integer dtype for bools)
            return self.sum()
        if tuple(size) == self.data.shape:
            return self
        try:
            if np.broadcast_shapes(size, self.data.shape) != self.data.shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(
                f"sum_to_size: size {tuple(size)} is not expandable to {self.shape}"
            ) from None
        return reduce.SumTo.apply(self, shape=tuple(size))

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same values in ``shape`` (one dim may be -1): a view where the memory
        allows it, else a copy."""
        shape = _shape_arg(_int_dims(shape), "reshape")
        if shape == self.data.shape:
            return self
        return shape_ops.Reshape.apply(self, shape=shape)

    def view(self, *shape: Any) -> Tensor:
        """As :meth:`reshape`, but always a view of the same memory: a shape that
        would need a copy (e.g. flattening a transpose) is an error, as in PyTorch."""
        shape = _shape_arg(_int_dims(shape), "view")
        if shape == self.data.shape:
            return self
        return shape_ops.Reshape.apply(self, shape=shape, view=True)

    def contiguous(self) -> Tensor:
        """``self`` if its memory is laid out row by row, else such a copy."""
        return self if self.data.flags.c_contiguous else ew.Clone.apply(self)

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def _reshape(self, shape: tuple) -> Tensor:
        """``reshape`` for shapes already checked (the shape methods' use)."""
        if shape == self.data.shape:
            return self
        return shape_ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        s = normalize_dim(start_dim, self.ndim, "flatten")
        e = normalize_dim(end_dim, self.ndim, "flatten")
        if self.ndim == 0:
            return self._reshape((1,))
        if s > e:
            raise RuntimeError(f"flatten() has invalid args: start_dim {start_dim} "
                               f"cannot come after end_dim {end_dim}")
        shp = self.shape
        return self._reshape((*shp[:s], int(np.prod(shp[s:e + 1])), *shp[e + 1:]))

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        if not len(sizes):
            raise RuntimeError("unflatten: sizes must be non-empty")
        d = normalize_dim(dim, self.ndim, "unflatten")
        if self.ndim == 0:
            raise RuntimeError(f"unflatten: Dimension specified as {dim} but tensor has no "
                               "dimensions")
        sizes = tuple(sizes)
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise RuntimeError(f"unflatten: invalid sizes {list(sizes)}: only one dimension "
                               f"can be inferred (-1), and no other size can be negative")
        n, known = self.shape[d], math.prod(s for s in sizes if s != -1)
        if not (known and n % known == 0) if -1 in sizes else known != n:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {dim} ({n}) in the input tensor")
        # -1 inferred from this dim alone (reshape could not: an empty tensor's is ambiguous)
        sizes = tuple(n // known if s == -1 else s for s in sizes)
        return self.reshape(self.shape[:d] + sizes + self.shape[d + 1:])

    def permute(self, *dims: Any) -> Tensor:
        dims = _int_dims(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute: got {len(dims)} dims {dims} for a tensor of "
                               f"shape {self.shape} ({self.ndim} dims)")
        dims = tuple(normalize_dim(d, self.ndim, "permute") for d in dims)
        if dims == tuple(range(self.ndim)):
            return self
        return shape_ops.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        order = list(range(self.ndim))
        d0 = normalize_dim(dim0, self.ndim, "transpose")
        d1 = normalize_dim(dim1, self.ndim, "transpose")
        if self.ndim == 0:  # dims 0 and -1 of a 0-d tensor are the tensor itself
            return self
        order[d0], order[d1] = order[d1], order[d0]
        return self.permute(*order)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return self.transpose(axis0, axis1)

    def unsqueeze(self, dim: int) -> Tensor:
        d = normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return self._reshape((*self.shape[:d], 1, *self.shape[d:]))

    def squeeze(self, dim: Any = None) -> Tensor:
        axes = normalize_dims(dim, self.ndim, "squeeze")
        return self._reshape(tuple(n for i, n in enumerate(self.shape)
                                  if not (i in axes and n == 1)))

    def expand(self, *sizes: Any) -> Tensor:
        sizes = _int_dims(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(sizes)}) must be greater or "
                f"equal to the number of dimensions in the tensor ({self.ndim})"
            )
        shp = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                    for i, n in enumerate(sizes))
        if shp == self.data.shape:
            return self
        return shape_ops.BroadcastTo.apply(self, shape=shp)

    def broadcast_to(self, *shape: Any) -> Tensor:
        """As :meth:`expand` (-1 keeps a size), as in PyTorch."""
        shape = _int_dims(shape)
        if shape == self.data.shape:
            return self
        if -1 in shape:
            return self.expand(shape)
        return shape_ops.BroadcastTo.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def __getitem__(self, index: Any) -> Tensor:
        index = _index_arrays(index, self.data)
        steps = shape_ops.ints_first(index)
        if steps is not None:
            return self[steps[0]][steps[1]]
        return shape_ops.GetItem.apply(self, index=index)

    def gather(self, dim: int, index: Any) -> Tensor:
        index = backend.asarray(index.data if isinstance(index, Tensor) else index,
                                like=self.data)
        return shape_ops.Gather.apply(self, dim=dim, index=index)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The slices of ``self`` along ``dim`` at the positions in ``index`` (1-D ints)."""
        return shape_ops.IndexSelect.apply(self, dim=dim, index=_index_array(index, self.data))

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """A copy of ``self`` with ``src`` added along ``dim`` at ``index`` (for dim 0,
        ``out[index[i][j]][j] += src[i][j]``); repeated indices accumulate."""
        src = src if isinstance(src, Tensor) else as_tensor(src)  # no promotion: torch's
        index = _index_array(index, self.data)
        if min(self.ndim, index.ndim, src.ndim) == 0:  # as in PyTorch, 0-d counts as 1-d
            flat = self._reshape((1,)) if self.ndim == 0 else self
            out = flat.scatter_add(dim, index.reshape(-1) if index.ndim == 0 else index,
                                   src._reshape((1,)) if src.ndim == 0 else src)
            return out._reshape(self.shape)
        return shape_ops.ScatterAdd.apply(self, src, dim=dim, index=index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where the bool ``mask`` holds, else ``self`` (mask broadcasts)."""
        mask = backend.asarray(mask.data if isinstance(mask, Tensor) else mask, like=self.data)
        if mask.dtype != bool:
            raise RuntimeError(f"masked_fill only supports boolean masks, but got mask "
                               f"with dtype {mask.dtype}")
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"masked_fill only supports a 0-dimensional value "
                                   f"tensor, but got tensor with {value.ndim} dimension(s).")
            if value.requires_grad:  # the gradient reaches value too: a where
                return _operands(self, value)[1].where(mask, self)
            value = value.item()
        return ew.MaskedFill.apply(self, mask=mask, value=value)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dims (on and below the ``diagonal``-th
        diagonal); the rest is 0."""
        return ew.Tril.apply(self, diagonal=diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dims (on and above the ``diagonal``-th
        diagonal); the rest is 0."""
        return ew.Triu.apply(self, diagonal=diagonal)

    def cumsum(self, dim: int | None = None, *, dtype: Any = None,
               axis: int | None = None) -> Tensor:
        """Running sums along ``dim``; integer and bool tensors sum as int64."""
        dim = _dim_arg(dim, axis)
        if dim is None:
            raise TypeError("cumsum() missing required argument 'dim'")
        d = normalize_dim(dim, self.ndim, "cumsum")
        x = self
        if dtype is not None:
            x = x.to(dtype)
        elif x.data.dtype.kind in "biu":
            x = x.to(int64)
        return reduce.Cumsum.apply(x, dim=d)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """The ``k`` largest (or smallest) values along ``dim`` and their indices, as
        ``(values, indices)``, largest first. The values are picked with ``gather``,
        so their gradient goes to the elements picked. Ties keep the lower index
        first; ``sorted=False`` returns them sorted too (PyTorch leaves that order
        unspecified)."""
        d = normalize_dim(dim, self.ndim, "topk")
        n = self.shape[d] if self.ndim else 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
            raise RuntimeError(f"topk: selected index k out of range (k={k} for a dim of "
                               f"size {n}, shape {self.shape})")
        if self.ndim == 0:  # as a 1-element vector, then back to 0-d
            values, index = self.reshape(1).topk(k, 0, largest, sorted)
            return TopK(values.reshape(()), index.reshape(())) if k else TopK(values, index)
        keys = self.data
        if keys.dtype.kind in "bu":
            keys = keys.astype(np.int64)
        if largest:
            keys = -keys
        order = np.argsort(keys, axis=d, kind="stable")  # a nan sorts last
        if largest and keys.dtype.kind == "f":  # ... and is the largest, as in PyTorch
            nan_first = np.argsort(~np.isnan(np.take_along_axis(keys, order, d)), axis=d,
                                   kind="stable")
            order = np.take_along_axis(order, nan_first, d)
        index = order[(slice(None),) * d + (slice(0, k),)]
        return TopK(self.gather(d, index), constant(index.astype(int64)))

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Tensor:
        """Indices drawn from each row of non-negative weights (see
        :func:`autograd.random.multinomial`); ``autograd.manual_seed`` fixes them."""
        # drawn on the host (one generator for every device), then copied back
        draws = _multinomial(backend.to_host(self.data), num_samples, replacement, generator)
        return constant(backend.asarray(draws, like=self.data))

    def _sum_to(self, shape: tuple) -> Tensor:
        """``sum_to_size`` for shapes already known to broadcast (backward's use)."""
        return reduce.SumTo.apply(self, shape=shape)

    def _index_add_into(self, shape: tuple, index: Any) -> Tensor:
        return shape_ops.IndexAdd.apply(self, shape=shape, index=index)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or
        pieces of the listed sizes."""
        if self.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        if not isinstance(split_size_or_sections, (list, tuple)) and split_size_or_sections < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={split_size_or_sections}")
        d = normalize_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, (list, tuple)):
            sizes = [int(size) for size in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} "
                    f"(input tensor's size at dimension {dim}), but got split_sizes={sizes}"
                )
        else:
            step = int(split_size_or_sections)
            if step < 0 or (step == 0 and n):
                raise RuntimeError(f"split expects split_size be positive (or 0 for an "
                                   f"empty dim), but got split_size={step} for a dim of "
                                   f"size {n}")
            sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
        return shape_ops.Split.apply(self, dim=d, sizes=tuple(sizes))

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along ``dim``, that dim removed: ``x.unbind(0)[i]`` is ``x[i]``."""
        if self.ndim == 0:
            raise IndexError("unbind: a 0-d tensor has no dim to unbind")
        return shape_ops.Unbind.apply(self, dim=normalize_dim(dim, self.ndim, "unbind"))

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """At most ``chunks`` pieces of ceil(n / chunks) along ``dim``."""
        if self.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[normalize_dim(dim, self.ndim, "chunk")]
        if n == 0:  # an empty dim gives `chunks` empty pieces, as in PyTorch
            return self.split(0, dim) * chunks
        return self.split(-(-n // chunks), dim)

    def pad(self, pad: Sequence[int], value: float = 0.0) -> Tensor:
        return shape_ops.Pad.apply(self, pad=tuple(pad), value=value)

    # ------------------------------------------------------------------ linear algebra
    def matmul(self, other: Any) -> Tensor:
        return _matmul(self, other)

    def dot(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or getattr(other, "ndim", 0) != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self.ndim}D and "
                f"{getattr(other, 'ndim', 0)}D tensors"
            )
        if self.shape != other.shape:
            raise RuntimeError(
                f"dot: inconsistent tensor size, expected tensor [{self.shape[0]}] and src "
                f"[{other.shape[0]}] to have the same number of elements"
            )
        return self.matmul(other)


def _matmul(a: Tensor, b: Any) -> Tensor:
    """``a @ b``. Two dtypes are promoted as for ``*`` (PyTorch refuses them; the
    result is the product in the wider dtype, never a different number); bool
    matrices are refused, as PyTorch has no bool product either."""
    a, b = _operands(a, b)
    if "b" in (a.data.dtype.kind, b.data.dtype.kind) and a.data.ndim and b.data.ndim:
        raise RuntimeError(f"matmul: not implemented for bool tensors (got {a.dtype} and "
                           f"{b.dtype})")
    return linalg.MatMul.apply(a, b)


def _softmax_dim(x: Tensor, dim: Any) -> int:
    if dim is None:
        raise TypeError("softmax/log_softmax need an explicit dim, as in PyTorch")
    return dim


shape_ops = shape
_new = object.__new__
function.bind_tensor_class(Tensor)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` itself if it is already a Tensor of that dtype on that device; a
    Tensor of another dtype or device becomes ``data.to(device, dtype)`` (a
    differentiable copy, as in PyTorch); other data a new Tensor on ``device``."""
    if isinstance(data, Tensor):
        if (dtype is None or data.dtype == np.dtype(dtype)) and (
                device is None or data.device == backend.as_device(device)):
            return data
        return data.to(data.device if device is None else device,
                       data.dtype if dtype is None else dtype)
    return Tensor(data, dtype=dtype, device=device)


# ------------------------------------------------------------------ backward entry point


def as_tuple(x: Any) -> tuple:
    """One Tensor or a sequence of them, as a tuple."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def seed_gradients(outputs: tuple, grad_outputs: Any, op: str) -> list:
    """The gradients backward starts from, one per output: ``grad_outputs``
    checked against the outputs' shapes, or ones for single-element outputs."""
    grad_outputs = as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(
        outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"{op}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of tensors does not require grad and does not have "
                "a grad_fn"
            )
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs "
                    f"(output {i} has shape {tuple(out.shape)}); pass `gradient=`"
                )
            seeds.append(constant(backend.ones(out.shape, out.dtype, like=out.data)))
            continue
        g = g if isinstance(g, Tensor) else Tensor(g, dtype=out.dtype)
        if g.shape != out.shape:
            raise RuntimeError(
                f"{op}: Mismatch in shape: grad_output[{i}] has a shape of "
                f"{tuple(g.shape)} and output[{i}] has a shape of {tuple(out.shape)}"
            )
        seeds.append(g.to(out.dtype))
    return seeds


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad``
    (``autograd.backward``; ``Tensor.backward`` is this for one tensor)."""
    roots = as_tuple(tensors)
    seeds = seed_gradients(roots, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    engine.run_backward(list(roots), seeds, retain_graph, create_graph)
