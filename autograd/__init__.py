"""chaingrad's autograd: Tensor, Scalar and the graph engine (plays ``torch``).

    >>> import autograd
    >>> x = autograd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

from . import cuda, data, distributed, functional, viz
from .backend import Device as device
from .engine import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .factories import (
    arange,
    empty,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .function import Function, FunctionCtx
from .functional import backward, grad
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .scalar import Scalar
from .tensor import Tensor, as_tensor, bool_, float32, float64, int64
from .tensor_functions import *  # noqa: F403  (cat, stack, where, exp, ...)
from .tensor_functions import __all__ as _function_forms
from .tracer import CompileWarning, compile

bool = bool_
float = float32
double = float64
long = int64

__all__ = [
    "Tensor", "Scalar", "compile", "CompileWarning", "device", "cuda", "Function",
    "FunctionCtx", "grad", "backward", "functional", "data", "distributed", "viz",
    "gradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "manual_seed", "tensor", "as_tensor", "zeros", "ones", "full",
    "empty", "zeros_like", "ones_like", "full_like", "randn", "rand", "randint",
    "randperm", "arange", "linspace", "eye", "float32", "float64", "int64", "bool",
    "float", "double", "long", *_function_forms,
]
