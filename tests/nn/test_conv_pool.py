"""Conv2d, MaxPool2d, AvgPool2d: forward, gradients and double backward against
torch, finite differences in float64, layers, and error messages."""

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _run_both(ours, theirs, arrays, grad_seed=0):
    """Forward both on the same arrays, backward the same upstream gradient.
    Returns (our output, torch output, our grads, torch grads) as numpy."""
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a, out_t = ours(*a), theirs(*t)
    g = np.random.default_rng(grad_seed).standard_normal(out_a.shape).astype(arrays[0].dtype)
    out_a.backward(autograd.tensor(g))
    out_t.backward(torch.tensor(g))
    return (out_a.data, out_t.detach().numpy(), [x.grad.numpy() for x in a],
            [x.grad.numpy() for x in t])


def _assert_match(ours, theirs, arrays, atol=1e-10, rtol=1e-7):
    out_a, out_t, grads_a, grads_t = _run_both(ours, theirs, arrays)
    assert out_a.shape == out_t.shape
    np.testing.assert_allclose(out_a, out_t, atol=atol, rtol=rtol)
    for ga, gt in zip(grads_a, grads_t):
        np.testing.assert_allclose(ga, gt, atol=atol, rtol=rtol)


def _double_backward_match(ours, theirs, arrays, atol=1e-9):
    """d/d(inputs) of Σ (d(Σ f·r)/d inputs)²: exercises every rule's own gradient."""
    r = np.random.default_rng(1)
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a, out_t = ours(*a), theirs(*t)
    weights = r.standard_normal(out_a.shape)
    first_a = autograd.grad((out_a * autograd.tensor(weights)).sum(), a, create_graph=True)
    first_t = torch.autograd.grad((out_t * torch.tensor(weights)).sum(), t, create_graph=True)
    sum(((g * g).sum() for g in first_a), autograd.tensor(0.0, dtype=np.float64)).backward()
    sum((g * g).sum() for g in first_t).backward()
    for x_a, x_t in zip(a, t):
        if x_t.grad is None:  # e.g. a bias: its first gradient does not depend on inputs
            assert x_a.grad is None
            continue
        np.testing.assert_allclose(x_a.grad.numpy(), x_t.grad.numpy(), atol=atol, rtol=1e-7)


rng = np.random.default_rng(0)

# (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias
CONV_CASES = [
    ((2, 3, 7, 8), (4, 3, 3), 1, 0, 1, 1, True),
    ((2, 3, 7, 8), (4, 3, 3), 1, 1, 1, 1, False),
    ((2, 4, 9, 9), (6, 3, 3), 2, 1, 1, 2, True),
    ((1, 2, 10, 7), (3, 2, 3), (2, 1), (1, 0), (2, 1), 1, True),
    ((3, 1, 5, 5), (2, 1, 1), 1, 0, 1, 1, True),
    ((2, 6, 8, 8), (6, 3, 3), 1, "same", 1, 3, True),
    ((2, 2, 6, 6), (2, 4, 4), 1, "same", 1, 1, False),
    ((2, 2, 6, 6), (2, 3, 3), 1, "valid", 2, 1, True),
    ((2, 3, 11, 9), (5, 5, 3), 3, 2, 1, 1, True),
    ((1, 4, 6, 6), (4, 3, 3), 1, 1, 1, 4, True),  # depthwise
    ((2, 3, 4, 4), (2, 4, 4), 1, 0, 1, 1, True),  # kernel = input: one output pixel
    # patches of >= PER_IMAGE_BELOW numbers: one product over the whole batch
    ((3, 8, 7, 6), (5, 3, 3), 1, 1, 1, 1, True),
    ((2, 16, 6, 6), (4, 3, 3), 2, 1, 1, 2, True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@pytest.mark.parametrize("x_shape, k, stride, padding, dilation, groups, bias", CONV_CASES)
def test_conv2d_matches_torch(x_shape, k, stride, padding, dilation, groups, bias):
    out_ch, kh, kw = k
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((out_ch, x_shape[1] // groups,
                                                                   kh, kw))]
    if bias:
        arrays.append(rng.standard_normal(out_ch))
    opts = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}

    def ours(x, w, b=None):
        return F.conv2d(x, w, b, **opts)

    def theirs(x, w, b=None):
        return TF.conv2d(x, w, b, **opts)

    _assert_match(ours, theirs, arrays)


def test_conv2d_unbatched_input_and_float32():
    x = rng.standard_normal((3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out_a, out_t, grads_a, grads_t = _run_both(lambda *t: F.conv2d(*t, padding=1),
                                               lambda *t: TF.conv2d(*t, padding=1), [x, w, b])
    assert out_a.shape == (4, 6, 6) and out_a.dtype == np.float32
    np.testing.assert_allclose(out_a, out_t, atol=1e-5, rtol=1e-5)
    for ga, gt in zip(grads_a, grads_t):
        assert ga.dtype == np.float32
        np.testing.assert_allclose(ga, gt, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 1, 1, 1), (2, 1, 1, 2), (1, 0, 2, 1),
])
def test_conv2d_gradcheck_float64(stride, padding, dilation, groups):
    x = autograd.tensor(rng.standard_normal((2, 4, 5, 5)), requires_grad=True)
    w = autograd.tensor(rng.standard_normal((2, 4 // groups, 3, 3)), requires_grad=True)
    b = autograd.tensor(rng.standard_normal(2), requires_grad=True)
    assert autograd.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), (x, w, b))


@pytest.mark.parametrize("channels, stride, padding, groups", [
    (4, 1, 1, 1), (4, 2, 0, 2), (16, 1, 1, 2),  # the last: one product over the batch
])
def test_conv2d_double_backward_matches_torch(channels, stride, padding, groups):
    arrays = [rng.standard_normal((2, channels, 6, 5)),
              rng.standard_normal((4, channels // groups, 3, 3)), rng.standard_normal(4)]
    _double_backward_match(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups),
        lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=padding, groups=groups),
        arrays)


def test_conv2d_second_derivative_gradcheck():
    """The gradient ops (input grad, weight grad) are themselves differentiable."""
    x = autograd.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = autograd.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)

    def grads(x, w):
        with autograd.enable_grad():  # gradcheck's finite differences run under no_grad
            out = F.conv2d(x, w, padding=1, stride=2)
            return autograd.grad((out * out).sum(), (x, w), create_graph=True)

    assert autograd.gradcheck(grads, (x, w))


# (N, C, H, W), kernel, stride, padding, dilation (max only)
POOL_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1),
    ((2, 3, 9, 7), 3, 2, 1, 1),
    ((1, 2, 10, 10), 3, 1, 1, 2),
    ((2, 2, 7, 9), (2, 3), (1, 2), (1, 1), 1),
    ((2, 1, 5, 5), 5, 1, 0, 1),
    ((3, 2, 7, 7), 3, 3, 0, 1),  # H not a multiple of the stride: last row unused
    ((2, 2, 8, 9), 3, 2, 0, 1),  # ceil_mode adds a window hanging off the bottom
    ((2, 2, 8, 8), 3, 2, 1, 1),  # ... and one over the padding
]


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", POOL_CASES)
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool2d_matches_torch(shape, kernel, stride, padding, dilation, ceil_mode):
    opts = {"kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation,
            "ceil_mode": ceil_mode}
    _assert_match(lambda x: F.max_pool2d(x, **opts), lambda x: TF.max_pool2d(x, **opts),
                  [rng.standard_normal(shape)])


@pytest.mark.parametrize("shape, kernel, stride, padding, _", POOL_CASES)
@pytest.mark.parametrize("count_include_pad, ceil_mode", [(True, False), (False, False),
                                                         (True, True), (False, True)])
def test_avg_pool2d_matches_torch(shape, kernel, stride, padding, _, count_include_pad,
                                  ceil_mode):
    opts = {"kernel_size": kernel, "stride": stride, "padding": padding,
            "count_include_pad": count_include_pad, "ceil_mode": ceil_mode}
    _assert_match(lambda x: F.avg_pool2d(x, **opts), lambda x: TF.avg_pool2d(x, **opts),
                  [rng.standard_normal(shape)])


def test_avg_pool2d_divisor_override_matches_torch():
    opts = {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 4,
            "ceil_mode": True}
    _assert_match(lambda x: F.avg_pool2d(x, **opts), lambda x: TF.avg_pool2d(x, **opts),
                  [rng.standard_normal((2, 2, 7, 7))])


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_max_pool2d_ties_go_to_the_first_maximum_like_torch(kernel, stride, padding):
    x = rng.integers(-1, 2, (2, 3, 7, 7)).astype(np.float64)  # many ties
    _assert_match(lambda x: F.max_pool2d(x, kernel, stride, padding),
                  lambda x: TF.max_pool2d(x, kernel, stride, padding), [x])


def test_max_pool2d_propagates_nan_like_torch():
    x = rng.standard_normal((1, 1, 4, 4))
    x[0, 0, 1, 0] = np.nan
    out_a, out_t, grads_a, grads_t = _run_both(lambda x: F.max_pool2d(x, 2),
                                               lambda x: TF.max_pool2d(x, 2), [x])
    np.testing.assert_array_equal(out_a, out_t)  # NaN where torch has NaN
    np.testing.assert_array_equal(grads_a[0], grads_t[0])


def test_max_pool2d_gradient_is_exactly_zero_off_the_maximum_even_for_inf():
    x = autograd.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(autograd.tensor(np.full(out.shape, np.inf)))
    assert np.isinf(x.grad.data).sum() == 4 and (x.grad.data == 0).sum() == 12


def test_pooling_unbatched_input():
    x = rng.standard_normal((3, 6, 6))
    _assert_match(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x])
    _assert_match(lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1), [x])


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_gradcheck_float64(pool):
    fn = (lambda x: F.max_pool2d(x, 3, 2, 1)) if pool == "max" else (
        lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
    x = autograd.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    assert autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_double_backward_matches_torch(pool):
    ours = {"max": lambda x: F.max_pool2d(x, 3, 2, 1), "avg": lambda x: F.avg_pool2d(x, 3, 2, 1)}
    theirs = {"max": lambda x: TF.max_pool2d(x, 3, 2, 1),
              "avg": lambda x: TF.avg_pool2d(x, 3, 2, 1)}
    # square the pool's output so the second derivative is not identically zero
    _double_backward_match(lambda x: ours[pool](x) ** 2, lambda x: theirs[pool](x) ** 2,
                           [rng.standard_normal((2, 2, 6, 6))])


# --------------------------------------------------------------------------- layers


def test_conv2d_layer_matches_torch_with_copied_weights():
    ours = nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3)
    theirs = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3).double()
    ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 3, 9, 9))
    _assert_match(ours, theirs, [x])
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]


def test_conv2d_layer_init_follows_torch_bounds():
    autograd.manual_seed(0)
    layer = nn.Conv2d(8, 16, (3, 5))
    bound = 1 / np.sqrt(8 * 3 * 5)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (16, 8, 3, 5) and b.shape == (16,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # uniform over the whole range, not shrunk
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound  # U(-a, a) has std a/√3
    assert nn.Conv2d(2, 4, 3, bias=False).bias is None


def test_conv2d_layer_init_is_reproducible_with_manual_seed():
    autograd.manual_seed(7)
    a = nn.Conv2d(2, 4, 3)
    autograd.manual_seed(7)
    b = nn.Conv2d(2, 4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Conv2d(2, 4, 3).weight.data)


@pytest.mark.parametrize("args, kwargs", [
    ((1, 16, 3), {"padding": 1}),
    ((4, 8, (3, 5)), {"stride": 2, "dilation": 2, "groups": 2, "bias": False}),
    ((1, 16, 3), {"padding": "same"}),
])
def test_layer_reprs_match_torch(args, kwargs):
    assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert repr(nn.MaxPool2d(3, 2, 1, ceil_mode=True)) == repr(
        torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    assert repr(nn.AvgPool2d(3, 2, 1)) == repr(torch.nn.AvgPool2d(3, 2, 1))


def test_pool_layers_match_functional():
    x = autograd.tensor(rng.standard_normal((2, 3, 8, 8)))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).numpy(), F.max_pool2d(x, 2).numpy())
    np.testing.assert_array_equal(nn.AvgPool2d(3, 1, 1)(x).numpy(),
                                  F.avg_pool2d(x, 3, 1, 1).numpy())


@pytest.mark.parametrize("channels", [1, 16])  # per-image and whole-batch products
def test_empty_batch_flows_through_conv_and_pooling(channels):
    x = autograd.zeros(0, channels, 8, 8, requires_grad=True)
    conv = nn.Conv2d(channels, 4, 3, padding=1)
    out = nn.AvgPool2d(2)(nn.MaxPool2d(2)(conv(x)))
    assert out.shape == (0, 4, 2, 2)
    out.sum().backward()
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(conv.weight.grad.data, 0)


def test_small_cnn_trains_like_torch():
    """Two SGD steps of conv-relu-pool-conv-relu-pool-linear: same losses as torch."""
    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
                            m.Conv2d(4, 8, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
                            m.Flatten(), m.Linear(8 * 3 * 3, 5))
    ours, theirs = build(nn), build(torch.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    import optim
    opt_a = optim.SGD(ours.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    x = rng.standard_normal((6, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    for _ in range(3):
        loss_a = F.cross_entropy(ours(autograd.tensor(x)), autograd.tensor(y))
        loss_t = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        opt_a.zero_grad()
        opt_t.zero_grad()
        loss_a.backward()
        loss_t.backward()
        opt_a.step()
        opt_t.step()
        assert loss_a.item() == pytest.approx(loss_t.item(), rel=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), atol=1e-5, err_msg=name)


# --------------------------------------------------------------------------- errors


def _conv_error(x_shape, w_shape, b_shape=None, **kwargs):
    x = autograd.zeros(x_shape)
    w = autograd.zeros(w_shape)
    b = None if b_shape is None else autograd.zeros(b_shape)
    with pytest.raises(RuntimeError) as info:
        F.conv2d(x, w, b, **kwargs)
    return str(info.value)


def test_conv2d_errors_name_the_shapes():
    msg = _conv_error((2, 3, 5, 5, 1), (4, 3, 3, 3))
    assert "Expected 3D (unbatched) or 4D (batched) input to conv2d" in msg
    assert "[2, 3, 5, 5, 1]" in msg
    msg = _conv_error((2, 3, 5, 5), (4, 2, 3, 3))
    assert "expected input[2, 3, 5, 5] to have 2 channels, but got 3 channels" in msg
    assert "[4, 2, 3, 3]" in msg
    msg = _conv_error((2, 3, 2, 2), (4, 3, 3, 3))
    assert "(2 x 2)" in msg and "(3 x 3)" in msg
    assert "4 elements" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), (3,))
    assert "groups=3" in _conv_error((2, 4, 5, 5), (4, 2, 3, 3), groups=3)
    assert "stride" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), stride=0)
    assert "negative padding" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), padding=-1)
    assert "strided" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), padding="same", stride=2)
    assert "'foo'" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), padding="foo")
    assert "4-dimensional" in _conv_error((2, 3, 5, 5), (4, 3, 3))
    assert "(1, 2, 3)" in _conv_error((2, 3, 5, 5), (4, 3, 3, 3), stride=(1, 2, 3))


def test_conv2d_dtype_mismatch_is_an_error():
    x = autograd.zeros(1, 2, 4, 4, dtype=np.float64)
    with pytest.raises(RuntimeError, match=r"same dtype.*float64.*float32"):
        F.conv2d(x, autograd.zeros(3, 2, 3, 3))


def test_conv2d_layer_constructor_errors_like_torch():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
def test_pooling_errors_name_the_problem(fn):
    with pytest.raises(RuntimeError, match=r"3D or 4D.*\[2, 3, 5, 5, 5\]"):
        fn(autograd.zeros(2, 3, 5, 5, 5), 2)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel "
                                           "size, but got pad=2, kernel_size=2"):
        fn(autograd.zeros(2, 3, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"\(1 x 1\).*\(2 x 2\)"):
        fn(autograd.zeros(2, 3, 1, 1), 2)
    with pytest.raises(RuntimeError, match="stride"):
        fn(autograd.zeros(2, 3, 5, 5), 2, stride=0)
    with pytest.raises(RuntimeError, match="kernel size must be greater than zero"):
        fn(autograd.zeros(2, 3, 5, 5), 0)
