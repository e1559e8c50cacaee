"""Sequence layers against PyTorch in float64, weights copied through
``load_state_dict(torch_module.state_dict())`` unchanged: outputs, final states,
input gradients and every parameter gradient (1e-10 relative), for every layer
and option; gradcheck and second derivatives (against torch's double backward) of
every layer; causality; flat memory over truncated BPTT."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-12}


def flat(result) -> list:
    """Every tensor in a (nested) tuple of results, in order (None skipped)."""
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flat(r)]
    return [] if result is None else [result]


def compare(ours, theirs, call, arrays, seed=0, grads=True):
    """``call(module, lib, *tensors)`` on both modules (weights loaded from torch's
    state_dict), then the gradients of Σ w ⊙ outputs for the float inputs and every
    parameter; returns our outputs."""
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ins_a = [ag.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
    ins_t = [torch.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
    out_a, out_t = flat(call(ours, ag, *ins_a)), flat(call(theirs, torch, *ins_t))
    assert len(out_a) == len(out_t)
    rng = np.random.default_rng(seed)
    loss_a = loss_t = 0
    for a, t in zip(out_a, out_t):
        assert tuple(a.shape) == tuple(t.shape), (a.shape, t.shape)
        np.testing.assert_allclose(a.data, t.detach().numpy(), **TOL)
        w = rng.standard_normal(tuple(a.shape))
        loss_a = loss_a + (a * ag.tensor(w)).sum()
        loss_t = loss_t + (t * torch.tensor(w)).sum()
    if not grads:
        return out_a
    loss_a.backward()
    loss_t.backward()
    for a, t in zip(ins_a, ins_t):
        if t.grad is not None:
            np.testing.assert_allclose(a.grad.data, t.grad.numpy(), **TOL)
        elif t.requires_grad:  # an input the call did not use
            assert a.grad is None
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        g_t = params_t[name].grad
        if g_t is None:
            assert p.grad is None or not p.grad.data.any(), name
        else:
            np.testing.assert_allclose(p.grad.data, g_t.numpy(), err_msg=name, **TOL)
    return out_a


rng = np.random.default_rng(0)


# --------------------------------------------------------------------------- RNN, LSTM, GRU

MODES = ["RNN", "RNN_relu", "LSTM", "GRU"]


def make_rnn(lib, mode, *args, **kwargs):
    if mode == "RNN_relu":
        mode, kwargs = "RNN", {**kwargs, "nonlinearity": "relu"}
    cls = getattr(lib if lib is nn else lib.nn, mode)
    return cls(*args, **kwargs).double()


OPTIONS = list(itertools.product([1, 2], [False, True], [False, True], [True, False]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("num_layers", "bidirectional", "batch_first", "bias"), OPTIONS)
@pytest.mark.parametrize("state", ["none", "given"])
def test_recurrent_layers_match_torch(mode, num_layers, bidirectional, batch_first, bias, state):
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
              bias=bias)
    theirs, ours = make_rnn(torch, mode, 3, 4, **kw), make_rnn(nn, mode, 3, 4, **kw)
    length, batch = 5, 2
    x = rng.standard_normal((batch, length, 3) if batch_first else (length, batch, 3))
    d = 2 if bidirectional else 1
    if state == "none":
        compare(ours, theirs, lambda m, lib, t: m(t), [x])
        return
    h0 = rng.standard_normal((num_layers * d, batch, 4))
    if mode == "LSTM":
        c0 = rng.standard_normal((num_layers * d, batch, 4))
        compare(ours, theirs, lambda m, lib, t, h, c: m(t, (h, c)), [x, h0, c0])
    else:
        compare(ours, theirs, lambda m, lib, t, h: m(t, h), [x, h0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers_unbatched(mode, bidirectional):
    kw = dict(num_layers=2, bidirectional=bidirectional)
    theirs, ours = make_rnn(torch, mode, 3, 4, **kw), make_rnn(nn, mode, 3, 4, **kw)
    x = rng.standard_normal((6, 3))
    compare(ours, theirs, lambda m, lib, t: m(t), [x])
    h0 = rng.standard_normal((2 * (2 if bidirectional else 1), 4))
    if mode == "LSTM":
        compare(ours, theirs, lambda m, lib, t, h, c: m(t, (h, c)), [x, h0, h0 * 0.5])
    else:
        compare(ours, theirs, lambda m, lib, t, h: m(t, h), [x, h0])


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_layers(mode):
    """dropout=1 zeroes the input of every layer after the first in both libraries
    (deterministic, so comparable); eval mode turns dropout off; masks are drawn
    from the shared generator, so manual_seed repeats them."""
    kw = dict(num_layers=3, dropout=1.0)
    theirs, ours = make_rnn(torch, mode, 3, 4, **kw), make_rnn(nn, mode, 3, 4, **kw)
    x = rng.standard_normal((5, 2, 3))
    compare(ours, theirs, lambda m, lib, t: m(t), [x])
    compare(ours.eval(), theirs.eval(), lambda m, lib, t: m(t), [x])
    half = make_rnn(nn, mode, 3, 4, num_layers=2, dropout=0.5)
    xs = ag.tensor(x)
    ag.manual_seed(3)
    first = half(xs)[0].data
    ag.manual_seed(3)
    assert np.array_equal(half(xs)[0].data, first)
    assert not np.array_equal(half(xs)[0].data, first)  # a new mask
    assert np.array_equal(half.eval()(xs)[0].data, half(xs)[0].data)


@pytest.mark.parametrize("mode", ["RNNCell", "RNNCell_relu", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("state", [False, True])
def test_cells_match_torch(mode, bias, batched, state):
    kw = {"bias": bias}
    if mode == "RNNCell_relu":
        mode, kw = "RNNCell", {**kw, "nonlinearity": "relu"}
    theirs = getattr(torch.nn, mode)(3, 4, **kw).double()
    ours = getattr(nn, mode)(3, 4, **kw).double()
    shape = (2,) if batched else ()
    x = rng.standard_normal((*shape, 3))
    if not state:
        compare(ours, theirs, lambda m, lib, t: m(t), [x])
    elif mode == "LSTMCell":
        h, c = rng.standard_normal((2, *shape, 4))
        compare(ours, theirs, lambda m, lib, t, h, c: m(t, (h, c)), [x, h, c])
    else:
        compare(ours, theirs, lambda m, lib, t, h: m(t, h), [x, rng.standard_normal((*shape, 4))])


def second_derivative(lib, module, x, state, weight):
    """d/dx Σ (d Σ w ⊙ out / dx)²: every rule of the step differentiated again."""
    t = lib.tensor(x, requires_grad=True)
    s = tuple(lib.tensor(a) for a in state)
    out = module(t, s if len(s) == 2 else s[0])
    out = out[0] if isinstance(out, tuple) else out
    grad = ag.grad if lib is ag else torch.autograd.grad
    (g,) = grad((out * lib.tensor(weight)).sum(), [t], create_graph=True)
    (h,) = grad((g * g).sum(), [t])
    return h.detach().numpy() if lib is torch else h.data


@pytest.mark.parametrize("mode", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_gradcheck_and_second_derivatives(mode):
    theirs = getattr(torch.nn, mode)(3, 4).double()
    ours = getattr(nn, mode)(3, 4).double()
    ours.load_state_dict(theirs.state_dict())
    x = rng.standard_normal((2, 3))
    state = rng.standard_normal((2 if mode == "LSTMCell" else 1, 2, 4))
    xt = ag.tensor(x, requires_grad=True)
    st = [ag.tensor(a, requires_grad=True) for a in state]
    if mode == "LSTMCell":
        assert ag.gradcheck(lambda t, h, c, w: ours(t, (h, c))[0], [xt, *st, ours.weight_hh])
        assert ag.gradcheck(lambda t, h, c, w: ours(t, (h, c))[1], [xt, *st, ours.weight_ih])
    else:
        assert ag.gradcheck(lambda t, h, w: ours(t, h), [xt, *st, ours.weight_hh])
    w = rng.standard_normal((2, 4))
    h = second_derivative(ag, ours, x, state, w)
    assert np.abs(h).max() > 1e-3  # a curvature to compare, not zeros
    np.testing.assert_allclose(h, second_derivative(torch, theirs, x, state, w), **TOL)


def test_cell_steps_equal_the_layer():
    """Unrolling LSTMCell by hand with the layer's weights gives the layer's output."""
    layer = nn.LSTM(3, 4).double()
    cell = nn.LSTMCell(3, 4).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = ag.tensor(rng.standard_normal((5, 2, 3)))
    out, (h_n, c_n) = layer(x)
    h = c = ag.zeros(2, 4, dtype=ag.float64)
    for t in range(5):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(out[t].data, h.data, **TOL)
    np.testing.assert_allclose(h_n[0].data, h.data, **TOL)
    np.testing.assert_allclose(c_n[0].data, c.data, **TOL)


def test_fused_lstm_step_equals_its_composition():
    """The one-node LSTM step (autograd/ops/recurrent.py) against the same step from
    elementary ops: values, gradients of every input, second derivatives (its rule
    differentiated again), and gradcheck of the node and of its gradient."""
    from nn.layers.recurrent import lstm_step, lstm_step_composed

    def inputs():
        gen = np.random.default_rng(7)
        return [ag.tensor(gen.standard_normal(s) * 2, requires_grad=True)
                for s in ((3, 8), (3, 2), (3, 2), (8, 2), (8,))]

    results = []
    for step in (lstm_step, lstm_step_composed):
        xp, h, c, w, b = inputs()
        h2, c2 = step(xp, h, c, w, b)
        loss = (h2 * ag.tensor(np.arange(6.0).reshape(3, 2))).sum() + (c2 * c2).sum()
        grads = ag.grad(loss, [xp, h, c, w, b], create_graph=True)
        second = ag.grad(sum((g * g).sum() for g in grads), [xp, h, c, w, b])
        results.append([t.data for t in (h2, c2, *grads, *second)])
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, **TOL)
    xp, h, c, w, b = inputs()
    assert ag.gradcheck(lambda *t: lstm_step(*t), [xp, h, c, w, b])
    assert ag.gradcheck(lambda x, cc: ag.grad((lstm_step(x, h, cc, w, b)[0] ** 2).sum()
                                              + lstm_step(x, h, cc, w, b)[1].sum(),
                                              [x, cc], create_graph=True), [xp, c])
    only_c = lstm_step(xp, h, c, w, b)[1].sum()  # h' unused: its gradient is None
    only_c.backward()
    assert xp.grad is not None and c.grad is not None


@pytest.mark.parametrize("mode", MODES)
def test_recurrent_gradcheck(mode):
    ag.manual_seed(0)
    layer = make_rnn(nn, mode, 2, 3, num_layers=2, bidirectional=True)
    x = ag.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = ag.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = layer.weight_hh_l1_reverse
    if mode == "LSTM":
        c0 = ag.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
        assert ag.gradcheck(lambda t, h, c, w: layer(t, (h, c))[0], [x, h0, c0, w])
        assert ag.gradcheck(lambda t, h, c, w: layer(t, (h, c))[1][1], [x, h0, c0, w])
    else:
        assert ag.gradcheck(lambda t, h, w: layer(t, h), [x, h0, w])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_recurrent_second_derivatives_match_torch(mode):
    """The gradient of Σ (d loss / d x)²: every step's rule differentiated again."""
    theirs, ours = make_rnn(torch, mode, 3, 4), make_rnn(nn, mode, 3, 4)
    ours.load_state_dict(theirs.state_dict())
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((4, 2, 4))
    results = []
    for lib, m in ((ag, ours), (torch, theirs)):
        t = lib.tensor(x, requires_grad=True)
        out = m(t)[0]
        grad = ag.grad if lib is ag else torch.autograd.grad
        (g,) = grad((out * lib.tensor(w)).sum(), [t], create_graph=True)
        (h,) = grad((g * g).sum(), [t])
        results.append(h.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_recurrent_parameters_and_init(mode):
    """PyTorch's names, shapes and order; every value in U(-1/√H, 1/√H)."""
    kw = dict(num_layers=2, bidirectional=True)
    theirs, ours = make_rnn(torch, mode, 5, 6, **kw), make_rnn(nn, mode, 5, 6, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    bound = 1 / math.sqrt(6)
    values = np.concatenate([p.data.ravel() for p in ours.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.std() > bound / 2  # spread over the range, not constant
    assert repr(ours) == repr(theirs)
    assert len(ours.all_weights) == 4 and len(ours.all_weights[0]) == 4
    assert repr(nn.LSTMCell(2, 3, bias=False)) == repr(torch.nn.LSTMCell(2, 3, bias=False))


def test_recurrent_errors_match_torch():
    def zeros(*shape):
        return np.zeros(shape, np.float32)

    cases = [
        (lambda lib: lib.nn.LSTM(3, 4)(lib.tensor(zeros(5, 2, 2))), RuntimeError,
         "input_size"),
        (lambda lib: lib.nn.GRU(3, 4)(lib.tensor(zeros(5, 2, 2, 3))), ValueError, "2D or 3D"),
        (lambda lib: lib.nn.RNN(3, 4)(lib.tensor(zeros(5, 2, 3)),
                                       lib.tensor(zeros(1, 3, 4))), RuntimeError,
         "hidden size"),
        (lambda lib: lib.nn.LSTM(3, 4)(lib.tensor(zeros(5, 2, 3)),
                                        (lib.tensor(zeros(1, 2, 4)),
                                         lib.tensor(zeros(2, 2, 4)))), RuntimeError,
         "size"),
        (lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity"),
        (lambda lib: lib.nn.LSTM(3, 0), ValueError, "hidden_size"),
        (lambda lib: lib.nn.GRU(3, 4, dropout=1.5), ValueError, "dropout"),
        (lambda lib: lib.nn.LSTMCell(3, 4)(lib.tensor(zeros(2, 5))), RuntimeError,
         "input_size"),
    ]
    for fn, error, fragment in cases:
        with pytest.raises(error, match=fragment):
            fn(_Lib)
        with pytest.raises(error):
            fn(torch)
    with pytest.warns(UserWarning, match="dropout"):
        nn.LSTM(3, 4, dropout=0.2)


class _Lib:
    """chaingrad seen as torch: ``_Lib.nn.LSTM``, ``_Lib.tensor``."""

    nn = nn
    tensor = staticmethod(ag.tensor)


def test_recurrent_dtype_mismatch():
    for lib in (_Lib, torch):
        with pytest.raises(ValueError, match="dtype"):
            lib.nn.GRU(3, 4)(lib.tensor(np.zeros((5, 2, 3))))


def test_truncated_bptt_memory_stays_flat():
    """1,000 chunks of truncated backpropagation through time, the state carried
    with detach(): every chunk's graph is freed (by reference counting: no cycles
    for the collector), nothing accumulates.

    gc.collect() before each reading empties CPython's free lists of small tuples,
    which fill up to 2,000 entries per size and would read as a bounded "growth"."""
    import gc

    import optim

    ag.manual_seed(0)
    lstm = nn.LSTM(4, 8)
    head = nn.Linear(8, 4)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = optim.SGD(params, lr=0.01)
    x, y = ag.randn(6, 2, 4), ag.randn(6, 2, 4)
    state = None

    def chunk(state):
        out, state = lstm(x, state)
        loss = F.mse_loss(head(out), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return tuple(s.detach() for s in state)

    for _ in range(20):
        state = chunk(state)
    gc.collect()
    gc.disable()
    try:
        for _ in range(10):
            state = chunk(state)
        assert gc.collect() == 0  # nothing was left for the cycle collector
    finally:
        gc.enable()
    def measure() -> tracemalloc.Snapshot:
        gc.collect()
        return tracemalloc.take_snapshot()

    tracemalloc.start()
    try:
        for _ in range(500):
            state = chunk(state)
        after_500 = measure()
        for _ in range(500):
            state = chunk(state)
        after_1000 = measure()
    finally:
        tracemalloc.stop()
    assert state[0].grad_fn is None
    growth = after_1000.compare_to(after_500, "lineno")
    # a leak of one small array per chunk would add > 50 KB over 500 chunks
    assert sum(stat.size_diff for stat in growth) < 8 * 1024, [str(s) for s in growth[:5]]


# --------------------------------------------------------------------------- attention


def sdpa(lib):
    return (F if lib is ag else torch.nn.functional).scaled_dot_product_attention


SDPA_CASES = {
    "plain": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7), {}),
    "causal": ((2, 5, 4), (2, 5, 4), (2, 5, 3), {"is_causal": True}),
    "causal_rectangular": ((2, 4, 4), (2, 6, 4), (2, 6, 3), {"is_causal": True}),
    "scale": ((3, 4), (5, 4), (5, 2), {"scale": 0.3}),
    "broadcast_batch": ((2, 1, 5, 4), (1, 3, 6, 4), (1, 3, 6, 7), {}),
}


@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch(case):
    qs, ks, vs, kw = SDPA_CASES[case]
    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    compare(nn.Identity(), torch.nn.Identity(),
            lambda m, lib, q, k, v: sdpa(lib)(q, k, v, **kw), arrays)


@pytest.mark.parametrize("kind", ["bool", "float", "float_grad"])
@pytest.mark.parametrize("mask_shape", [(5, 6), (3, 1, 6), (2, 3, 5, 6)])
def test_sdpa_masks_match_torch(kind, mask_shape):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)))
    if kind == "bool":
        mask = rng.random(mask_shape) > 0.4
        mask[..., 0] = True  # every query may see key 0: no all-masked row (NaN)
    else:
        mask = rng.standard_normal(mask_shape)
    arrays = [q, k, v, mask] if kind == "float_grad" else [q, k, v]

    def call(m, lib, q, k, v, *grad_mask):
        attn_mask = grad_mask[0] if grad_mask else lib.tensor(mask)
        return sdpa(lib)(q, k, v, attn_mask=attn_mask)

    compare(nn.Identity(), torch.nn.Identity(), call, arrays)


def test_sdpa_gradcheck_and_second_derivatives():
    q, k, v = (ag.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    mask = ag.tensor(rng.standard_normal((3, 4)))
    assert ag.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q, k, v])
    assert ag.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask), [q, k, v])
    assert ag.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True), [q, k, v])
    results = []
    for lib in (ag, torch):
        ins = [lib.tensor(t.data, requires_grad=True) for t in (q, k, v)]
        out = sdpa(lib)(*ins, is_causal=True)
        grad = ag.grad if lib is ag else torch.autograd.grad
        gs = grad((out * out).sum(), ins, create_graph=True)
        hs = grad(sum((g * g).sum() for g in gs), ins)
        results.append([h.detach().numpy() for h in hs])
    for a, t in zip(*results):
        np.testing.assert_allclose(a, t, **TOL)


def test_sdpa_dropout():
    """dropout_p drops attention weights (a fresh mask per call, repeatable under
    manual_seed, kept weights scaled by 1/(1 - p)); p = 1 drops everything."""
    q, k = ag.tensor(rng.standard_normal((50, 4))), ag.tensor(rng.standard_normal((60, 4)))
    v = ag.tensor(np.eye(60))  # the output is the weight matrix itself
    ag.manual_seed(1)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    ag.manual_seed(1)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    full = F.scaled_dot_product_attention(q, k, v).data
    assert np.array_equal(a, b)
    assert 0.4 < np.mean(a == 0) < 0.6
    np.testing.assert_allclose(a[a != 0], 2 * full[a != 0], rtol=1e-12)
    assert not F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).data.any()


def test_sdpa_errors():
    q = ag.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ag.ones(3, 3), is_causal=True)
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(
            torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(2, 3, 4),
            attn_mask=torch.ones(3, 3), is_causal=True)
    with pytest.raises(RuntimeError, match="query"):
        F.scaled_dot_product_attention(q, ag.ones(2, 3, 5), q)
    with pytest.raises(TypeError, match="mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ag.ones(3, 3, dtype=ag.int64))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_rows_like_torch(kind):
    """A query that may see no key: scaled_dot_product_attention gives output 0 and
    gradient 0 (PyTorch's safe softmax); MultiheadAttention gives NaN when it
    returns the weights and 0 when it does not (PyTorch's two code paths)."""
    mask = np.array([[True, False], [False, False]])
    if kind == "float":
        mask = np.where(mask, 0.0, -np.inf)
    q = rng.standard_normal((2, 3))
    compare(nn.Identity(), torch.nn.Identity(), lambda m, lib, t: sdpa(lib)(
        t, t * 2, t * 3, attn_mask=lib.tensor(mask)), [q])
    theirs, ours = mha_pair(batch_first=True)
    x = rng.standard_normal((1, 2, 8))
    blocked = ~mask if kind == "bool" else mask  # bool: True blocks; float: added
    compare(ours, theirs, lambda m, lib, t: m(t, t, t, attn_mask=lib.tensor(blocked),
                                               need_weights=False), [x])
    ours.load_state_dict(theirs.state_dict())
    _, weights = ours(*[ag.tensor(x)] * 3, attn_mask=ag.tensor(blocked))
    assert np.isnan(weights.data[0, 1]).all() and not np.isnan(weights.data[0, 0]).any()


# --------------------------------------------------------------------------- MultiheadAttention


def mha_pair(**kw):
    return (torch.nn.MultiheadAttention(8, 2, **kw).double(),
            nn.MultiheadAttention(8, 2, **kw).double())


def seq(batch_first, length, batch=3, features=8):
    return rng.standard_normal((batch, length, features) if batch_first
                               else (length, batch, features))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("attention", ["self", "cross", "shared_kv"])
def test_mha_matches_torch(batch_first, need_weights, average, attention):
    theirs, ours = mha_pair(batch_first=batch_first)
    x, mem = seq(batch_first, 5), seq(batch_first, 6)

    def call(m, lib, a, b, c):
        if attention == "self":
            q = k = v = a
        elif attention == "shared_kv":
            q, k = a, b
            v = k
        else:
            q, k, v = a, b, c
        return m(q, k, v, need_weights=need_weights, average_attn_weights=average)

    compare(ours, theirs, call, [x, mem, seq(batch_first, 6)])


MASKS = {
    "bool_2d": lambda: rng.random((5, 5)) > 0.6,
    "float_2d": lambda: rng.standard_normal((5, 5)),
    "bool_3d": lambda: rng.random((6, 5, 5)) > 0.6,
    "float_3d": lambda: rng.standard_normal((6, 5, 5)),
    "causal_bool": lambda: ~np.tril(np.ones((5, 5), bool)),
}


@pytest.mark.parametrize("mask", [None, *MASKS])
@pytest.mark.parametrize("padding", [None, "bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_match_torch(mask, padding, need_weights):
    theirs, ours = mha_pair(batch_first=True)
    x = seq(True, 5)
    attn_mask = MASKS[mask]() if mask else None
    if attn_mask is not None and attn_mask.dtype == bool:
        attn_mask[..., 0] = False  # key 0 always visible: no all-masked row
    pad = None
    if padding == "bool":
        pad = np.zeros((3, 5), bool)
        pad[0, 3:] = pad[2, 1:] = True
    elif padding == "float":
        pad = rng.standard_normal((3, 5))
    is_causal = mask == "causal_bool"

    def call(m, lib, t):
        return m(t, t, t, key_padding_mask=None if pad is None else lib.tensor(pad),
                 attn_mask=None if attn_mask is None else lib.tensor(attn_mask),
                 need_weights=need_weights, is_causal=is_causal)

    compare(ours, theirs, call, [x])


@pytest.mark.parametrize("options", [
    {"bias": False}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True}, {"add_zero_attn": True},
    {"add_bias_kv": True, "add_zero_attn": True},
])
def test_mha_options_match_torch(options):
    theirs, ours = mha_pair(**options)
    x = seq(False, 4)
    mem_k = seq(False, 6, features=options.get("kdim", 8))
    mem_v = seq(False, 6, features=options.get("vdim", 8))
    pad = np.zeros((3, 6), bool)
    pad[1, 4:] = True
    mask = rng.random((4, 6)) > 0.6
    mask[:, 0] = False
    compare(ours, theirs, lambda m, lib, q, k, v: m(q, k, v), [x, mem_k, mem_v])
    compare(ours, theirs, lambda m, lib, q, k, v: m(
        q, k, v, key_padding_mask=lib.tensor(pad), attn_mask=lib.tensor(mask)), [x, mem_k, mem_v])


def test_mha_unbatched_and_eval_dropout():
    theirs, ours = mha_pair(dropout=0.3)
    x = rng.standard_normal((5, 8))
    pad = np.array([False, False, True, False, True])
    compare(ours.eval(), theirs.eval(), lambda m, lib, t: m(
        t, t, t, key_padding_mask=lib.tensor(pad), average_attn_weights=False), [x])
    ours.train()
    ag.manual_seed(0)
    _, w1 = ours(ag.tensor(x), ag.tensor(x), ag.tensor(x))
    _, w_eval = ours.eval()(ag.tensor(x), ag.tensor(x), ag.tensor(x))
    assert not np.allclose(w1.data, w_eval.data)


def test_mha_parameters_init_and_gradcheck():
    ours = nn.MultiheadAttention(6, 3)
    theirs = torch.nn.MultiheadAttention(6, 3)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    bound = math.sqrt(6 / (6 + 18))  # xavier_uniform_ of a (18, 6) weight
    assert np.abs(ours.in_proj_weight.data).max() <= bound
    assert not ours.in_proj_bias.data.any() and not ours.out_proj.bias.data.any()
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    x = ag.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    mask = ~np.tril(np.ones((3, 3), bool))
    assert ag.gradcheck(lambda t, w: mha(t, t, t, attn_mask=mask)[0],
                        [x, mha.in_proj_weight])
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(6, 4)


# --------------------------------------------------------------------------- Transformer


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "causal", "causal_float_and_padding", "is_causal"])
def test_encoder_layer_matches_torch(activation, norm_first, batch_first, masks):
    kw = dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first,
              batch_first=batch_first)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **kw).double()
    ours = nn.TransformerEncoderLayer(8, 2, **kw).double()
    x = seq(batch_first, 5)
    causal = ~np.tril(np.ones((5, 5), bool))
    pad = np.zeros((3, 5), bool)
    pad[1, 3:] = True

    def call(m, lib, t):
        if masks == "none":
            return m(t)
        if masks == "causal":
            return m(t, src_mask=lib.tensor(causal))
        if masks == "is_causal":
            return m(t, src_mask=lib.tensor(causal), is_causal=True)
        float_mask = lib.tensor(np.where(causal, -np.inf, 0.0))
        float_pad = lib.tensor(np.where(pad, -np.inf, 0.0))
        return m(t, src_mask=float_mask, src_key_padding_mask=float_pad)

    compare(ours, theirs, call, [x])


@pytest.mark.parametrize("final_norm", [False, True])
def test_encoder_matches_torch(final_norm):
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    theirs = torch.nn.TransformerEncoder(
        layer_t, 3, norm=torch.nn.LayerNorm(8) if final_norm else None,
        enable_nested_tensor=False).double()
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    ours = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8) if final_norm else None).double()
    x = seq(True, 6)
    mask = np.where(np.tril(np.ones((6, 6), bool)), 0.0, -np.inf)
    compare(ours, theirs, lambda m, lib, t: m(t, mask=lib.tensor(mask)), [x])
    compare(ours, theirs, lambda m, lib, t: m(t), [x])
    assert ours.layers[0] is not ours.layers[1]  # copies, not one shared layer
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight


def test_encoder_gradcheck():
    ag.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True,
                                       activation="gelu").double()
    enc = nn.TransformerEncoder(layer, 2).double()
    x = ag.tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    assert ag.gradcheck(lambda t, w: enc(t, is_causal=True), [x, enc.layers[1].linear1.weight])


def _attention_second_derivatives(ours, theirs, call, x, seed=1):
    """d/dx Σ (d Σ w ⊙ out / dx)² of both modules (weights from torch's). Torch runs
    its math attention kernel: its fused CPU kernel has no double backward."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    ours.load_state_dict(theirs.state_dict())
    w = np.random.default_rng(seed).standard_normal(tuple(call(ours, ag, ag.tensor(x)).shape))
    results = []
    for lib, m in ((ag, ours), (torch, theirs)):
        t = lib.tensor(x, requires_grad=True)
        grad = ag.grad if lib is ag else torch.autograd.grad
        with sdpa_kernel(SDPBackend.MATH):
            (g,) = grad((call(m, lib, t) * lib.tensor(w)).sum(), [t], create_graph=True)
        (h,) = grad((g * g).sum(), [t])
        results.append(h.detach().numpy() if lib is torch else h.data)
    assert np.abs(results[0]).max() > 1e-3  # a curvature to compare, not zeros
    np.testing.assert_allclose(results[0], results[1], **TOL)


def test_mha_second_derivatives_match_torch():
    theirs, ours = mha_pair()
    mask = rng.random((4, 4)) > 0.6
    mask[:, 0] = False
    _attention_second_derivatives(ours, theirs, lambda m, lib, t: m(
        t, t, t, attn_mask=lib.tensor(mask))[0], seq(False, 4))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_second_derivatives_match_torch(activation, norm_first):
    kw = dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **kw).double()
    ours = nn.TransformerEncoderLayer(8, 2, **kw).double()
    causal = ~np.tril(np.ones((5, 5), bool))
    _attention_second_derivatives(ours, theirs, lambda m, lib, t: m(
        t, src_mask=lib.tensor(causal)), seq(False, 5))


# --------------------------------------------------------------------------- causality


def _future_gradients(fn, length: int, features: int) -> list:
    """For each step t, d(out[:, t]) / d(input[:, t+1:]): must be exactly zero."""
    x = ag.tensor(rng.standard_normal((2, length, features)), requires_grad=True)
    out = fn(x)
    leaks = []
    for t in range(length):
        # a random weighting: the plain sum of a LayerNorm's output is constant
        w = ag.tensor(rng.standard_normal(out[:, t].shape))
        (g,) = ag.grad((out[:, t] * w).sum(), [x], retain_graph=True)
        leaks.append(g.data[:, t + 1:])
        assert np.abs(g.data[:, :t + 1]).sum() > 0  # the past does reach it
    return leaks


@pytest.mark.parametrize("model", ["sdpa", "mha", "encoder_post_norm", "encoder_pre_norm"])
def test_causal_outputs_do_not_see_the_future(model):
    ag.manual_seed(0)
    if model == "sdpa":
        def fn(x):
            return F.scaled_dot_product_attention(x, x * 2, x.exp(), is_causal=True)
    elif model == "mha":
        mha = nn.MultiheadAttention(4, 2, batch_first=True).double()

        def fn(x):
            return mha(x, x, x, is_causal=True, need_weights=False)[0]
    else:
        layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                           norm_first=model.endswith("pre_norm"))
        enc = nn.TransformerEncoder(layer, 2).double()

        def fn(x):
            return enc(x, is_causal=True)
    for leak in _future_gradients(fn, 6, 4):
        assert np.array_equal(leak, np.zeros_like(leak))  # exactly zero, not just small


def test_is_causal_without_mask_equals_the_explicit_mask():
    """Ours: is_causal=True alone applies the causal mask (PyTorch asks for the mask)."""
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).double()
    x = ag.tensor(rng.standard_normal((2, 5, 4)))
    causal = ~np.tril(np.ones((5, 5), bool))
    np.testing.assert_allclose(layer(x, is_causal=True).data,
                               layer(x, src_mask=ag.tensor(causal)).data, **TOL)
