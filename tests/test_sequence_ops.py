"""The ops sequence models need: ``tril``, ``triu``, ``masked_fill``, ``cumsum``,
``index_select``, ``scatter_add``, ``topk``, ``multinomial`` and ``unbind``.

Their float64 gradcheck over hypothesis-drawn shapes, torch parity (values,
dtypes, gradients) and second derivatives live in the op registry
(``tests/op_registry.py``), read by ``test_ops_gradcheck.py``,
``test_ops_torch.py`` and ``test_higher_order.py`` on every test device. Here:
what a registry sample leaves out (an infinite fill value, a ``src`` larger than
the index, ``topk``'s indices, slices of an ``unbind`` left unused), fixed values
and dtypes, torch's errors, and ``multinomial`` (not differentiable: reproducible
under ``manual_seed``, its frequencies, torch's errors).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, arrays, dim, distinct_arrays, shapes

import autograd as ag

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-12}


def leaf(array) -> ag.Tensor:
    return ag.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def as_lib(m, a, grad):
    """``a`` as a tensor of library ``m`` (floats require grad when ``grad``)."""
    a = np.asarray(a)
    if m is ag:
        return ag.tensor(a, requires_grad=grad and a.dtype.kind == "f")
    return torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")


def check_all(fn, *arrays_, torch_grads=True):
    """``fn(m, *tensors)`` on both libraries: values and dtypes, the gradients of
    y = Σ (seed ⊙ out)² and the gradient of Σ v ⊙ dy/dx (a Hessian-vector product
    through each backward rule); plus gradcheck of ``fn`` and of its gradient.
    ``torch_grads=False`` compares only values with torch, where torch's own
    backward fails."""
    rng = np.random.default_rng(0)
    results = {}
    for m in (ag, torch):
        xs = [as_lib(m, a, m is ag or torch_grads) for a in arrays_]
        out = fn(m, *xs)
        seed = rng.standard_normal(tuple(out.shape))
        rng = np.random.default_rng(0)  # the same seeds for both libraries
        floats = [x for x in xs if x.requires_grad]
        if not floats or not out.requires_grad:
            results[m] = (out, None, None)
            continue
        y = ((out * m.tensor(seed)) ** 2).sum()
        grad = ag.grad if m is ag else torch.autograd.grad
        gs = grad(y, floats, create_graph=True, allow_unused=True)
        vs = [m.tensor(np.random.default_rng(i + 1).standard_normal(tuple(x.shape)))
              for i, x in enumerate(floats)]
        total = sum((g * v).sum() for g, v in zip(gs, vs) if g is not None)
        hs = grad(total, floats, allow_unused=True)
        results[m] = (out, gs, hs)
    ours, theirs = results[ag], results[torch]
    if not torch_grads:
        theirs = (theirs[0], ours[1], ours[2])
    assert tuple(ours[0].shape) == tuple(theirs[0].shape)
    assert ours[0].dtype.name == str(theirs[0].dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours[0].data, theirs[0].detach().numpy(), **TOL)
    for key in (1, 2):
        if ours[key] is None:
            assert theirs[key] is None
            continue
        for a, t in zip(ours[key], theirs[key]):
            if t is None:
                assert a is None or not a.data.any()
            else:
                np.testing.assert_allclose(a.data, t.detach().numpy(), **TOL)
    floats = [i for i, a in enumerate(arrays_) if np.asarray(a).dtype.kind == "f"]
    if floats and ours[1] is not None:
        def fixed(*ts):
            full = [as_lib(ag, a, False) for a in arrays_]
            for i, t in zip(floats, ts):
                full[i] = t
            return fn(ag, *full)

        inputs = [leaf(arrays_[i]) for i in floats]
        assert ag.gradcheck(fixed, inputs)

        def gradient(*ts):  # the backward rule, differentiated again
            y = (fixed(*ts) ** 2).sum()
            return ag.grad(y, ts, create_graph=True, allow_unused=True)

        assert ag.gradcheck(gradient, [leaf(arrays_[i]) for i in floats])


# --------------------------------------------------------------------------- tril / triu


def test_tril_triu_values_and_errors():
    x = ag.ones(3, 3)
    assert x.tril().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert x.triu(1).tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert ag.ones(2, 4, dtype=ag.bool).tril(-1).dtype == ag.bool
    for op in ("tril", "triu"):
        with pytest.raises(RuntimeError, match=f"{op}: input tensor must have at least 2"):
            getattr(ag.ones(3), op)()
        with pytest.raises(RuntimeError):
            getattr(torch.ones(3), op)()


# --------------------------------------------------------------------------- masked_fill


@FAST
@given(data=st.data(), shape=shapes(min_dims=0, max_dims=4))
def test_masked_fill_with_minus_inf(data, shape):
    """Values only (an infinite output has no finite gradient); attention masks fill
    with -inf. Finite fills are in the op registry."""
    x = data.draw(arrays(shape))
    rank = data.draw(st.integers(0, len(shape)))
    mask_shape = tuple(1 if data.draw(st.booleans()) else n for n in shape[len(shape) - rank:])
    mask = data.draw(arrays(mask_shape)) > 0
    ours = ag.tensor(x).masked_fill(ag.tensor(mask), float("-inf"))
    theirs = torch.tensor(x).masked_fill(torch.tensor(mask), float("-inf"))
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_masked_fill_tensor_value_gets_a_gradient():
    x = np.arange(6.0).reshape(2, 3)
    mask = np.array([True, False, True])
    check_all(lambda m, t, v, c: t.masked_fill(c, v * 2), x, np.array(0.5), mask)


def test_masked_fill_mask_larger_than_input_broadcasts():
    x = np.arange(3.0)
    mask = np.array([[True, False, False], [False, False, True]])
    check_all(lambda m, t, c: t.masked_fill(c, 7.0), x, mask)


def test_masked_fill_errors_match_torch():
    x = np.zeros((3, 4))
    cases = [
        (lambda m: m.tensor(x).masked_fill(m.tensor(np.ones((3, 4))), 0.0), RuntimeError,
         "only supports boolean masks"),
        (lambda m: m.tensor(x).masked_fill(m.tensor(np.ones((2, 4), bool)), 0.0), RuntimeError,
         "masked_fill"),
        (lambda m: m.tensor(x).masked_fill(m.tensor(np.ones(4, bool)), m.tensor([1.0, 2.0])),
         RuntimeError, "0-dimensional value"),
    ]
    for fn, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            fn(ag)
        with pytest.raises(error):
            fn(torch)


# --------------------------------------------------------------------------- cumsum


@pytest.mark.parametrize("case", [
    lambda m: m.tensor([1, 2, 3]).cumsum(0),
    lambda m: m.tensor([True, False, True]).cumsum(0),
    lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(-1),
    lambda m: m.tensor([1.0, 2.0]).cumsum(0, dtype=m.float64),
    lambda m: m.tensor([1, 2]).cumsum(0, dtype=m.float32),
    lambda m: m.tensor(2.5).cumsum(0),
])
def test_cumsum_values_and_dtypes(case):
    ours, theirs = case(ag), case(torch)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.data, theirs.numpy())


def test_cumsum_errors():
    with pytest.raises(IndexError, match="cumsum"):
        ag.ones(3, 4).cumsum(2)
    with pytest.raises(IndexError):
        torch.ones(3, 4).cumsum(2)
    with pytest.raises(TypeError):
        ag.ones(3).cumsum()


# --------------------------------------------------------------------------- index_select


def test_index_select_repeats_accumulate_and_scalar_index():
    x = leaf(np.arange(6.0).reshape(3, 2))
    x.index_select(0, ag.tensor([2, 2, 0])).sum().backward()
    assert x.grad.tolist() == [[1, 1], [0, 0], [2, 2]]
    check_all(lambda m, t, i: t.index_select(1, i), np.ones((2, 3)), np.array(1))
    check_all(lambda m, t, i: t.index_select(0, i), np.array(2.0), np.array([0]))


def test_index_select_errors_match_torch():
    x = np.zeros((3, 4))
    cases = [
        (lambda m: m.tensor(x).index_select(0, m.tensor([0.0, 1.0])), RuntimeError, "int"),
        (lambda m: m.tensor(x).index_select(0, m.tensor([[0, 1]])), IndexError, "vector"),
        (lambda m: m.tensor(x).index_select(0, m.tensor([3])), IndexError, "out of bounds"),
        (lambda m: m.tensor(x).index_select(0, m.tensor([-1])), IndexError, "out of bounds"),
        (lambda m: m.tensor(x).index_select(2, m.tensor([0])), IndexError, "Dimension out"),
    ]
    for fn, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            fn(ag)
        with pytest.raises(error):
            fn(torch)


# --------------------------------------------------------------------------- scatter_add


@FAST
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3))
def test_scatter_add_with_src_larger_than_the_index(data, shape):
    """Only the index's part of src is read. torch's backward fails here ("returned an
    invalid gradient"), so the op registry keeps src to the index's shape: here
    values are compared with torch and our gradients gradchecked (and differentiated
    again)."""
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape))) % len(shape)
    index_shape = tuple(data.draw(st.integers(1, 5)) if i == d else data.draw(st.integers(1, n))
                        for i, n in enumerate(shape))
    grow = data.draw(st.integers(0, len(shape) - 1))
    src_shape = tuple(m + (i == grow) for i, m in enumerate(index_shape))
    values = data.draw(st.lists(st.integers(0, shape[d] - 1), min_size=int(np.prod(index_shape)),
                                max_size=int(np.prod(index_shape))))
    index = np.array(values, dtype=np.int64).reshape(index_shape)
    src = data.draw(arrays(src_shape))
    check_all(lambda m, t, i, s: t.scatter_add(d, i, s), x, index, src, torch_grads=False)
    check_all(lambda m, t, i, s: m.scatter_add(t, d - len(shape), i, s), x, index, src,
              torch_grads=False)


def test_scatter_add_values():
    x = ag.zeros(3, 2)
    out = x.scatter_add(0, ag.tensor([[0, 1], [0, 0], [2, 0]]), ag.ones(3, 2))
    assert out.tolist() == [[2, 2], [0, 1], [1, 0]]


def test_scatter_add_errors_match_torch():
    x = np.zeros((3, 4))
    src = np.ones((2, 2))
    cases = [
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([[0, 5]]), m.tensor(src)), RuntimeError,
         "out of bounds"),
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([[0, -1]]), m.tensor(src)), RuntimeError,
         "out of bounds"),
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([[0.0, 1.0]]), m.tensor(src)),
         RuntimeError, "int"),
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([[0, 1, 1, 1, 1]]),
                                           m.tensor(np.ones((2, 5)))), RuntimeError,
         "no larger than"),
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([[0, 1]]), m.tensor(np.ones((1, 1)))),
         RuntimeError, "no larger than"),
        (lambda m: m.tensor(x).scatter_add(0, m.tensor([0, 1]), m.tensor(src)), RuntimeError,
         "number of dimensions"),
    ]
    for fn, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            fn(ag)
        with pytest.raises(error):
            fn(torch)


def test_gather_rejects_out_of_range_indices_like_torch():
    """numpy would wrap -1 to the last element: a silently wrong answer."""
    for index in ([-1], [4]):
        with pytest.raises(RuntimeError, match=r"gather.*out of bounds"):
            ag.arange(4.0).gather(0, ag.tensor(index))
        with pytest.raises(RuntimeError):
            torch.arange(4.0).gather(0, torch.tensor(index))


# --------------------------------------------------------------------------- topk


@FAST
@given(data=st.data(), shape=shapes(min_dims=1), largest=st.booleans())
def test_topk_indices(data, shape, largest):
    """The indices and the function form (values and gradients: the op registry)."""
    x = data.draw(distinct_arrays(shape, spacing=0.05))
    d = data.draw(dim(len(shape)))
    k = data.draw(st.integers(0, shape[d]))
    ours = ag.tensor(x).topk(k, dim=d, largest=largest)
    theirs = torch.tensor(x).topk(k, dim=d, largest=largest)
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    assert ours.indices.dtype == ag.int64
    values, _ = ag.topk(ag.tensor(x), k, d, largest)
    np.testing.assert_array_equal(values.data, theirs.values.numpy())


def test_topk_unsorted_holds_the_same_elements():
    x = np.array([[3.0, 1.0, 4.0, 1.5, 9.0, 2.6]])
    ours = ag.tensor(x).topk(3, sorted=False)
    theirs = torch.tensor(x).topk(3, sorted=False)
    assert sorted(ours.values.data[0]) == sorted(theirs.values.numpy()[0])
    assert sorted(ours.indices.data[0]) == sorted(theirs.indices.numpy()[0])


def test_topk_integer_and_errors():
    assert ag.tensor([3, 1, 2]).topk(2).values.tolist() == [3, 2]
    assert ag.tensor([3, 1, 2]).topk(2, largest=False).indices.tolist() == [1, 2]
    for k in (4, -1):
        with pytest.raises(RuntimeError, match="topk: selected index k out of range"):
            ag.ones(3).topk(k)
        with pytest.raises(RuntimeError):
            torch.ones(3).topk(k)


# --------------------------------------------------------------------------- multinomial


def test_multinomial_is_reproducible_under_manual_seed():
    p = ag.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    ag.manual_seed(5)
    first = [p.multinomial(4, replacement=True).tolist(), ag.multinomial(p, 2).tolist()]
    ag.manual_seed(5)
    second = [p.multinomial(4, replacement=True).tolist(), ag.multinomial(p, 2).tolist()]
    assert first == second
    again = p.multinomial(4, replacement=True).tolist()
    assert isinstance(again, list)


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies(replacement):
    """The first draw of each row follows the normalised weights: with 20,000 rows the
    frequency of each category is within 4 standard errors of its probability."""
    weights = np.array([1.0, 0.0, 3.0, 6.0])
    p = weights / weights.sum()
    ag.manual_seed(0)
    rows = 20_000
    draws = ag.tensor(np.tile(weights, (rows, 1))).multinomial(2, replacement=replacement)
    assert draws.shape == (rows, 2) and draws.dtype == ag.int64
    first = np.bincount(draws.data[:, 0], minlength=4) / rows
    assert np.all(np.abs(first - p) <= 4 * np.sqrt(p * (1 - p) / rows) + 1e-12)
    assert not (draws.data == 1).any()  # a zero weight is never drawn
    if not replacement:
        assert np.all(draws.data[:, 0] != draws.data[:, 1])
        # second draw given first = 0: probabilities 3/9 and 6/9 for categories 2 and 3
        after0 = draws.data[draws.data[:, 0] == 0, 1]
        frac = np.mean(after0 == 3)
        assert abs(frac - 6 / 9) < 4 * np.sqrt((6 / 9) * (3 / 9) / len(after0))


def test_multinomial_without_replacement_exhausts_every_category():
    ag.manual_seed(1)
    draws = ag.tensor([0.2, 0.3, 0.5]).multinomial(3)
    assert sorted(draws.tolist()) == [0, 1, 2]
    zero_last = ag.tensor([0.0, 0.8, 0.0, 0.2]).multinomial(4).tolist()
    assert sorted(zero_last[:2]) == [1, 3]


@pytest.mark.parametrize(("fn", "error"), [
    (lambda m: m.tensor([0.2, 0.8]).multinomial(3), RuntimeError),
    (lambda m: m.tensor([0.2, -0.8]).multinomial(1), RuntimeError),
    (lambda m: m.tensor([0.0, 0.0]).multinomial(1), RuntimeError),
    (lambda m: m.tensor([0.0, float("inf")]).multinomial(1), RuntimeError),
    (lambda m: m.tensor([0.0, float("nan")]).multinomial(1), RuntimeError),
    (lambda m: m.tensor([0.2, 0.8]).multinomial(0), RuntimeError),
    (lambda m: m.tensor([[[0.2, 0.8]]]).multinomial(1), RuntimeError),
    (lambda m: m.tensor([1, 2]).multinomial(1), RuntimeError),
])
def test_multinomial_errors_match_torch(fn, error):
    with pytest.raises(error, match="multinomial"):
        fn(ag)
    with pytest.raises(error):
        fn(torch)


# --------------------------------------------------------------------------- unbind, split, stack
# Multi-output ops: a recurrent layer reads its input one step at a time through
# unbind (one node, not one slice per step whose backward fills a full-size array)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_unbind_stack_split(data, shape):
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape)))
    keep = data.draw(st.lists(st.booleans(), min_size=shape[d], max_size=shape[d]))
    if not any(keep):
        keep[0] = True

    def some_slices(m, t):  # slices left out get no gradient: zeros in backward
        parts = t.unbind(d)
        return m.stack([p * (i + 1) for i, p in enumerate(parts) if keep[i]], d)

    check_all(some_slices, x)
    check_all(lambda m, t: m.stack(m.unbind(t, d), 0), x)
    check_all(lambda m, t: m.cat([p.exp() for p in t.split(2, d)[::2]], d), x)


def test_multi_output_nodes():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    a, b = x.unbind(0)
    assert a.grad_fn is b.grad_fn and a.grad_fn.name() == "UnbindBackward0"
    seen = []
    b.register_hook(lambda g: seen.append(g.tolist()))
    b.retain_grad()
    (a.sum() + (b * 2).sum()).backward()
    assert seen == [[2.0, 2.0, 2.0]] and b.grad.tolist() == [2.0, 2.0, 2.0]
    assert x.grad.tolist() == [[1, 1, 1], [2, 2, 2]]
    assert ag.stack([a, b]).grad_fn.name() == "StackBackward0"
    assert x.split(1, 1)[0].grad_fn.name() == "SplitBackward0"
    # the node does not keep its outputs alive (no reference cycle through it)
    import gc
    import weakref

    y = ag.tensor(np.ones((3, 2)), requires_grad=True)
    parts = y.unbind(0)
    node, ref = parts[0].grad_fn, weakref.ref(parts[1])
    del parts
    gc.collect()
    assert ref() is None and node.n_outputs == 3
    with pytest.raises(IndexError):
        ag.tensor(1.0).unbind()
    with pytest.raises(RuntimeError, match="split"):
        ag.ones(4).split([5, -1])
