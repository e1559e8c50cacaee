"""The Tensor API (docs/api/autograd.rst, docs/semantics.md): creation, dtype
rules, attributes, conversion, repr, seeding, in-place updates, reflected numpy
operators, comparisons and the numpy argument aliases."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
from autograd import Tensor

# --------------------------------------------------------------------------- creation

SIZE_FACTORIES = ["zeros", "ones", "empty", "randn", "rand"]


@pytest.mark.parametrize("name", SIZE_FACTORIES)
def test_size_factories_take_varargs_or_a_tuple(name):
    factory = getattr(autograd, name)
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert isinstance(t, Tensor)
        assert t.shape == (2, 3)
        assert t.dtype == autograd.float32
        assert not t.requires_grad and t.is_leaf
    assert factory(4).shape == (4,)
    assert factory(()).shape == ()


@pytest.mark.parametrize("name", SIZE_FACTORIES)
def test_size_factories_dtype_and_requires_grad(name):
    factory = getattr(autograd, name)
    t = factory(2, dtype=autograd.float64, requires_grad=True)
    assert t.dtype == np.float64
    assert t.requires_grad and t.is_leaf and t.grad_fn is None


def test_zeros_ones_values():
    np.testing.assert_array_equal(autograd.zeros(2, 2).data, np.zeros((2, 2)))
    np.testing.assert_array_equal(autograd.ones(3).data, np.ones(3))
    assert autograd.zeros(2, dtype=autograd.int64).dtype == np.int64


def test_full_infers_dtype_from_fill_value():
    assert autograd.full((2, 3), 1.5).dtype == np.float32
    assert autograd.full((2, 3), 7).dtype == np.int64
    assert autograd.full((2,), True).dtype == np.bool_
    t = autograd.full((2, 2), 2, dtype=autograd.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    np.testing.assert_array_equal(t.data, np.full((2, 2), 2.0))
    assert autograd.full(3, 0.5).shape == (3,)


def test_like_factories_keep_shape_and_dtype():
    base = autograd.tensor([[1, 2, 3]])
    for t in (autograd.zeros_like(base), autograd.ones_like(base),
              autograd.full_like(base, 4)):
        assert t.shape == (1, 3) and t.dtype == np.int64
    np.testing.assert_array_equal(autograd.full_like(base, 4).data, [[4, 4, 4]])
    t = autograd.ones_like(base, dtype=autograd.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    assert autograd.zeros_like(autograd.ones(2)).data.sum() == 0


def test_randint_forms():
    autograd.manual_seed(0)
    t = autograd.randint(0, 10, (3, 4))
    assert t.shape == (3, 4) and t.dtype == np.int64
    assert t.data.min() >= 0 and t.data.max() < 10
    u = autograd.randint(5, (100,))
    assert u.shape == (100,) and u.data.min() >= 0 and u.data.max() < 5
    v = autograd.randint(3, 5, size=(50,))
    assert set(np.unique(v.data)) <= {3, 4}


def test_random_distributions_look_right():
    autograd.manual_seed(1)
    n = autograd.randn(20_000, dtype=autograd.float64).data
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    u = autograd.rand(20_000).data
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_arange_linspace_eye_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (autograd.arange(5), torch.arange(5)),
        (autograd.arange(2, 7), torch.arange(2, 7)),
        (autograd.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)),
        (autograd.arange(0.0, 3.0), torch.arange(0.0, 3.0)),
        (autograd.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
        (autograd.linspace(-2, 2, 4), torch.linspace(-2, 2, 4)),
        (autograd.eye(3), torch.eye(3)),
        (autograd.eye(2, 3), torch.eye(2, 3)),
        (autograd.full((2, 3), 7), torch.full((2, 3), 7)),
        (autograd.full((2,), 1.5), torch.full((2,), 1.5)),
    ]
    for ours, theirs in pairs:
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (ours, theirs)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_arange_linspace_eye_dtype_and_requires_grad():
    for t in (autograd.arange(3, dtype=autograd.float64, requires_grad=True),
              autograd.linspace(0, 1, 3, dtype=autograd.float64, requires_grad=True),
              autograd.eye(2, dtype=autograd.float64, requires_grad=True)):
        assert t.dtype == np.float64 and t.requires_grad and t.is_leaf


def test_integer_factory_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        autograd.randint(0, 3, (2,), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        autograd.arange(3, requires_grad=True)


# --------------------------------------------------------------------------- dtype rules


def test_python_floats_become_float32_and_ints_int64():
    assert autograd.tensor(1.5).dtype == np.float32
    assert autograd.tensor([1.0, 2.0]).dtype == np.float32
    assert autograd.tensor([1, 2]).dtype == np.int64
    assert autograd.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert autograd.tensor([True, False]).dtype == np.bool_
    assert autograd.tensor([1, 2.5]).dtype == np.float32
    assert Tensor([1.0]).dtype == np.float32


def test_numpy_arrays_keep_their_dtype():
    assert autograd.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert autograd.tensor(np.array([1, 2], dtype=np.int32)).dtype == np.int32
    assert autograd.tensor(np.float64(2.0)).dtype == np.float64


def test_dtype_argument_wins():
    assert autograd.tensor([1, 2], dtype=autograd.float64).dtype == np.float64
    assert autograd.tensor(np.array([1.0]), dtype=autograd.float32).dtype == np.float32
    assert autograd.tensor([1.7], dtype=autograd.int64).dtype == np.int64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_integer_tensor_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        autograd.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        autograd.tensor([1, 2]).requires_grad_()


def test_tensor_copies_its_data():
    array = np.array([1.0, 2.0])
    t = autograd.tensor(array)
    array[0] = 100.0
    assert t.data[0] == 1.0
    u = autograd.tensor(t)
    t.data[1] = 50.0
    assert u.data[1] == 2.0


def test_dtype_aliases():
    assert autograd.float32 == np.float32 and autograd.float64 == np.float64
    assert autograd.int64 == np.int64 and autograd.bool == np.bool_
    assert autograd.float == np.float32 and autograd.double == np.float64
    assert autograd.long == np.int64


# --------------------------------------------------------------------------- attributes


def test_shape_attributes():
    t = autograd.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4)
    assert t.size(0) == 2 and t.size(-1) == 4 and t.size(1) == 3
    assert t.numel() == 24
    assert autograd.tensor(3.0).numel() == 1 and autograd.tensor(3.0).ndim == 0


def test_transpose_attribute_T():
    t = autograd.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, t.data.T)
    cube = autograd.zeros(2, 3, 4)
    assert cube.T.shape == (4, 3, 2)


def test_device_is_cpu():
    t = autograd.ones(2)
    assert t.device == autograd.device("cpu")
    assert t.device.type == "cpu" and str(t.device) == "cpu"
    assert t.to("cpu") is t and t.cpu() is t


def test_is_leaf_and_grad_fn():
    x = autograd.ones(2, requires_grad=True)
    c = autograd.ones(2)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert c.is_leaf and (c * 2).is_leaf, "results that need no grad are leaves"
    assert not y.is_leaf and y.grad_fn is not None
    assert y.requires_grad


GRAD_FN_CASES = {
    "mul": lambda t: t * 2,
    "add": lambda t: t + 1,
    "sub": lambda t: t - 1,
    "div": lambda t: t / 2,
    "neg": lambda t: -t,
    "pow": lambda t: t ** 2,
    "exp": lambda t: t.exp(),
    "log": lambda t: t.log(),
    "sqrt": lambda t: t.sqrt(),
    "abs": lambda t: t.abs(),
    "sin": lambda t: t.sin(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "relu": lambda t: t.relu(),
    "sum": lambda t: t.sum(),
    "mean": lambda t: t.mean(),
    "amax": lambda t: t.amax(1),
    "softmax": lambda t: t.softmax(1),
    "log_softmax": lambda t: t.log_softmax(1),
    "mm": lambda t: t @ t.T,
    "T": lambda t: t.T,
    "permute": lambda t: t.permute(1, 0),
    "reshape": lambda t: t.reshape(3, 2),
    "view": lambda t: t.view(6),
    "flatten": lambda t: t.flatten(),
    "expand": lambda t: t[:1].expand(2, 3),
    "clone": lambda t: t.clone(),
    "double": lambda t: t.double(),
}


@pytest.mark.parametrize("make", GRAD_FN_CASES.values(), ids=GRAD_FN_CASES.keys())
def test_grad_fn_names_match_torch(make):
    torch = pytest.importorskip("torch")
    ours = make(autograd.ones(2, 3, requires_grad=True))
    theirs = make(torch.ones(2, 3, requires_grad=True))
    assert ours.grad_fn.name() == type(theirs.grad_fn).__name__
    assert repr(ours.grad_fn) == f"<{type(theirs.grad_fn).__name__}>"


def test_grad_fn_names_without_torch():
    x = autograd.ones(2, requires_grad=True)
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert (x + 2).grad_fn.name() == "AddBackward0"
    assert x.sum().grad_fn.name() == "SumBackward0"


# --------------------------------------------------------------------------- conversion


def test_item():
    assert autograd.tensor(2.5).item() == 2.5
    assert isinstance(autograd.tensor(2.5).item(), float)
    assert autograd.tensor([[7]]).item() == 7
    assert isinstance(autograd.tensor([7]).item(), int)
    assert float(autograd.tensor([1.5])) == 1.5 and int(autograd.tensor(3)) == 3


def test_numpy_shares_memory_and_refuses_grad_tensors():
    t = autograd.tensor([1.0, 2.0])
    array = t.numpy()
    assert isinstance(array, np.ndarray)
    array[0] = 9.0
    assert t.data[0] == 9.0
    with pytest.raises(RuntimeError, match="detach"):
        autograd.ones(2, requires_grad=True).numpy()


def test_tolist():
    assert autograd.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert autograd.tensor([0.5, 1.5]).tolist() == [0.5, 1.5]
    assert autograd.tensor(2.0).tolist() == 2.0


def test_detach_shares_data_and_cuts_the_graph():
    x = autograd.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, y.data)


def test_clone_copies_and_stays_in_the_graph():
    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data)
    assert c.grad_fn is not None
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    plain = autograd.tensor([1.0])
    copy = plain.clone()
    copy.data[0] = 5.0
    assert plain.data[0] == 1.0


def test_to_and_astype_convert_dtype():
    x = autograd.tensor([1.5, 2.5], requires_grad=True)
    d = x.to(autograd.float64)
    assert d.dtype == np.float64 and d.requires_grad
    assert x.astype(autograd.float64).dtype == np.float64
    assert x.to(dtype=autograd.float64).dtype == np.float64
    assert x.to(autograd.float32) is x
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [3.0, 5.0])
    assert autograd.tensor([1.7, -2.2]).to(autograd.int64).tolist() == [1, -2]


def test_array_protocol_and_len():
    t = autograd.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    array = np.asarray(t)
    assert array.shape == (3, 2) and array.dtype == np.float32
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert len(t) == 3
    assert np.sum(np.asarray(t)) == 21.0


def test_iteration_yields_rows():
    t = autograd.tensor([[1, 2], [3, 4]])
    assert [row.tolist() for row in t] == [[1, 2], [3, 4]]


# --------------------------------------------------------------------------- repr

REPR_CASES = [
    ([1.0, 2.0, 3.0], {"requires_grad": True}),
    ([1.0, 2.0, 3.0], {}),
    ([[1.5, 2.25], [3.0, 4.0]], {}),
    ([1, 2, 3], {}),
    (3.5, {}),
    ([True, False], {}),
    ([0.1, -0.25, 100.0], {}),
    ([[-1.0, 0.0], [2.0, 3.0]], {"requires_grad": True}),
    ([[1.0, -2.0], [30.0, 4.0]], {}),
    ([1.0, float("nan"), -100.0], {}),
    ([1e-5, 1.0, -300.0], {}),
    ([0.5, float("inf")], {}),
    ([1, 10, -100], {}),
]


@pytest.mark.parametrize(("data", "kwargs"), REPR_CASES)
def test_repr_matches_torch(data, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(autograd.tensor(data, **kwargs)) == repr(torch.tensor(data, **kwargs))


def test_repr_shows_grad_fn_like_torch():
    torch = pytest.importorskip("torch")
    x = autograd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert repr(x * 2) == repr(tx * 2) == "tensor([2., 4., 6.], grad_fn=<MulBackward0>)"
    assert repr((x * 2).sum()) == repr((tx * 2).sum())


def test_repr_names_non_default_dtype():
    text = repr(autograd.tensor([1.0, 2.0], dtype=autograd.float64))
    assert text == "tensor([1., 2.], dtype=float64)"
    assert repr(autograd.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"


# --------------------------------------------------------------------------- seeding


def test_manual_seed_reproduces_every_random_factory():
    def draw():
        return (autograd.randn(3, 2).data, autograd.rand(4).data,
                autograd.randint(0, 100, (5,)).data, autograd.randperm(6).data)

    autograd.manual_seed(123)
    first = draw()
    autograd.manual_seed(123)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    autograd.manual_seed(124)
    assert not np.array_equal(autograd.randn(3, 2).data, first[0])


def test_manual_seed_rejects_non_ints():
    with pytest.raises(TypeError):
        autograd.manual_seed(1.5)


# --------------------------------------------------------------------------- in place


def test_inplace_updates_on_tensors_needing_no_grad():
    t = autograd.tensor([1.0, 2.0, 3.0])
    same = t.add_(1)
    assert same is t
    np.testing.assert_array_equal(t.data, [2.0, 3.0, 4.0])
    t.mul_(2)
    np.testing.assert_array_equal(t.data, [4.0, 6.0, 8.0])
    t.sub_(autograd.tensor([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(t.data, [3.0, 5.0, 7.0])
    t.add_(autograd.ones(3), alpha=2)
    np.testing.assert_array_equal(t.data, [5.0, 7.0, 9.0])
    t.sub_(1, alpha=3)
    np.testing.assert_array_equal(t.data, [2.0, 4.0, 6.0])
    assert t.zero_() is t
    np.testing.assert_array_equal(t.data, [0.0, 0.0, 0.0])


def test_inplace_operators():
    t = autograd.tensor([1.0, 2.0])
    before = t
    t += 1
    t *= 3
    t -= 1
    t /= 2
    assert t is before
    np.testing.assert_allclose(t.data, [2.5, 4.0])


@pytest.mark.parametrize("update", [
    lambda t: t.add_(1), lambda t: t.mul_(2), lambda t: t.sub_(1), lambda t: t.zero_(),
])
def test_inplace_on_leaf_requiring_grad_raises(update):
    x = autograd.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        update(x)
    np.testing.assert_array_equal(x.data, [1.0, 1.0])


def test_inplace_on_leaf_allowed_under_no_grad():
    x = autograd.ones(2, requires_grad=True)
    with autograd.no_grad():
        x.sub_(0.5)
    np.testing.assert_array_equal(x.data, [0.5, 0.5])
    assert x.requires_grad and x.is_leaf


def test_inplace_on_non_leaf_requiring_grad_raises():
    y = autograd.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y.add_(1)


# --------------------------------------------------------------------------- numpy operands


def test_ndarray_op_tensor_uses_reflected_ops():
    x = autograd.tensor([1.0, 2.0, 4.0], requires_grad=True)
    a = np.array([2.0, 3.0, 5.0], dtype=np.float32)
    results = {
        "add": (a + x, a + x.data),
        "sub": (a - x, a - x.data),
        "mul": (a * x, a * x.data),
        "div": (a / x, a / x.data),
        "pow": (a ** x, a ** x.data),
    }
    for name, (ours, expected) in results.items():
        assert isinstance(ours, Tensor), name
        assert ours.requires_grad, name
        np.testing.assert_allclose(ours.data, expected, rtol=1e-6, err_msg=name)
    (a * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, a)


def test_ndarray_matmul_tensor():
    m = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    x = autograd.tensor([1.0, 1.0], requires_grad=True)
    out = m @ x
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, [3.0, 7.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, m.sum(0))


def test_tensor_op_ndarray_and_python_numbers():
    x = autograd.tensor([1.0, 2.0])
    assert isinstance(x + np.array([1.0, 1.0]), Tensor)
    assert (2 - x).tolist() == [1.0, 0.0]
    assert (1 / x).tolist() == [1.0, 0.5]
    assert (x * 2).dtype == np.float32, "a Python number keeps the tensor's dtype"


# --------------------------------------------------------------------------- comparisons


COMPARISONS = {
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}


@pytest.mark.parametrize("compare", COMPARISONS.values(), ids=COMPARISONS.keys())
def test_comparisons_give_bool_tensors_without_grad(compare):
    a_values, b_values = [1.0, 2.0, 3.0], [2.0, 2.0, 2.0]
    x = autograd.tensor(a_values, requires_grad=True)
    out = compare(x, autograd.tensor(b_values))
    assert out.dtype == np.bool_
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, compare(np.array(a_values), np.array(b_values)))
    scalar_out = compare(x, 2.0)
    np.testing.assert_array_equal(scalar_out.data, compare(np.array(a_values), 2.0))


def test_comparison_broadcasts():
    x = autograd.tensor([[1.0], [3.0]])
    out = x > autograd.tensor([0.0, 2.0, 4.0])
    assert out.shape == (2, 3)
    assert out.tolist() == [[True, False, False], [True, True, False]]


# --------------------------------------------------------------------------- aliases

ALIASED_REDUCTIONS = ["sum", "mean", "var", "std", "prod", "amax", "amin", "logsumexp"]


@pytest.mark.parametrize("name", ALIASED_REDUCTIONS)
def test_axis_and_keepdims_aliases(name):
    autograd.manual_seed(2)
    x = autograd.rand(2, 3, 4)
    method = getattr(x, name)
    np.testing.assert_allclose(method(axis=1).data, method(dim=1).data)
    np.testing.assert_allclose(method(axis=1, keepdims=True).data,
                               method(dim=1, keepdim=True).data)
    assert method(axis=1, keepdims=True).shape == (2, 1, 4)
    assert method(dim=(0, 2)).shape == (3,)


def test_max_min_with_axis_return_values_and_indices():
    x = autograd.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(axis=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    values, indices = x.min(dim=0, keepdims=True)
    assert values.shape == (1, 3) and indices.tolist() == [[0, 1, 0]]
    assert x.softmax(axis=1).shape == (2, 3)
    assert x.max().item() == 7.0


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_take_axis_and_keepdims(name):
    x = autograd.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    method = getattr(x, name)
    assert method(axis=1).tolist() == method(dim=1).tolist()
    assert method(axis=0, keepdims=True).shape == (1, 3)
    assert method(dim=0, keepdim=True).tolist() == method(axis=0, keepdims=True).tolist()
    assert method(keepdim=True).shape == (1, 1)
    assert getattr(autograd, name)(x, axis=1).tolist() == method(1).tolist()
    assert getattr(autograd.tensor(3.0), name)(0).item() == 0


# --------------------------------------------------------------------------- empty dims


EMPTY_CASES = {
    "softmax_dim0": lambda t: t.softmax(0),
    "softmax_dim1": lambda t: t.softmax(1),
    "log_softmax_dim0": lambda t: t.log_softmax(0),
    "log_softmax_dim1": lambda t: t.log_softmax(1),
    "logsumexp_dim0": lambda t: t.logsumexp(0),
    "logsumexp_dim1": lambda t: t.logsumexp(1),
    "logsumexp_all_dims": lambda t: t.logsumexp((0, 1)),
    "argmax_dim1": lambda t: t.argmax(1),
    "argmin_dim1_keepdim": lambda t: t.argmin(1, keepdim=True),
    "amax_dim1": lambda t: t.amax(1),
    "sum_dim0": lambda t: t.sum(0),
}


@pytest.mark.parametrize("name", EMPTY_CASES)
def test_reductions_over_empty_dims_match_torch(name):
    """Along a zero-size dim PyTorch returns an empty or -inf result; so must we."""
    fn = EMPTY_CASES[name]
    x = autograd.ones(0, 3, dtype=autograd.float64, requires_grad=True)
    ours = fn(x)
    if ours.requires_grad:  # the graph through an empty tensor works too
        ours.sum().backward()
        assert x.grad.shape == (0, 3)
    torch = pytest.importorskip("torch")
    theirs = fn(torch.ones(0, 3, dtype=torch.float64))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


# --------------------------------------------------------------------------- view


def test_view_shares_memory_where_the_strides_allow_it():
    x = autograd.arange(12.0).reshape(4, 3)
    for v, shape in [(x.view(3, 4), (3, 4)), (x[1:3].view(-1), (6,)),
                     (x.T.T.view(12), (12,)),
                     (autograd.ones(1, 3).expand(4, 3).view(4, 1, 3), (4, 1, 3))]:
        assert v.shape == shape
        assert np.shares_memory(v.data, x.data) or v.data.strides[0] == 0
    v = x.view(2, 6)
    with autograd.no_grad():
        v[0, 0] = 100.0
    assert x[0, 0].item() == 100.0  # a view, not a copy


def test_contiguous_then_view_and_the_gradient_flows():
    x = autograd.ones(2, 3, requires_grad=True)
    t = x.transpose(0, 1)
    assert not t.is_contiguous() and x.is_contiguous()
    assert x.contiguous() is x
    y = t.contiguous().view(-1)
    assert y.shape == (6,) and t.contiguous().is_contiguous()
    (y * autograd.arange(6.0)).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]
    assert t.reshape(-1).shape == (6,)  # reshape copies where view cannot


def test_shape_arguments_accept_integer_like_values():
    x = autograd.ones(2, 3)
    assert x.reshape(np.int64(3), autograd.tensor(2)).shape == (3, 2)
    assert x.view([6]).shape == (6,)


# --------------------------------------------------------------------------- dtypes refused


@pytest.mark.parametrize("make", [
    lambda: autograd.tensor(np.array([1 + 2j])),
    lambda: autograd.tensor([1 + 2j, 3.0]),
    lambda: autograd.tensor([1.0, 2.0], dtype=np.complex64),
    lambda: autograd.zeros(2, dtype=np.complex128),
    lambda: autograd.ones(2).to(np.complex64),
    lambda: autograd.tensor(np.array(["a", "b"])),
    lambda: autograd.tensor(np.array(["1.5"]), dtype=np.float32),
    lambda: autograd.tensor(np.array([1, None], dtype=object)),
    lambda: autograd.tensor(np.array(["2020-01-01"], dtype="datetime64[D]")),
    lambda: autograd.ones(2) + np.array([1 + 1j, 2]),
], ids=["complex_array", "complex_list", "complex_dtype", "complex_factory", "complex_to",
        "string_array", "string_array_as_float", "object_array", "datetime", "complex_operand"])
def test_complex_string_object_data_is_refused(make):
    """PyTorch has complex tensors; chaingrad does not (their gradients, e.g. of abs,
    would be wrong), so they are refused like strings and objects, with a TypeError."""
    with pytest.raises(TypeError, match="can't make a tensor of dtype"):
        make()


def test_ragged_data_is_a_value_error_naming_tensor():
    with pytest.raises(ValueError, match="tensor: could not make a tensor"):
        autograd.tensor([[1.0, 2.0], [3.0]])


def test_requires_grad_attribute_on_float_leaves_and_grad_assignment():
    t = autograd.tensor([1.0, 2.0])
    t.requires_grad = True
    assert t.requires_grad and t.is_leaf
    t.requires_grad = False
    assert not t.requires_grad
    t.requires_grad = True
    (t * 3).sum().backward()
    assert t.grad.tolist() == [3.0, 3.0]
    t.grad = autograd.zeros(2)  # same shape, dtype and device: accepted
    del t.grad
    assert t.grad is None


def test_pow_of_minus_infinity_is_c99s_as_in_torch():
    """numpy gives nan for (-inf) ** 0.5; C's pow (PyTorch) gives inf (found by the fuzz)."""
    torch = pytest.importorskip("torch")
    a = np.full(8, -np.inf)
    b = np.array([0.5, 3, -3, -0.5, 0, np.nan, 2, -2])
    ours = autograd.tensor(a).pow(autograd.tensor(b))
    np.testing.assert_array_equal(ours.data, torch.tensor(a).pow(torch.tensor(b)).numpy())
    np.testing.assert_array_equal(np.signbit(ours.data[:4]), [False, True, True, False])
