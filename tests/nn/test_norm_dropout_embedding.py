"""BatchNorm, LayerNorm, Dropout and Embedding against torch: outputs, gradients,
double backward, running statistics, state dicts, randomness and errors."""

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)


def _pair(array, requires_grad=True):
    return (autograd.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def _close(ours, theirs, atol=1e-10, rtol=1e-7):
    ours = ours.data if isinstance(ours, autograd.Tensor) else ours
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=atol, rtol=rtol)


def _backward_both(out_a, out_t, seed=0):
    g = np.random.default_rng(seed).standard_normal(out_a.shape).astype(out_a.dtype)
    out_a.backward(autograd.tensor(g))
    out_t.backward(torch.tensor(g))


# --------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (4, 3, 5, 6)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_functional_matches_torch(shape, affine, training):
    xa, xt = _pair(rng.standard_normal(shape))
    wa, wt = _pair(rng.standard_normal(3))
    ba, bt = _pair(rng.standard_normal(3))
    stats = [rng.standard_normal(3), rng.uniform(0.5, 2, 3)]
    rma, rmt = _pair(stats[0], requires_grad=False)
    rva, rvt = _pair(stats[1], requires_grad=False)
    params_a = (wa, ba) if affine else (None, None)
    params_t = (wt, bt) if affine else (None, None)
    out_a = F.batch_norm(xa, rma, rva, *params_a, training=training, momentum=0.3, eps=1e-3)
    out_t = TF.batch_norm(xt, rmt, rvt, *params_t, training=training, momentum=0.3, eps=1e-3)
    _close(out_a, out_t)
    _backward_both(out_a, out_t)
    _close(xa.grad, xt.grad)
    if affine:
        _close(wa.grad, wt.grad)
        _close(ba.grad, bt.grad)
    _close(rma, rmt)  # updated in place while training, untouched in eval
    _close(rva, rvt)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_float64(training):
    x = autograd.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = autograd.tensor(rng.standard_normal(2), requires_grad=True)
    b = autograd.tensor(rng.standard_normal(2), requires_grad=True)
    mean, var = autograd.tensor(rng.standard_normal(2)), autograd.tensor(rng.uniform(1, 2, 2))
    assert autograd.gradcheck(
        lambda x, w, b: F.batch_norm(x, None if training else mean, None if training else var,
                                     w, b, training=training), (x, w, b))


def _double_backward_match(ours, theirs, arrays, atol=1e-8):
    """Gradients of Σ (first gradients)²: checks each rule's own derivative."""
    weights = np.random.default_rng(1).standard_normal
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a, out_t = ours(*a), theirs(*t)
    r = weights(out_a.shape)
    first_a = autograd.grad((out_a * autograd.tensor(r)).sum(), a, create_graph=True)
    first_t = torch.autograd.grad((out_t * torch.tensor(r)).sum(), t, create_graph=True)
    sum(((g * g).sum() for g in first_a), autograd.tensor(0.0, dtype=np.float64)).backward()
    sum((g * g).sum() for g in first_t).backward()
    for x_a, x_t in zip(a, t):
        if x_t.grad is None:
            assert x_a.grad is None
        else:
            _close(x_a.grad, x_t.grad, atol=atol)


def test_batch_norm_double_backward_matches_torch():
    arrays = [rng.standard_normal((5, 3, 4)), rng.standard_normal(3), rng.standard_normal(3)]
    _double_backward_match(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                           lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                           arrays)


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (8, 4, 5)),
                                        ("BatchNorm2d", (6, 4, 5, 5))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_layer_running_stats_and_state_dict_match_torch(cls, shape, momentum):
    ours = getattr(nn, cls)(4, momentum=momentum).double()
    theirs = getattr(torch.nn, cls)(4, momentum=momentum).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.standard_normal(4)))
        theirs.bias.copy_(torch.tensor(rng.standard_normal(4)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        xa, xt = _pair(x)
        _close(ours(xa), theirs(xt))
    state_a, state_t = ours.state_dict(), theirs.state_dict()
    assert list(state_a) == list(state_t) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    for key in state_t:
        _close(state_a[key], state_t[key])
    assert state_a["num_batches_tracked"].dtype == np.int64
    assert state_a["num_batches_tracked"].item() == 4
    ours.eval()
    theirs.eval()
    xa, xt = _pair(rng.standard_normal(shape))
    out_a, out_t = ours(xa), theirs(xt)
    _close(out_a, out_t)
    _backward_both(out_a, out_t)
    _close(xa.grad, xt.grad)
    _close(ours.weight.grad, theirs.weight.grad)
    assert ours.state_dict()["num_batches_tracked"].item() == 4  # eval does not count


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    ours = nn.BatchNorm1d(3, track_running_stats=False, affine=False).eval()
    theirs = torch.nn.BatchNorm1d(3, track_running_stats=False, affine=False).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    xa, xt = _pair(rng.standard_normal((6, 3)).astype(np.float32))
    _close(ours(xa), theirs(xt), atol=1e-6, rtol=1e-5)
    assert repr(ours) == repr(theirs)


def test_batch_norm_float32_default_and_repr():
    layer = nn.BatchNorm2d(5)
    assert layer.weight.dtype == layer.running_var.dtype == np.float32
    assert repr(layer) == repr(torch.nn.BatchNorm2d(5))
    out = layer(autograd.randn(4, 5, 3, 3))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.data.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_batch_norm_errors_like_torch():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(autograd.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(autograd.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        nn.BatchNorm2d(3)(autograd.zeros(2, 4, 4, 4))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(autograd.zeros(1, 3))
    with pytest.raises(RuntimeError, match="running_mean and running_var"):
        F.batch_norm(autograd.zeros(2, 3), None, None, training=False)


# --------------------------------------------------------------------------- layer norm


# the last two normalize every dim: the parameters' gradients sum over no axis
@pytest.mark.parametrize("shape, normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)),
                                               ((3, 7), (7,)), ((5,), 5), ((2, 3), (2, 3))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(shape, normalized, affine):
    ours = nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine).double()
    theirs = torch.nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rng.standard_normal(theirs.weight.shape)))
            theirs.bias.copy_(torch.tensor(rng.standard_normal(theirs.bias.shape)))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    xa, xt = _pair(rng.standard_normal(shape) * 3 + 1)
    out_a, out_t = ours(xa), theirs(xt)
    _close(out_a, out_t)
    _backward_both(out_a, out_t)
    _close(xa.grad, xt.grad)
    if affine:
        _close(ours.weight.grad, theirs.weight.grad)
        _close(ours.bias.grad, theirs.bias.grad)


def test_layer_norm_gradcheck_and_double_backward():
    x = autograd.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = autograd.tensor(rng.standard_normal(4), requires_grad=True)
    b = autograd.tensor(rng.standard_normal(4), requires_grad=True)
    assert autograd.gradcheck(lambda x, w, b: F.layer_norm(x, 4, w, b), (x, w, b))
    arrays = [rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 4)),
              rng.standard_normal((2, 4))]
    _double_backward_match(lambda x, w, b: F.layer_norm(x, (2, 4), w, b),
                           lambda x, w, b: TF.layer_norm(x, (2, 4), w, b), arrays)


def test_layer_norm_shape_error_like_torch():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size \[2, 3\]"):
        F.layer_norm(autograd.zeros(2, 3), (4,))


# --------------------------------------------------------------------------- dropout


def test_dropout_statistics_and_scaling():
    autograd.manual_seed(0)
    x = autograd.ones(200, 500)
    out = F.dropout(x, p=0.3)
    kept = out.data != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 100,000 draws: std of the mean ~0.0015
    np.testing.assert_allclose(out.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(out.data.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_gradient_is_the_mask():
    autograd.manual_seed(1)
    x = autograd.tensor(rng.standard_normal((50, 40)), requires_grad=True)
    out = F.dropout(x, p=0.5)
    out.sum().backward()
    mask = out.data / x.data
    np.testing.assert_allclose(x.grad.data, mask)
    assert set(np.round(np.unique(mask), 6)) == {0.0, 2.0}


def test_dropout_is_reproducible_with_manual_seed():
    x = autograd.ones(30, 30)
    autograd.manual_seed(5)
    a = F.dropout(x, 0.4).data
    autograd.manual_seed(5)
    b = nn.Dropout(0.4)(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.4).data)  # the generator moved on


def test_dropout_eval_and_edge_probabilities():
    x = autograd.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.data, 0)
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0)
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_errors_like_torch(p):
    message = f"dropout probability has to be between 0 and 1, but got {p}"
    with pytest.raises(ValueError, match=message):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=message):
        F.dropout(autograd.ones(3), p)


# --------------------------------------------------------------------------- embedding


def test_embedding_matches_torch_with_repeated_indices():
    ours, theirs = nn.Embedding(10, 4).double(), torch.nn.Embedding(10, 4).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([[1, 2, 1, 9], [1, 0, 2, 2]])
    out_a, out_t = ours(autograd.tensor(idx)), theirs(torch.tensor(idx))
    assert out_a.shape == (2, 4, 4)
    _close(out_a, out_t)
    _backward_both(out_a, out_t)
    _close(ours.weight.grad, theirs.weight.grad)
    g = ours.weight.grad.data
    np.testing.assert_array_equal(g[[3, 4, 5, 6, 7, 8]], 0)  # unused rows get nothing
    assert not np.allclose(g[1], 0)  # row 1 sums three gradients


def test_embedding_padding_idx_like_torch():
    ours = nn.Embedding(6, 3, padding_idx=-2)
    assert ours.padding_idx == 4
    np.testing.assert_array_equal(ours.weight.data[4], 0)
    theirs = torch.nn.Embedding(6, 3, padding_idx=4)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([4, 1, 4, 0])
    out_a, out_t = ours(autograd.tensor(idx)), theirs(torch.tensor(idx))
    _backward_both(out_a, out_t)
    _close(ours.weight.grad, theirs.weight.grad, atol=1e-6)
    np.testing.assert_array_equal(ours.weight.grad.data[4], 0)
    assert repr(ours) == repr(torch.nn.Embedding(6, 3, padding_idx=4))


def test_embedding_init_is_standard_normal_and_seeded():
    autograd.manual_seed(3)
    a = nn.Embedding(1000, 20)
    autograd.manual_seed(3)
    b = nn.Embedding(1000, 20)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.dtype == np.float32
    assert abs(a.weight.data.mean()) < 0.02 and abs(a.weight.data.std() - 1) < 0.02


def test_embedding_gradcheck_and_double_backward():
    idx = autograd.tensor(np.array([0, 2, 2, 1, 2]))
    w = autograd.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    # padding_idx=3 is unused here: a used padding row has zero gradient by design,
    # which finite differences would not agree with
    assert autograd.gradcheck(lambda w: F.embedding(idx, w, padding_idx=3) ** 2, (w,))
    _double_backward_match(lambda w: F.embedding(idx, w, padding_idx=1) ** 2,
                           lambda w: TF.embedding(torch.tensor(idx.data), w, padding_idx=1) ** 2,
                           [rng.standard_normal((4, 3))])


def test_embedding_errors():
    w = autograd.zeros(3, 2)
    with pytest.raises(IndexError, match="index 5 is out of range"):
        F.embedding(autograd.tensor([5]), w)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(autograd.tensor([-1]), w)
    with pytest.raises(RuntimeError, match=r"integer dtype.*float32"):
        F.embedding(autograd.tensor([1.0]), w)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=5)
