"""``Parameter``: a Tensor that a Module learns (``torch.nn.Parameter``)."""

from __future__ import annotations

from typing import Any

from autograd.tensor import Tensor, default_array


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` that registers itself on a Module.

    ``Parameter(data)`` shares ``data``'s array when ``data`` is a Tensor (as
    PyTorch does) and copies anything else (a number, list or numpy array).
    Ops on a Parameter give plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = []
        self.data = data.data if isinstance(data, Tensor) else default_array(data)
        self._grad = None
        self.grad_fn = None
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
