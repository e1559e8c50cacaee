"""The errors users get (docs/semantics.md, "Errors"): each one checked for its
exception type and for a message that names the op and the offending shapes,
dims or arguments; and, with torch present, PyTorch raises the same type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import autograd


@dataclass
class ErrorCase:
    ours: Callable[[], object]
    theirs: Callable[[object], object]  # takes the torch module
    error: type[Exception]
    fragments: list[str] = field(default_factory=list)


def _second_backward(lib):
    x = lib.ones(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    y.backward()


def _modified_saved(lib):
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(3) * 2
    y = (x * w).sum()
    w.add_(1)
    y.backward()


def _modified_saved_by_setitem(lib):
    x = lib.ones(3, requires_grad=True)
    w = lib.ones(3) * 2
    y = (x * w).sum()
    w[0] = 5.0
    y.backward()


def _leaf_inplace(lib):
    lib.ones(3, requires_grad=True).mul_(2)


def _gradient_wrong_shape(lib):
    y = lib.ones(3, requires_grad=True) * 2
    y.backward(lib.ones(4))


def _unused_input(lib):
    x = lib.ones(2, requires_grad=True)
    unused = lib.ones(2, requires_grad=True)
    grad = autograd.grad if lib is autograd else lib.autograd.grad
    grad((x * 2).sum(), [x, unused])


def _function_saved_modified(lib):
    """A user Function saves its inputs; one is changed in place before backward."""
    Function = autograd.Function if lib is autograd else lib.autograd.Function

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    x, w = lib.ones(3, requires_grad=True), lib.ones(3) * 2
    y = Mul.apply(x, w).sum()
    with (autograd.no_grad() if lib is autograd else lib.no_grad()):
        w.add_(100)
    y.backward()


def _function_saves_non_tensor(lib):
    Function = autograd.Function if lib is autograd else lib.autograd.Function

    class Keep(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a, 3)
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    Keep.apply(lib.ones(3, requires_grad=True))


def _hook_returns(value_of):
    """A hook on a non-leaf (3,) tensor returns ``value_of(lib)``; then backward."""
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        h = x * 2
        h.register_hook(lambda g: value_of(lib))
        h.sum().backward()
    return run


def _leaf_hook_returns_float(lib):
    x = lib.ones(3, requires_grad=True)
    x.register_hook(lambda g: 1.5)
    (x * 2).sum().backward()


def _assign_grad(value_of):
    def run(lib):
        p = lib.ones(3, requires_grad=True)
        p.grad = value_of(lib)
    return run


def _layer_input(lib, value):
    nn = __import__("nn") if lib is autograd else lib.nn
    lib.manual_seed(0)
    nn.Linear(3, 2)(value)


CASES = {
    # binary ops whose shapes do not broadcast: the op and both shapes
    "add_shapes": ErrorCase(
        lambda: autograd.ones(2, 3) + autograd.ones(4, 3),
        lambda t: t.ones(2, 3) + t.ones(4, 3),
        RuntimeError, ["add", "(2, 3)", "(4, 3)", "non-singleton dimension 0"]),
    "mul_shapes": ErrorCase(
        lambda: autograd.ones(2, 3) * autograd.ones(3, 2),
        lambda t: t.ones(2, 3) * t.ones(3, 2),
        RuntimeError, ["mul", "(2, 3)", "(3, 2)"]),
    "sub_shapes": ErrorCase(
        lambda: autograd.ones(2, 3) - autograd.ones(2),
        lambda t: t.ones(2, 3) - t.ones(2),
        RuntimeError, ["sub", "(2, 3)", "(2,)"]),
    "div_shapes": ErrorCase(
        lambda: autograd.ones(5) / autograd.ones(4),
        lambda t: t.ones(5) / t.ones(4),
        RuntimeError, ["div", "(5,)", "(4,)"]),
    "maximum_shapes": ErrorCase(
        lambda: autograd.maximum(autograd.ones(2, 3), autograd.ones(2)),
        lambda t: t.maximum(t.ones(2, 3), t.ones(2)),
        RuntimeError, ["maximum", "(2, 3)", "(2,)"]),
    "compare_shapes": ErrorCase(
        lambda: autograd.ones(2, 3) < autograd.ones(2),
        lambda t: t.ones(2, 3) < t.ones(2),
        RuntimeError, ["(2, 3)", "(2,)"]),
    # matrix products
    "matmul_shapes": ErrorCase(
        lambda: autograd.ones(2, 3) @ autograd.ones(4, 5),
        lambda t: t.ones(2, 3) @ t.ones(4, 5),
        RuntimeError, ["mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"]),
    "matmul_batched": ErrorCase(
        lambda: autograd.ones(2, 2, 3) @ autograd.ones(2, 4, 5),
        lambda t: t.ones(2, 2, 3) @ t.ones(2, 4, 5),
        RuntimeError, ["matmul", "2x2x3", "2x4x5"]),
    "matmul_0d": ErrorCase(
        lambda: autograd.tensor(1.0) @ autograd.ones(4),
        lambda t: t.tensor(1.0) @ t.ones(4),
        RuntimeError, ["matmul", "()", "(4,)"]),
    "dot_2d": ErrorCase(
        lambda: autograd.ones(2, 3).dot(autograd.ones(2, 3)),
        lambda t: t.ones(2, 3).dot(t.ones(2, 3)),
        RuntimeError, ["1D tensors expected", "2D"]),
    "dot_sizes": ErrorCase(
        lambda: autograd.ones(3).dot(autograd.ones(4)),
        lambda t: t.ones(3).dot(t.ones(4)),
        RuntimeError, ["dot", "[3]", "[4]"]),
    # backward misuse
    "backward_non_scalar": ErrorCase(
        lambda: (autograd.ones(3, requires_grad=True) * 2).backward(),
        lambda t: (t.ones(3, requires_grad=True) * 2).backward(),
        RuntimeError, ["backward", "grad can be implicitly created only for scalar outputs",
                       "(3,)"]),
    "backward_no_grad": ErrorCase(
        lambda: autograd.ones(3).sum().backward(),
        lambda t: t.ones(3).sum().backward(),
        RuntimeError, ["backward", "does not require grad"]),
    "backward_twice": ErrorCase(
        lambda: _second_backward(autograd), _second_backward,
        RuntimeError, ["backward through the graph a second time", "retain_graph=True"]),
    "inplace_saved": ErrorCase(
        lambda: _modified_saved(autograd), _modified_saved,
        RuntimeError, ["modified by an inplace operation", "MulBackward0", "(3,)"]),
    "inplace_saved_setitem": ErrorCase(
        lambda: _modified_saved_by_setitem(autograd), _modified_saved_by_setitem,
        RuntimeError, ["modified by an inplace operation"]),
    "inplace_leaf": ErrorCase(
        lambda: _leaf_inplace(autograd), _leaf_inplace,
        RuntimeError, ["mul_", "leaf Variable that requires grad", "in-place"]),
    "gradient_shape": ErrorCase(
        lambda: _gradient_wrong_shape(autograd), _gradient_wrong_shape,
        RuntimeError, ["backward", "Mismatch in shape", "(4,)", "(3,)"]),
    "grad_unused_input": ErrorCase(
        lambda: _unused_input(autograd), _unused_input,
        RuntimeError, ["grad", "allow_unused=True"]),
    "retain_grad_no_grad": ErrorCase(
        lambda: autograd.ones(2).retain_grad(), lambda t: t.ones(2).retain_grad(),
        RuntimeError, ["retain_grad", "requires_grad=False"]),
    "hook_no_grad": ErrorCase(
        lambda: autograd.ones(2).register_hook(lambda g: g),
        lambda t: t.ones(2).register_hook(lambda g: g),
        RuntimeError, ["hook", "doesn't require gradient"]),
    "int_requires_grad": ErrorCase(
        lambda: autograd.tensor([1, 2], requires_grad=True),
        lambda t: t.tensor([1, 2], requires_grad=True),
        RuntimeError, ["floating point", "int64"]),
    "non_leaf_requires_grad_false": ErrorCase(
        lambda: (autograd.ones(2, requires_grad=True) * 2).requires_grad_(False),
        lambda t: (t.ones(2, requires_grad=True) * 2).requires_grad_(False),
        RuntimeError, ["leaf variables", "detach"]),
    # dims out of range: the op, the range and the dim
    "sum_dim": ErrorCase(
        lambda: autograd.ones(2, 3).sum(dim=5), lambda t: t.ones(2, 3).sum(dim=5),
        IndexError, ["sum", "Dimension out of range", "[-2, 1]", "got 5"]),
    "mean_dim": ErrorCase(
        lambda: autograd.ones(2, 3).mean(dim=-3), lambda t: t.ones(2, 3).mean(dim=-3),
        IndexError, ["mean", "Dimension out of range", "[-2, 1]", "got -3"]),
    "max_dim": ErrorCase(
        lambda: autograd.ones(2, 3).max(dim=3), lambda t: t.ones(2, 3).max(dim=3),
        IndexError, ["max", "[-2, 1]", "got 3"]),
    "argmax_dim": ErrorCase(
        lambda: autograd.ones(2, 3).argmax(dim=3), lambda t: t.ones(2, 3).argmax(dim=3),
        IndexError, ["argmax", "[-2, 1]", "got 3"]),
    "softmax_dim": ErrorCase(
        lambda: autograd.ones(2, 3).softmax(dim=2), lambda t: t.ones(2, 3).softmax(dim=2),
        IndexError, ["softmax", "[-2, 1]", "got 2"]),
    "log_softmax_dim": ErrorCase(
        lambda: autograd.ones(2, 3).log_softmax(dim=-4),
        lambda t: t.ones(2, 3).log_softmax(dim=-4),
        IndexError, ["log_softmax", "[-2, 1]", "got -4"]),
    "transpose_dim": ErrorCase(
        lambda: autograd.ones(2, 3).transpose(0, 3), lambda t: t.ones(2, 3).transpose(0, 3),
        IndexError, ["transpose", "[-2, 1]", "got 3"]),
    "unsqueeze_dim": ErrorCase(
        lambda: autograd.ones(2, 3).unsqueeze(5), lambda t: t.ones(2, 3).unsqueeze(5),
        IndexError, ["unsqueeze", "[-3, 2]", "got 5"]),
    "squeeze_dim": ErrorCase(
        lambda: autograd.ones(2, 3).squeeze(5), lambda t: t.ones(2, 3).squeeze(5),
        IndexError, ["squeeze", "[-2, 1]", "got 5"]),
    "size_dim": ErrorCase(
        lambda: autograd.ones(2, 3).size(5), lambda t: t.ones(2, 3).size(5),
        IndexError, ["size", "[-2, 1]", "got 5"]),
    "flatten_dim": ErrorCase(
        lambda: autograd.ones(2, 3).flatten(0, 4), lambda t: t.ones(2, 3).flatten(0, 4),
        IndexError, ["flatten", "[-2, 1]", "got 4"]),
    "cat_dim": ErrorCase(
        lambda: autograd.cat([autograd.ones(2, 3)] * 2, 2),
        lambda t: t.cat([t.ones(2, 3)] * 2, 2),
        IndexError, ["cat", "[-2, 1]", "got 2"]),
    "gather_dim": ErrorCase(
        lambda: autograd.ones(2, 3).gather(4, autograd.zeros(2, 3, dtype=autograd.int64)),
        lambda t: t.ones(2, 3).gather(4, t.zeros(2, 3, dtype=t.int64)),
        IndexError, ["gather", "[-2, 1]", "got 4"]),
    "permute_out_of_range": ErrorCase(
        lambda: autograd.ones(2, 3).permute(0, 5), lambda t: t.ones(2, 3).permute(0, 5),
        IndexError, ["permute", "[-2, 1]", "got 5"]),
    "permute_duplicate": ErrorCase(
        lambda: autograd.ones(2, 3).permute(0, 0), lambda t: t.ones(2, 3).permute(0, 0),
        RuntimeError, ["permute", "(0, 0)", "(2, 3)"]),
    "permute_count": ErrorCase(
        lambda: autograd.ones(2, 3).permute(0, 1, 2),
        lambda t: t.ones(2, 3).permute(0, 1, 2),
        RuntimeError, ["permute", "(0, 1, 2)", "(2, 3)"]),
    # shapes
    "reshape": ErrorCase(
        lambda: autograd.ones(2, 3).reshape(4, 2), lambda t: t.ones(2, 3).reshape(4, 2),
        RuntimeError, ["reshape", "(4, 2)", "(2, 3)", "6"]),
    "reshape_infer": ErrorCase(
        lambda: autograd.ones(2, 3).reshape(-1, 4), lambda t: t.ones(2, 3).reshape(-1, 4),
        RuntimeError, ["reshape", "(-1, 4)", "(2, 3)"]),
    "view": ErrorCase(
        lambda: autograd.ones(2, 3).view(5), lambda t: t.ones(2, 3).view(5),
        RuntimeError, ["(5,)", "(2, 3)"]),
    "expand": ErrorCase(
        lambda: autograd.ones(2, 3).expand(4, 3), lambda t: t.ones(2, 3).expand(4, 3),
        RuntimeError, ["expand", "(4, 3)", "(2, 3)"]),
    "cat_shapes": ErrorCase(
        lambda: autograd.cat([autograd.ones(2, 3), autograd.ones(4, 5)], 0),
        lambda t: t.cat([t.ones(2, 3), t.ones(4, 5)], 0),
        RuntimeError, ["cat", "(2, 3)", "(4, 5)", "dim 0"]),
    "cat_ranks": ErrorCase(
        lambda: autograd.cat([autograd.ones(2, 3), autograd.ones(3)], 0),
        lambda t: t.cat([t.ones(2, 3), t.ones(3)], 0),
        RuntimeError, ["cat", "(2, 3)", "(3,)"]),
    "stack_shapes": ErrorCase(
        lambda: autograd.stack([autograd.ones(2), autograd.ones(3)]),
        lambda t: t.stack([t.ones(2), t.ones(3)]),
        RuntimeError, ["stack", "(2,)", "(3,)"]),
    "split_sizes": ErrorCase(
        lambda: autograd.ones(2, 3).split([1, 3]), lambda t: t.ones(2, 3).split([1, 3]),
        RuntimeError, ["split", "[1, 3]", "2"]),
    # indexing: the index, the dim and its size
    "index_out_of_range": ErrorCase(
        lambda: autograd.ones(2, 3)[5], lambda t: t.ones(2, 3)[5],
        IndexError, ["index", "5", "size 2", "(2, 3)"]),
    "index_second_dim": ErrorCase(
        lambda: autograd.ones(2, 3, requires_grad=True)[0, 7],
        lambda t: t.ones(2, 3, requires_grad=True)[0, 7],
        IndexError, ["index", "7", "size 3", "(2, 3)"]),
    "index_array_out_of_range": ErrorCase(
        lambda: autograd.ones(2, 3)[autograd.tensor([0, 3])],
        lambda t: t.ones(2, 3)[t.tensor([0, 3])],
        IndexError, ["index", "3", "size 2"]),
    "index_too_many": ErrorCase(
        lambda: autograd.ones(2, 3)[0, 0, 0], lambda t: t.ones(2, 3)[0, 0, 0],
        IndexError, ["index", "too many indices", "(2, 3)"]),
    "index_bad_mask": ErrorCase(
        lambda: autograd.ones(2, 3)[autograd.tensor([True, False, True])],
        lambda t: t.ones(2, 3)[t.tensor([True, False, True])],
        IndexError, ["index", "(2, 3)"]),
    "index_float_tensor": ErrorCase(
        lambda: autograd.ones(2, 3)[autograd.tensor([0.5])],
        lambda t: t.ones(2, 3)[t.tensor([0.5])],
        IndexError, ["long, int", "bool"]),
    # conversions and misc
    "item_many": ErrorCase(
        lambda: autograd.ones(3).item(), lambda t: t.ones(3).item(),
        RuntimeError, ["3 elements", "Scalar"]),
    "numpy_requires_grad": ErrorCase(
        lambda: autograd.ones(3, requires_grad=True).numpy(),
        lambda t: t.ones(3, requires_grad=True).numpy(),
        RuntimeError, ["numpy()", "detach"]),
    "bool_many": ErrorCase(
        lambda: bool(autograd.ones(2)), lambda t: bool(t.ones(2)),
        RuntimeError, ["ambiguous"]),
    "len_0d": ErrorCase(
        lambda: len(autograd.tensor(1.0)), lambda t: len(t.tensor(1.0)),
        TypeError, ["len()", "0-d"]),
    "where_float_condition": ErrorCase(
        lambda: autograd.where(autograd.ones(2), autograd.ones(2), autograd.ones(2)),
        lambda t: t.where(t.ones(2), t.ones(2), t.ones(2)),
        RuntimeError, ["where", "bool", "float32"]),
    "softmax_without_dim": ErrorCase(
        lambda: autograd.ones(2, 3).softmax(), lambda t: t.ones(2, 3).softmax(),
        TypeError, ["softmax", "dim"]),
    "mean_of_ints": ErrorCase(
        lambda: autograd.arange(3).mean(), lambda t: t.arange(3).mean(),
        RuntimeError, ["mean", "floating point", "int64"]),
    "clamp_without_bounds": ErrorCase(
        lambda: autograd.ones(2).clamp(), lambda t: t.ones(2).clamp(),
        RuntimeError, ["clamp", "min", "max"]),
    "sum_to_size": ErrorCase(
        lambda: autograd.ones(2, 3).sum_to_size(3, 3),
        lambda t: t.ones(2, 3).sum_to_size(3, 3),
        RuntimeError, ["sum_to_size", "(3, 3)", "(2, 3)"]),
    "chunk_zero": ErrorCase(
        lambda: autograd.ones(4).chunk(0), lambda t: t.ones(4).chunk(0),
        RuntimeError, ["chunk", "0"]),
    "randint_bounds": ErrorCase(
        lambda: autograd.randint(5, 2, (3,)), lambda t: t.randint(5, 2, (3,)),
        RuntimeError, ["randint", "low=5", "high=2"]),
    "arange_zero_step": ErrorCase(
        lambda: autograd.arange(0, 3, 0), lambda t: t.arange(0, 3, 0),
        RuntimeError, ["arange", "step"]),
    # what users hand in through the other doors (issue 9)
    "function_saved_modified": ErrorCase(
        lambda: _function_saved_modified(autograd), _function_saved_modified,
        RuntimeError, ["modified by an inplace operation", "MulBackward", "(3,)"]),
    "function_saves_non_tensor": ErrorCase(
        lambda: _function_saves_non_tensor(autograd), _function_saves_non_tensor,
        TypeError, ["save_for_backward", "argument 1", "int"]),
    "hook_changes_shape": ErrorCase(
        lambda: _hook_returns(lambda lib: lib.ones(2, 3))(autograd),
        _hook_returns(lambda lib: lib.ones(2, 3)),
        RuntimeError, ["hook '<lambda>'", "changed the size", "(3,)", "(2, 3)"]),
    "hook_changes_length": ErrorCase(
        lambda: _hook_returns(lambda lib: lib.ones(5))(autograd),
        _hook_returns(lambda lib: lib.ones(5)),
        RuntimeError, ["hook '<lambda>'", "changed the size", "(3,)", "(5,)"]),
    "hook_returns_float": ErrorCase(
        lambda: _hook_returns(lambda lib: 1.5)(autograd), _hook_returns(lambda lib: 1.5),
        TypeError, ["hook '<lambda>'", "float", "Tensor"]),
    "hook_changes_dtype": ErrorCase(
        lambda: _hook_returns(lambda lib: lib.ones(3, dtype=lib.float64))(autograd),
        _hook_returns(lambda lib: lib.ones(3, dtype=lib.float64)),
        RuntimeError, ["hook '<lambda>'", "changed the type", "float32", "float64"]),
    "leaf_hook_returns_float": ErrorCase(
        lambda: _leaf_hook_returns_float(autograd), _leaf_hook_returns_float,
        TypeError, ["hook '<lambda>'", "float"]),
    "assign_grad_shape": ErrorCase(
        lambda: _assign_grad(lambda lib: lib.ones(1))(autograd),
        _assign_grad(lambda lib: lib.ones(1)),
        RuntimeError, ["assign a gradient", "[1]", "[3]", "same size"]),
    "assign_grad_dtype": ErrorCase(
        lambda: _assign_grad(lambda lib: lib.ones(3, dtype=lib.float64))(autograd),
        _assign_grad(lambda lib: lib.ones(3, dtype=lib.float64)),
        RuntimeError, ["assign a gradient", "float64", "float32"]),
    "assign_grad_int": ErrorCase(
        lambda: _assign_grad(lambda lib: lib.ones(3, dtype=lib.int64))(autograd),
        _assign_grad(lambda lib: lib.ones(3, dtype=lib.int64)),
        RuntimeError, ["assign a gradient", "int64", "float32"]),
    "assign_grad_not_tensor": ErrorCase(
        lambda: _assign_grad(lambda lib: np.ones(3, dtype=np.float32))(autograd),
        _assign_grad(lambda lib: np.ones(3, dtype=np.float32)),
        TypeError, ["assigned grad", "Tensor or None", "ndarray"]),
    "view_transposed": ErrorCase(
        lambda: autograd.ones(2, 3).transpose(0, 1).view(-1),
        lambda t: t.ones(2, 3).transpose(0, 1).view(-1),
        RuntimeError, ["view", "(-1,)", "stride", ".reshape(...)"]),
    "view_strided_slice": ErrorCase(
        lambda: autograd.ones(4, 3)[:, :2].view(8), lambda t: t.ones(4, 3)[:, :2].view(8),
        RuntimeError, ["view", "(8,)", ".reshape(...)"]),
    "view_expanded": ErrorCase(
        lambda: autograd.ones(3, 1).expand(3, 4).view(-1),
        lambda t: t.ones(3, 1).expand(3, 4).view(-1),
        RuntimeError, ["view", ".reshape(...)"]),
    "reshape_minus_two": ErrorCase(
        lambda: autograd.ones(2, 3).reshape(-2, 3), lambda t: t.ones(2, 3).reshape(-2, 3),
        RuntimeError, ["reshape", "invalid shape dimension -2", "[-2, 3]"]),
    "view_minus_two": ErrorCase(
        lambda: autograd.ones(2, 3).view(-2, 3), lambda t: t.ones(2, 3).view(-2, 3),
        RuntimeError, ["view", "invalid shape dimension -2"]),
    "reshape_two_inferred": ErrorCase(
        lambda: autograd.ones(2, 3).reshape(-1, -1), lambda t: t.ones(2, 3).reshape(-1, -1),
        RuntimeError, ["reshape", "only one dimension can be inferred"]),
    "reshape_float": ErrorCase(
        lambda: autograd.ones(2, 3).reshape((2.0, 3)), lambda t: t.ones(2, 3).reshape((2.0, 3)),
        TypeError, ["reshape", "tuple of ints", "float"]),
    "gather_negative": ErrorCase(
        lambda: autograd.ones(2, 3).gather(1, autograd.tensor([[0, -1, 1]])),
        lambda t: t.ones(2, 3).gather(1, t.tensor([[0, -1, 1]])),
        RuntimeError, ["gather", "index -1", "out of bounds", "size 3"]),
    "gather_out_of_range": ErrorCase(
        lambda: autograd.ones(2, 3).gather(1, autograd.tensor([[0, 3, 1]])),
        lambda t: t.ones(2, 3).gather(1, t.tensor([[0, 3, 1]])),
        RuntimeError, ["gather", "index 3", "out of bounds", "size 3"]),
    "string_array": ErrorCase(
        lambda: autograd.tensor(np.array(["1.5", "2"])),
        lambda t: t.tensor(np.array(["1.5", "2"])),
        TypeError, ["tensor", "<U3", "bool, integer and floating-point"]),
    "object_array": ErrorCase(
        lambda: autograd.tensor(np.array([1.0, None])),
        lambda t: t.tensor(np.array([1.0, None])),
        TypeError, ["tensor", "object"]),
    "requires_grad_attr_int": ErrorCase(
        lambda: setattr(autograd.tensor([1, 2]), "requires_grad", True),
        lambda t: setattr(t.tensor([1, 2]), "requires_grad", True),
        RuntimeError, ["floating point", "int64"]),
    "requires_grad_attr_bool": ErrorCase(
        lambda: setattr(autograd.tensor([True]), "requires_grad", True),
        lambda t: setattr(t.tensor([True]), "requires_grad", True),
        RuntimeError, ["floating point", "bool"]),
    "requires_grad_attr_non_leaf": ErrorCase(
        lambda: setattr(autograd.ones(2, requires_grad=True) * 2, "requires_grad", False),
        lambda t: setattr(t.ones(2, requires_grad=True) * 2, "requires_grad", False),
        RuntimeError, ["leaf variables", "detach"]),
    "linear_numpy": ErrorCase(
        lambda: _layer_input(autograd, np.ones((1, 3), np.float32)),
        lambda t: _layer_input(t, np.ones((1, 3), np.float32)),
        TypeError, ["Linear", "Tensor", "numpy.ndarray"]),
    "linear_list": ErrorCase(
        lambda: _layer_input(autograd, [[1.0, 2.0, 3.0]]),
        lambda t: _layer_input(t, [[1.0, 2.0, 3.0]]),
        TypeError, ["Linear", "Tensor", "list"]),
    "argmax_empty": ErrorCase(
        lambda: autograd.ones(0).argmax(), lambda t: t.ones(0).argmax(),
        IndexError, ["argmax", "numel() == 0"]),
    "argmin_empty_dim": ErrorCase(
        lambda: autograd.ones(0, 3).argmin(0), lambda t: t.ones(0, 3).argmin(0),
        IndexError, ["argmin", "dim 0", "non-zero size", "(0, 3)"]),
    "argmax_bool": ErrorCase(
        lambda: autograd.tensor([True, False]).argmax(),
        lambda t: t.tensor([True, False]).argmax(),
        RuntimeError, ["argmax", "bool"]),
    "amax_empty_dim": ErrorCase(
        lambda: autograd.ones(0, 3).amax(0), lambda t: t.ones(0, 3).amax(0),
        IndexError, ["amax", "dim 0", "non-zero size"]),
    "max_empty": ErrorCase(
        lambda: autograd.ones(0, 3).max(), lambda t: t.ones(0, 3).max(),
        RuntimeError, ["numel() == 0", "dim"]),
    "max_empty_dim": ErrorCase(
        lambda: autograd.ones(0, 3).max(0), lambda t: t.ones(0, 3).max(0),
        IndexError, ["max", "dim 0"]),
    "add_string": ErrorCase(
        lambda: autograd.ones(2) + "x", lambda t: t.ones(2) + "x",
        TypeError, ["str"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_error_type_and_message(case):
    with pytest.raises(case.error) as info:
        case.ours()
    assert type(info.value).__module__ != "numpy", "a bare numpy error leaked out"
    message = str(info.value)
    for fragment in case.fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_torch_raises_the_same_type(case):
    torch = pytest.importorskip("torch")
    with pytest.raises(case.error):
        case.theirs(torch)


def test_errors_do_not_leave_graph_or_data_changed():
    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        x.add_(1)
    with pytest.raises(RuntimeError):
        x * autograd.ones(3)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
