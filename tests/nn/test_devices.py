"""nn and optim on the device under test (``CHAINGRAD_TEST_DEVICE``: cpu, the
strict test device, or cuda): small models of every layer train like torch's on
the CPU, the device API behaves as PyTorch's, and (on the strict device) a
training step never reads a device value on the host."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from devices import DEVICE, ON_CPU, no_sync, sync_errors

import autograd
import nn
import nn.functional as F
import optim

torch = pytest.importorskip("torch")

CPU = autograd.device("cpu")


def mlp(m):
    return m.nn.Sequential(m.nn.Linear(6, 8), m.nn.ReLU(), m.nn.Linear(8, 8), m.nn.Tanh(),
                           m.nn.Linear(8, 3))


def cnn(m):
    return m.nn.Sequential(
        m.nn.Conv2d(2, 4, 3, padding=1, bias=False), m.nn.BatchNorm2d(4), m.nn.ReLU(),
        m.nn.MaxPool2d(2),
        m.nn.Conv2d(4, 4, 3, stride=1, padding=1, groups=2), m.nn.GELU(), m.nn.AvgPool2d(2),
        m.nn.Flatten(), m.nn.Linear(16, 3))


def norms(m):
    return m.nn.Sequential(m.nn.Linear(6, 8), m.nn.LayerNorm(8), m.nn.LeakyReLU(0.1),
                           m.nn.BatchNorm1d(8), m.nn.Sigmoid(), m.nn.Linear(8, 3),
                           m.nn.LogSoftmax(1))


def embedder(m):
    return m.nn.Sequential(m.nn.Embedding(10, 4, padding_idx=0), m.nn.Flatten(),
                           m.nn.Linear(12, 3), m.nn.Softmax(1))


def recurrent(m):
    class Recurrent(m.nn.Module):
        """Every recurrent layer and a cell, with their default zero states."""

        def __init__(self):
            super().__init__()
            self.lstm = m.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
            self.gru = m.nn.GRU(8, 4)
            self.rnn = m.nn.RNN(4, 4, nonlinearity="relu")
            self.cell = m.nn.LSTMCell(4, 4)
            self.gru_cell = m.nn.GRUCell(4, 4)
            self.head = m.nn.Linear(4, 3)

        def forward(self, x):
            out, _ = self.lstm(x)
            out, _ = self.gru(out.transpose(0, 1))
            out, h = self.rnn(out)
            h, c = self.cell(out[-1])
            return self.head(self.gru_cell(c, h))

    return Recurrent()


def attention(m):
    class Attention(m.nn.Module):
        """Multi-head attention (with bias_kv and a zero key) and a pre-norm
        Transformer block under a causal mask made on the input's device."""

        def __init__(self):
            super().__init__()
            self.mha = m.nn.MultiheadAttention(4, 2, batch_first=True, add_bias_kv=True,
                                               add_zero_attn=True)
            self.block = m.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation="gelu",
                                                      batch_first=True, norm_first=True)
            self.head = m.nn.Linear(4, 3)

        def forward(self, x):
            steps = x.shape[1]
            causal = m.tensor(np.triu(np.ones((steps, steps), bool), 1), device=x.device)
            y, _ = self.mha(x, x, x, need_weights=False)
            return self.head(self.block(y, src_mask=causal, is_causal=True).mean(1))

    return Attention()


def m_of(lib):
    """``autograd`` with its ``nn`` attached the way ``torch.nn`` hangs off torch."""
    if lib is torch:
        return torch

    class Ours:
        nn = nn
        functional = F
        tensor = staticmethod(autograd.tensor)

    return Ours


# name -> (model, input maker, loss)
MODELS = {
    "mlp": (mlp, lambda rng: rng.standard_normal((5, 6)),
            lambda f, out, y: f.cross_entropy(out, y, label_smoothing=0.1)),
    "cnn": (cnn, lambda rng: rng.standard_normal((4, 2, 8, 8)),
            lambda f, out, y: f.cross_entropy(out, y)),
    "norms": (norms, lambda rng: rng.standard_normal((5, 6)),
              lambda f, out, y: f.nll_loss(out, y)),
    "embedding": (embedder, lambda rng: rng.integers(0, 10, (5, 3)),  # onto one-hot rows
                  lambda f, out, y: f.mse_loss(out, y)),
    "recurrent": (recurrent, lambda rng: rng.standard_normal((5, 4, 3)),
                  lambda f, out, y: f.cross_entropy(out, y)),
    "attention": (attention, lambda rng: rng.standard_normal((5, 4, 4)),
                  lambda f, out, y: f.cross_entropy(out, y)),
}

OPTIMIZERS = {
    "sgd_nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True,
                             "weight_decay": 0.01}),
    "adagrad": ("Adagrad", {"lr": 0.05}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    "adam_amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.01}),
}


def twins(name):
    """Our model on the device under test and torch's on the CPU, equal weights."""
    build = MODELS[name][0]
    autograd.manual_seed(0)
    ours = build(m_of(autograd)).double()
    theirs = build(torch).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours.to(DEVICE), theirs


def loss_of(name, f, out, y):
    return MODELS[name][2](f, out, y)


def batch(name, step):
    rng = np.random.default_rng(step)
    x = MODELS[name][1](rng)
    if name == "embedding":
        return x, np.eye(3)[rng.integers(0, 3, 5)]
    return x, rng.integers(0, 3, len(x))


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("name", MODELS)
def test_training_matches_torch(name, opt):
    ours, theirs = twins(name)
    kind, options = OPTIMIZERS[opt]
    our_opt = getattr(optim, kind)(ours.parameters(), **options)
    their_opt = getattr(torch.optim, kind)(theirs.parameters(), **options, foreach=False)
    for step in range(3):
        x, y = batch(name, step)
        xs = autograd.tensor(x, device=DEVICE), torch.tensor(x)
        ys = autograd.tensor(y, device=DEVICE), torch.tensor(y)
        our_loss = loss_of(name, F, ours(xs[0]), ys[0])
        their_loss = loss_of(name, torch.nn.functional, theirs(xs[1]), ys[1])
        for optimizer, loss in ((our_opt, our_loss), (their_opt, their_loss)):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert our_loss.device == DEVICE
        np.testing.assert_allclose(our_loss.item(), their_loss.item(), rtol=1e-9)
    their_state = theirs.state_dict()
    assert set(their_state) == set(ours.state_dict())
    for key, a in ours.state_dict().items():
        b = their_state[key]
        assert a.device == DEVICE, key
        # atol: Adagrad/RMSprop turn gradients of 1e-9 (a bias a norm cancels) into
        # steps of lr, so their rounding shows at 1e-8
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-7, err_msg=key)
    for p in ours.parameters():
        for value in our_opt.state[p].values():
            if isinstance(value, autograd.Tensor):
                assert value.device == DEVICE
    ours.eval()
    theirs.eval()
    x, _ = batch(name, 9)
    np.testing.assert_allclose(ours(autograd.tensor(x, device=DEVICE)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-7, atol=1e-10)


def test_module_to_moves_in_place_and_keeps_parameters():
    autograd.manual_seed(0)
    model = mlp(m_of(autograd))
    params = list(model.parameters())
    before = [p.detach().numpy().copy() for p in params]
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(autograd.ones(2, 6)).sum().backward()
    assert model.to(DEVICE) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for p, b in zip(model.parameters(), before):
        assert p.device == DEVICE and p.grad.device == DEVICE
        np.testing.assert_array_equal(p.detach().numpy(), b)
    opt.step()  # made before the move: it updates the moved parameters
    assert all(p.device == DEVICE for p in model.parameters())
    assert not np.array_equal(params[0].detach().numpy(), before[0])
    model.to(CPU)
    assert all(p.device == CPU for p in model.parameters())


def test_initialisation_is_the_same_on_every_device():
    autograd.manual_seed(3)
    a = cnn(m_of(autograd))
    autograd.manual_seed(3)
    b = cnn(m_of(autograd)).to(DEVICE)
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=key)


def test_to_is_a_differentiable_copy():
    x = autograd.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to(DEVICE)
    assert y.device == DEVICE and (y is x) == ON_CPU
    (y * y).sum().backward()
    assert x.grad.device == CPU
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])
    z = autograd.tensor([1.0, 2.0], device=DEVICE, requires_grad=True)
    (z.cpu() * 3).sum().backward()
    assert z.grad.device == DEVICE
    np.testing.assert_array_equal(z.grad.numpy(), [3.0, 3.0])
    assert x.to(DEVICE, autograd.float64).dtype == autograd.float64
    assert x.to(z).device == DEVICE and x.to(z).dtype == z.dtype


def test_factories_and_host_copies():
    for t in (autograd.zeros(2, 3, device=DEVICE), autograd.ones(2, device=DEVICE),
              autograd.full((2,), 1.5, device=DEVICE), autograd.arange(4, device=DEVICE),
              autograd.linspace(0, 1, 3, device=DEVICE), autograd.eye(2, device=DEVICE),
              autograd.randn(2, device=DEVICE), autograd.rand(2, device=DEVICE),
              autograd.randint(0, 5, (3,), device=DEVICE), autograd.randperm(4, device=DEVICE),
              autograd.empty(2, device=DEVICE), autograd.tensor([1, 2], device=DEVICE)):
        assert t.device == DEVICE
        assert isinstance(t.numpy(), np.ndarray) and isinstance(np.asarray(t), np.ndarray)
    t = autograd.tensor([[1.5, 2.0]], device=DEVICE)
    assert t.tolist() == [[1.5, 2.0]] and t[0, 1].item() == 2.0
    autograd.manual_seed(0)
    draws = t.multinomial(5, replacement=True)
    assert draws.device == DEVICE
    autograd.manual_seed(0)
    assert draws.tolist() == t.cpu().multinomial(5, replacement=True).tolist()
    assert autograd.zeros_like(t).device == DEVICE
    assert autograd.as_tensor(t) is t and autograd.as_tensor(t, device=DEVICE) is t
    assert autograd.as_tensor([1.0], device=DEVICE).device == DEVICE
    moved = autograd.as_tensor(t, autograd.float64, device="cpu")
    assert moved.device == CPU and moved.dtype == autograd.float64
    assert autograd.zeros_like(t, device="cpu").device == CPU
    if not ON_CPU:
        assert repr(t) == f"tensor([[1.5000, 2.0000]], device='{DEVICE}')"


def test_optimizer_state_follows_the_parameters_after_load_state_dict():
    autograd.manual_seed(0)
    model = mlp(m_of(autograd))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(autograd.ones(2, 6)).sum().backward()
    opt.step()
    saved = opt.state_dict()  # on the CPU
    model.to(DEVICE)
    fresh = optim.Adam(model.parameters(), lr=0.01)
    fresh.load_state_dict(saved)
    for state in fresh.state.values():
        assert state["exp_avg"].device == DEVICE and state["exp_avg_sq"].device == DEVICE
    model(autograd.ones(2, 6, device=DEVICE)).sum().backward()
    fresh.step()


def test_save_and_load_with_map_location(tmp_path):
    autograd.manual_seed(0)
    model = mlp(m_of(autograd)).to(DEVICE)
    path = tmp_path / "model.npz"
    nn.save({"model": model.state_dict()}, path)
    back = nn.load(path)["model"]
    assert all(t.device == DEVICE for t in back.values())
    on_cpu = nn.load(path, map_location="cpu")["model"]
    assert all(t.device == CPU for t in on_cpu.values())
    for key, t in model.state_dict().items():
        np.testing.assert_array_equal(on_cpu[key].numpy(), t.numpy())
    plain = tmp_path / "plain.npz"
    nn.save(model.to(CPU).state_dict(), plain)
    assert all(t.device == DEVICE for t in nn.load(plain, map_location=DEVICE).values())


@pytest.mark.skipif(ON_CPU, reason="needs a second device")
def test_mixing_devices_is_pytorchs_error():
    a, b = autograd.ones(3), autograd.ones(3, device=DEVICE)
    message = "Expected all tensors to be on the same device, but found at least two devices"
    for fn in (lambda: a + b, lambda: b @ a, lambda: autograd.cat([a, b]),
               lambda: F.linear(a.reshape(1, 3), b.reshape(1, 3))):
        with pytest.raises(RuntimeError, match=message):
            fn()


def test_a_compiled_step_gives_the_eager_losses():
    """``autograd.compile`` traces numpy (CPU) steps; on another device it runs the
    step eagerly and says so (a CompileWarning), with the same results."""
    losses = {}
    for compiled in (False, True):
        ours, _ = twins("cnn")
        optimizer = optim.Adam(ours.parameters(), lr=0.01)

        def step(x, y, ours=ours, optimizer=optimizer):
            loss = loss_of("cnn", F, ours(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        run = autograd.compile(step) if compiled else step
        expected = pytest.warns(autograd.CompileWarning, match="traces numpy") if (
            compiled and not ON_CPU) else contextlib.nullcontext()
        with expected:
            losses[compiled] = [run(*(autograd.tensor(a, device=DEVICE) for a in batch("cnn", i)))
                                .item() for i in range(4)]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-12)


def test_no_sync_catches_a_host_read():
    """The check below can fail: a read of a device value inside ``no_sync`` raises."""
    if ON_CPU:
        pytest.skip("nothing to wait for on the CPU")
    t = autograd.ones(3, device=DEVICE).sum()
    with pytest.raises(sync_errors()), no_sync():
        t.item()


@pytest.mark.skipif(ON_CPU, reason="nothing to wait for on the CPU")
def test_binary_cross_entropy_never_waits_and_flags_a_bad_input_with_nan():
    """The CPU refuses probabilities outside [0, 1] (it can look at them at no
    cost); another device computes without waiting, and such an input gives NaN."""
    x = autograd.tensor([0.2, 0.7, 0.9], dtype=autograd.float64, device=DEVICE,
                        requires_grad=True)
    y = autograd.tensor([0.0, 1.0, 1.0], dtype=autograd.float64, device=DEVICE)
    with no_sync():
        loss = F.binary_cross_entropy(x, y)
        loss.backward()
    expected = F.binary_cross_entropy(x.detach().cpu().requires_grad_(), y.cpu())
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    bad = F.binary_cross_entropy(autograd.tensor([1.5, 0.5], device=DEVICE),
                                 autograd.tensor([1.0, 1.0], device=DEVICE))
    assert np.isnan(bad.item())


@pytest.mark.skipif(ON_CPU, reason="nothing to wait for on the CPU")
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("name", ["mlp", "cnn", "norms", "recurrent", "attention"])
def test_a_training_step_never_waits_for_the_device(name, opt):
    """As ``cupyx.allow_synchronize(False)`` checks on a GPU (and the strict device
    without one): after a warm-up step, forward, loss, backward, clipping and the
    update read no device value on the host."""
    ours, _ = twins(name)
    kind, options = OPTIMIZERS[opt]
    optimizer = getattr(optim, kind)(ours.parameters(), **options)
    x, y = batch(name, 0)
    x, y = autograd.tensor(x, device=DEVICE), autograd.tensor(y, device=DEVICE)
    for step in range(2):
        with no_sync() if step else contextlib.nullcontext():
            loss = loss_of(name, F, ours(x), y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
            optimizer.step()
