"""Losses: values and gradients against torch for every reduction and option,
finite differences and second derivatives in float64 for the fused ops,
stability at logits of 1e4, and the errors a wrong target gets."""

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F

try:
    import torch

    TF = torch.nn.functional
except ImportError:  # the comparisons with torch skip; the finite-difference checks still run
    torch = TF = None

rng = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def _need_torch():
    if torch is None:
        pytest.skip("torch is not installed")


def _as_torch(value):
    return torch.tensor(value) if isinstance(value, np.ndarray) else value


def _compare(ours_fn, torch_fn, arrays, constants=(), atol=1e-10, rtol=1e-7):
    """Loss and gradients of ``arrays`` (which need grad) against torch; the
    ``constants`` (targets given as indices, weights) are passed as they are."""
    _need_torch()
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a = ours_fn(*a, *[autograd.tensor(c) for c in constants])
    out_t = torch_fn(*t, *[_as_torch(c) for c in constants])
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), atol=atol, rtol=rtol)
    assert out_a.shape == tuple(out_t.shape)
    g = rng.standard_normal(out_a.shape)
    out_a.backward(autograd.tensor(g))
    out_t.backward(torch.tensor(g))
    for x_a, x_t in zip(a, t):
        np.testing.assert_allclose(x_a.grad.data, x_t.grad.numpy(), atol=atol, rtol=rtol)
    return out_a


def _second_derivatives(ours_fn, torch_fn, arrays, constants=(), atol=1e-9):
    _need_torch()
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a = ours_fn(*a, *[autograd.tensor(c) for c in constants])
    out_t = torch_fn(*t, *[_as_torch(c) for c in constants])
    w = rng.standard_normal(out_a.shape)
    first_a = autograd.grad((out_a * autograd.tensor(w)).sum(), a, create_graph=True)
    first_t = torch.autograd.grad((out_t * torch.tensor(w)).sum(), t, create_graph=True)
    sum((g * g.tanh()).sum() for g in first_a).backward()
    sum((g * g.tanh()).sum() for g in first_t).backward()
    for x_a, x_t in zip(a, t):
        want = np.zeros(x_t.shape) if x_t.grad is None else x_t.grad.numpy(force=True)
        got = np.zeros(x_a.shape) if x_a.grad is None else x_a.grad.data
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-6)


# --------------------------------------------------------------------------- regression losses

REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3})]


def _differences_away_from_kinks(shape, kinks=(0.0,)):
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    for k in kinks:  # keep |x - y| a finite distance from each kink
        d = x - y
        near = np.abs(np.abs(d) - k) < 0.05
        x = np.where(near, y + np.sign(d + 1e-9) * (k + 0.2), x)
    return x, y


@pytest.mark.parametrize(("name", "kwargs"), REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(name, kwargs, reduction):
    x, y = _differences_away_from_kinks((4, 3), (0.0, kwargs.get("delta", 1.0)))
    _compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs),
             lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kwargs), [x, y])


@pytest.mark.parametrize(("name", "kwargs"), REGRESSION)
def test_regression_losses_gradcheck_and_second_derivatives(name, kwargs):
    ours = getattr(F, name)
    x, y = _differences_away_from_kinks((3, 2), (0.0, kwargs.get("delta", 1.0)))
    for reduction in REDUCTIONS:
        inputs = [autograd.tensor(v, requires_grad=True) for v in (x, y)]
        assert autograd.gradcheck(
            lambda a, b, r=reduction: ours(a, b, reduction=r, **kwargs), inputs)
    _second_derivatives(lambda a, b: ours(a, b, **kwargs),
                        lambda a, b: getattr(TF, name)(a, b, **kwargs), [x, y])


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "HuberLoss"])
def test_regression_loss_modules(name):
    _need_torch()
    cls, torch_cls = getattr(nn, name), getattr(torch.nn, name)
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    for reduction in REDUCTIONS:
        _compare(cls(reduction=reduction), torch_cls(reduction=reduction), [x, y])
    assert repr(cls()) == repr(torch_cls())


def test_regression_losses_accept_float32_and_int_targets():
    x = autograd.tensor([[1.0], [2.0]], requires_grad=True)
    loss = F.mse_loss(x, autograd.tensor([[1], [0]]))
    assert loss.dtype == np.float32 and loss.item() == 2.0
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [[0.0], [2.0]])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("dtypes", [(np.int64, np.float64), (np.int64, np.float32),
                                    (np.float32, np.float64), (np.float64, np.float32)])
def test_regression_losses_compute_in_the_promoted_dtype(name, dtypes):
    """An int input with a float target is not truncated to ints, and float32 with
    float64 gives float64, as in PyTorch (where its loss has a kernel for the pair)."""
    _need_torch()
    x, y = np.array([[-4, -3], [0, 2]]), np.array([[-3.0, 10.0], [0.5, 2.25]])
    ours = getattr(F, name)(autograd.tensor(x.astype(dtypes[0])),
                            autograd.tensor(y.astype(dtypes[1])), reduction="none")
    theirs = getattr(TF, name)(
        torch.tensor(x.astype(np.float64)), torch.tensor(y.astype(np.float64)),
        reduction="none")
    assert ours.dtype == (np.float64 if np.float64 in dtypes else np.float32)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss])
def test_regression_target_shape_mismatch_is_a_value_error_naming_both(fn):
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs from input shape "
                                         r"\(4, 1\)"):
        fn(autograd.randn(4, 1), autograd.randn(4))


def test_huber_rejects_a_non_positive_delta():
    with pytest.raises(RuntimeError, match="delta"):
        F.huber_loss(autograd.randn(2), autograd.randn(2), delta=0.0)


@pytest.mark.parametrize("fn", [F.mse_loss, F.cross_entropy, F.binary_cross_entropy_with_logits])
def test_unknown_reduction_is_a_value_error(fn):
    x = autograd.rand(3, 2)
    y = autograd.tensor([0, 1, 1]) if fn is F.cross_entropy else autograd.rand(3, 2)
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        fn(x, y, reduction="average")
    with pytest.raises(ValueError):
        nn.MSELoss(reduction="average")


# --------------------------------------------------------------------------- cross-entropy

CE_OPTIONS = [
    {},
    {"label_smoothing": 0.2},
    {"weight": rng.random(4) + 0.1},
    {"ignore_index": 1},
    {"weight": rng.random(4) + 0.1, "ignore_index": 2, "label_smoothing": 0.3},
]
# (input shape, target shape): batched, unbatched, and with extra dims (N, C, d1, d2)
CE_SHAPES = [((6, 4), (6,)), ((4,), ()), ((3, 4, 2, 2), (3, 2, 2))]


@pytest.mark.parametrize("options", CE_OPTIONS)
@pytest.mark.parametrize(("x_shape", "t_shape"), CE_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_indices_matches_torch(options, x_shape, t_shape, reduction):
    x = rng.standard_normal(x_shape) * 3
    target = rng.integers(0, 4, t_shape)
    _compare(lambda a, t: F.cross_entropy(a, t, reduction=reduction, **options),
             lambda a, t: TF.cross_entropy(a, t, reduction=reduction,
                                           **{k: _as_torch(v) for k, v in options.items()}),
             [x], [target])


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.25},
                                     {"weight": rng.random(4) + 0.1}])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_probabilities_matches_torch(options, reduction):
    x = rng.standard_normal((5, 4))
    probs = rng.dirichlet(np.ones(4), 5)
    _compare(lambda a, t: F.cross_entropy(a, t, reduction=reduction, **options),
             lambda a, t: TF.cross_entropy(a, t, reduction=reduction,
                                           **{k: _as_torch(v) for k, v in options.items()}),
             [x], [probs])


def test_cross_entropy_gradcheck_and_second_derivatives():
    x = rng.standard_normal((4, 3))
    target = np.array([0, 2, 1, 2])
    all_options = [*CE_OPTIONS[:2], {"weight": rng.random(3) + 0.1, "ignore_index": 1}]
    for options in all_options:
        for reduction in REDUCTIONS:
            assert autograd.gradcheck(
                lambda a, o=options, r=reduction: F.cross_entropy(a, autograd.tensor(target),
                                                                  reduction=r, **o),
                [autograd.tensor(x, requires_grad=True)])
    for options in all_options:
        _second_derivatives(
            lambda a, t, o=options: F.cross_entropy(a, t, reduction="none", **o),
            lambda a, t, o=options: TF.cross_entropy(
                a, t, reduction="none", **{k: _as_torch(v) for k, v in o.items()}),
            [x], [target])


def test_cross_entropy_of_logits_1e4_is_finite_and_equals_torch():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [1e4, 1e4, -1e4]], dtype=np.float32)
    target = np.array([1, 1, 2])
    for reduction in REDUCTIONS:
        out = _compare(lambda a, t, r=reduction: F.cross_entropy(a, t, reduction=r),
                       lambda a, t, r=reduction: TF.cross_entropy(a, t, reduction=r),
                       [x], [target], atol=1e-3, rtol=1e-6)
        assert np.isfinite(out.data).all()
    assert F.cross_entropy(autograd.tensor(x), autograd.tensor(target)).item() > 1e3


def test_cross_entropy_with_minus_infinity_logits_matches_torch():
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    _compare(lambda a, t: F.cross_entropy(a, t), lambda a, t: TF.cross_entropy(a, t), [x],
             [np.array([0, 1])])


def test_cross_entropy_when_every_target_is_ignored():
    x = rng.standard_normal((3, 4))
    target = np.full(3, -100)
    xa = autograd.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xa, autograd.tensor(target))
    assert np.isnan(loss.item())  # torch: nan, gradient zero
    loss.backward()
    assert not xa.grad.data.any()
    assert F.cross_entropy(autograd.tensor(x), autograd.tensor(target), reduction="sum") == 0


def test_cross_entropy_target_errors():
    x = autograd.randn(4, 3)
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(x, autograd.tensor([0, 1, 2, 3]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.cross_entropy(x, autograd.tensor([0, 1, -1, 2]))
    with pytest.raises(ValueError, match=r"batch_size \(4\) to match target batch_size \(3\)"):
        F.cross_entropy(x, autograd.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="probability targets"):
        F.cross_entropy(x, autograd.rand(4))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, autograd.tensor([0, 1, 2, 0]), weight=autograd.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, autograd.tensor([0, 1, 2, 0]), label_smoothing=1.5)


def test_cross_entropy_module_matches_torch_and_keeps_weight_as_buffer():
    _need_torch()
    w = rng.random(3) + 0.5
    ours = nn.CrossEntropyLoss(weight=autograd.tensor(w), label_smoothing=0.1, ignore_index=0)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1,
                                       ignore_index=0)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == list(
        torch.nn.CrossEntropyLoss().state_dict())
    _compare(ours, theirs, [rng.standard_normal((5, 3))], [np.array([0, 1, 2, 1, 0])])


# --------------------------------------------------------------------------- NLL


@pytest.mark.parametrize("options", [{}, {"weight": rng.random(4) + 0.1}, {"ignore_index": 3},
                                     {"weight": rng.random(4) + 0.1, "ignore_index": 0}])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(options, reduction):
    log_p = np.log(rng.dirichlet(np.ones(4), 6))
    target = rng.integers(0, 4, 6)
    _compare(lambda a, t: F.nll_loss(a, t, reduction=reduction, **options),
             lambda a, t: TF.nll_loss(a, t, reduction=reduction,
                                      **{k: _as_torch(v) for k, v in options.items()}),
             [log_p], [target])


def test_nll_after_log_softmax_equals_cross_entropy():
    x = autograd.randn(5, 3, dtype=autograd.float64)
    t = autograd.tensor([0, 2, 1, 1, 0])
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, 1), t).item(),
                               F.cross_entropy(x, t).item())
    log_p = autograd.tensor(np.log(rng.dirichlet(np.ones(3), 4)), requires_grad=True)
    assert autograd.gradcheck(lambda a: F.nll_loss(a, autograd.tensor([0, 1, 2, 1])), [log_p])


def test_nll_loss_module_and_float_target_error():
    with pytest.raises(RuntimeError, match="integer class indices"):
        F.nll_loss(autograd.randn(2, 3), autograd.tensor([0.0, 1.0]))
    _need_torch()
    _compare(nn.NLLLoss(), torch.nn.NLLLoss(), [np.log(rng.dirichlet(np.ones(3), 4))],
             [np.array([0, 1, 2, 2])])


# --------------------------------------------------------------------------- binary cross-entropy


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch_for_input_and_target(weighted, reduction):
    x = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.random(3) + 0.1 if weighted else None
    _compare(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, weight=_as_torch(w),
                                                  reduction=reduction),
             [x, y])


def test_binary_cross_entropy_at_zero_and_one_clamps_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    _compare(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
             lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), [x], [y])


def test_binary_cross_entropy_gradcheck_and_range_error():
    x = autograd.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    y = autograd.tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    assert autograd.gradcheck(F.binary_cross_entropy, [x, y])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(autograd.tensor([1.5]), autograd.tensor([1.0]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):  # a nan too, as in torch
        F.binary_cross_entropy(autograd.tensor([0.5, float("nan")]), autograd.tensor([1.0, 0]))
    with pytest.raises(ValueError, match=r"target size \(\(4,\)\).*input size \(\(4, 1\)\)"):
        F.binary_cross_entropy(autograd.rand(4, 1), autograd.rand(4))
    _second_derivatives(lambda a, b: F.binary_cross_entropy(a, b),
                        lambda a, b: TF.binary_cross_entropy(a, b),
                        [x.data.copy(), y.data.copy()])


@pytest.mark.parametrize("options", [{}, {"pos_weight": rng.random(3) * 3},
                                     {"weight": rng.random(3) + 0.1},
                                     {"weight": rng.random(3), "pos_weight": rng.random(3) + 1}])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch_for_input_and_target(options, reduction):
    x = rng.standard_normal((4, 3)) * 3
    y = rng.uniform(0, 1, (4, 3))
    _compare(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **options),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, **{k: _as_torch(v) for k, v in options.items()}),
        [x, y])


def test_bce_with_logits_gradcheck_and_second_derivatives():
    x, y = rng.standard_normal((3, 2)), rng.uniform(0, 1, (3, 2))
    pw = rng.random(2) + 0.5
    for options in ({}, {"pos_weight": pw}):
        inputs = [autograd.tensor(v, requires_grad=True) for v in (x, y)]
        assert autograd.gradcheck(
            lambda a, b, o=options: F.binary_cross_entropy_with_logits(a, b, **o), inputs)
    for options in ({}, {"pos_weight": pw}):
        _second_derivatives(
            lambda a, b, o=options: F.binary_cross_entropy_with_logits(a, b, **o),
            lambda a, b, o=options: TF.binary_cross_entropy_with_logits(
                a, b, **{k: _as_torch(v) for k, v in o.items()}),
            [x, y])


def test_bce_with_logits_of_1e4_is_finite_and_equals_torch():
    x = np.array([1e4, -1e4, 1e4, -1e4, 3e3], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=np.float32)
    for options in ({}, {"pos_weight": np.float32([2.0])}):
        for reduction in REDUCTIONS:
            out = _compare(
                lambda a, b, o=options, r=reduction: F.binary_cross_entropy_with_logits(
                    a, b, reduction=r, **o),
                lambda a, b, o=options, r=reduction: TF.binary_cross_entropy_with_logits(
                    a, b, reduction=r, **{k: _as_torch(v) for k, v in o.items()}),
                [x, y], atol=1e-3, rtol=1e-6)
            assert np.isfinite(out.data).all()


def test_bce_modules_match_torch_and_keep_weights_as_buffers():
    _need_torch()
    pw = rng.random(2) + 0.5
    ours = nn.BCEWithLogitsLoss(pos_weight=autograd.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]
    x, y = rng.standard_normal((3, 2)), rng.uniform(0, 1, (3, 2))
    _compare(ours, theirs, [x, y])
    _compare(nn.BCELoss(reduction="sum"), torch.nn.BCELoss(reduction="sum"),
             [rng.uniform(0.1, 0.9, (3, 2)), y])
    with pytest.raises(ValueError, match="must be the same as input size"):
        ours(autograd.randn(3, 1), autograd.rand(3))


def test_loss_reprs_match_torch():
    _need_torch()
    for name in ("MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
                 "BCEWithLogitsLoss"):
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


def test_huber_curvature_at_the_kink_is_pytorchs():
    """At |x - y| = δ exactly the first derivative is ±δ and the second 0, as in
    PyTorch (hypothesis found -5.6 - -6.1 = 0.5 = δ)."""
    x = np.array([0.5, -0.5, 0.3, -5.6, 2.0])
    y = np.array([0.0, 0.0, 0.0, -6.1, 0.0])
    _second_derivatives(lambda a, b: F.huber_loss(a, b, delta=0.5),
                        lambda a, b: TF.huber_loss(a, b, delta=0.5), [x, y])


def test_nll_loss_ignores_a_nan_in_a_class_not_picked():
    """PyTorch picks the target's class: a nan elsewhere in the row does not count
    (a one-hot product made it nan; found by the fuzz)."""
    _need_torch()
    x = np.array([[0.5, np.nan, -1.0], [np.nan, -2.0, 0.0]])
    t = np.array([0, 1])
    for reduction in REDUCTIONS:
        ours = F.nll_loss(autograd.tensor(x), autograd.tensor(t), reduction=reduction)
        theirs = TF.nll_loss(torch.tensor(x), torch.tensor(t), reduction=reduction)
        np.testing.assert_allclose(ours.data, theirs.numpy())
