"""nn.Module, Parameter and the containers: registration, names and order
(against torch's for the same model), modes, state dicts, repr, to(), apply()."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import autograd
import nn


def build(lib, tensor):
    """The classes of one test model written against ``lib`` (``nn`` or ``torch.nn``)."""

    class Block(lib.Module):
        """Every kind of member: parameter, buffers, children, a plain value."""

        def __init__(self):
            super().__init__()
            self.scale = lib.Parameter(tensor(np.ones(3)))
            self.fc = lib.Linear(3, 3)
            self.register_buffer("running", tensor(np.zeros(3)))
            self.register_buffer("scratch", tensor(np.zeros(1)), persistent=False)
            self.act = lib.ReLU()
            self.note = "plain attribute"

        def forward(self, x):
            return self.act(self.fc(x * self.scale)) + self.running

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.Sequential(lib.Linear(3, 3), Block(), lib.Tanh())
            self.heads = lib.ModuleList([lib.Linear(3, 2), lib.Linear(3, 1, bias=False)])
            self.extra = lib.ModuleDict({"b": lib.Linear(3, 4), "a": lib.Identity()})
            self.bias = lib.Parameter(tensor(np.zeros(2)))

        def forward(self, x):
            return self.heads[0](self.body(x)) + self.bias

    return Net, Block


Net, Block = build(nn, lambda a: autograd.tensor(a, dtype=autograd.float32))


def _pair():
    """The same model built on ours and on torch.nn (torch's weights copied in)."""
    torch = pytest.importorskip("torch")
    TorchNet, _ = build(torch.nn, lambda a: torch.tensor(a, dtype=torch.float32))
    theirs = TorchNet()
    ours = Net()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


# --------------------------------------------------------------------------- names and order


def test_parameter_and_state_dict_names_and_order_match_torch():
    ours, theirs = _pair()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert "body.1.scratch" not in ours.state_dict()  # non-persistent buffer
    assert "body.1.scratch" in dict(ours.named_buffers())


def test_forward_matches_torch_after_loading_its_state_dict():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(autograd.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_parameters_are_own_first_then_children_in_registration_order():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = nn.Linear(1, 1)
            self.w = nn.Parameter(autograd.zeros(1))

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    assert list(m.state_dict()) == ["w", "child.weight", "child.bias"]


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    # state_dict keeps both names, as torch does
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_prefix_and_recurse_options():
    m = nn.Sequential(nn.Linear(2, 2))
    assert [n for n, _ in m.named_parameters(prefix="model")] == ["model.0.weight",
                                                                   "model.0.bias"]
    assert list(m.parameters(recurse=False)) == []
    assert list(m.state_dict(prefix="net.")) == ["net.0.weight", "net.0.bias"]


# --------------------------------------------------------------------------- Parameter


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(autograd.tensor([1.0, 2.0]))
    assert isinstance(p, autograd.Tensor)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert not nn.Parameter(autograd.zeros(2), requires_grad=False).requires_grad


def test_parameter_shares_a_tensors_array_and_copies_other_data():
    t = autograd.zeros(3)
    assert nn.Parameter(t).data is t.data
    a = np.zeros(3, dtype=np.float32)
    p = nn.Parameter(a)
    a[0] = 1
    assert p.data[0] == 0


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: a @ b, lambda a, b: a.maximum(b), lambda a, b: a ** b,
])
def test_parameters_work_as_either_operand(op):
    p = nn.Parameter(autograd.tensor([[1.5, 2.0], [0.5, 1.0]]))
    q = nn.Parameter(autograd.tensor([[2.0, 1.0], [1.0, 3.0]]))
    t = autograd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    for a, b in ((p, t), (t, p), (p, q)):
        out = op(a, b)
        assert type(out) is autograd.Tensor
        out.sum().backward()
    assert p.grad is not None and q.grad is not None and t.grad is not None


def test_parameter_gradient_matches_the_same_computation_on_a_tensor():
    data = np.array([[1.0, -2.0], [0.5, 3.0]])
    p = nn.Parameter(autograd.tensor(data))
    t = autograd.tensor(data, requires_grad=True)
    x = autograd.tensor([[2.0, 1.0]])
    ((x @ p).tanh() * p.sum()).sum().backward()
    ((x @ t).tanh() * t.sum()).sum().backward()
    np.testing.assert_allclose(p.grad.data, t.grad.data)


# --------------------------------------------------------------------------- registration rules


def test_assignment_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = autograd.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.note = 3  # plain values are plain attributes
    assert "note" not in m.state_dict()
    m.note = nn.Parameter(autograd.zeros(1))  # a plain attribute may become a parameter
    assert "note" in dict(m.named_parameters())
    del m.note
    assert "note" not in dict(m.named_parameters()) and not hasattr(m, "note")


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        Bad()


def test_register_buffer_and_parameter_validate():
    m = nn.Module()
    with pytest.raises(TypeError):
        m.register_buffer("b", np.zeros(2))
    with pytest.raises(TypeError):
        m.register_parameter("p", autograd.zeros(2))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", None)
    m.register_buffer("b", autograd.zeros(2))
    m.b = autograd.ones(2)  # reassigning a buffer keeps it registered
    assert m.state_dict()["b"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        m.b = 3


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


# ------------------------------------------------------------------ modes, grads, apply, to


def test_train_eval_return_self_and_reach_every_module():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    assert m.train() is m
    assert all(mod.training for mod in m.modules())


def test_zero_grad_sets_grads_to_none():
    m = nn.Linear(3, 2)
    m(autograd.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_requires_grad_toggle_returns_self():
    m = nn.Linear(3, 2)
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first_like_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair()
    seen_ours, seen_theirs = [], []
    assert ours.apply(lambda mod: seen_ours.append(type(mod).__name__)) is ours
    theirs.apply(lambda mod: seen_theirs.append(type(mod).__name__))
    assert seen_ours == seen_theirs
    assert isinstance(theirs, torch.nn.Module)


def test_apply_can_reinitialise_weights():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    m.apply(lambda mod: nn.init.zeros_(mod.weight) if isinstance(mod, nn.Linear) else None)
    assert all(not layer.weight.data.any() for layer in m)


def test_to_dtype_converts_floating_params_and_buffers_in_place():
    m = Block()
    m.register_buffer("count", autograd.tensor(3))
    params = list(m.parameters())
    assert m.to(autograd.float64) is m
    assert [p is q for p, q in zip(m.parameters(), params)] == [True] * len(params)
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.running.dtype == np.float64 and m.count.dtype == np.int64
    out = m(autograd.randn(2, 3, dtype=autograd.float64))
    assert out.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())


def test_to_cpu_is_a_no_op_and_unknown_devices_are_errors():
    m = nn.Linear(2, 2)
    assert m.to("cpu") is m and m.cpu() is m
    with pytest.raises(RuntimeError, match="cuda"):
        m.to("cuda")


def test_deepcopy_gives_an_independent_model():
    m = nn.Sequential(nn.Linear(2, 2))
    c = copy.deepcopy(m)
    assert isinstance(c[0].weight, nn.Parameter)
    c[0].weight.data[...] = 0
    assert m[0].weight.data.any()
    assert list(c.state_dict()) == list(m.state_dict())


# --------------------------------------------------------------------------- state dicts


def test_state_dict_shares_memory_and_is_detached():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert sd["weight"].data is m.weight.data
    assert not sd["weight"].requires_grad
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_copies_values_in_place():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    weight = b.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.weight is weight
    np.testing.assert_array_equal(b.weight.data, a.weight.data)
    a.weight.data[...] = 0  # a copy, not a view of the source
    assert b.weight.data.any()


def test_load_state_dict_missing_unexpected_and_shape_errors_name_the_key():
    m = nn.Sequential(nn.Linear(3, 2))
    sd = m.state_dict()
    missing = {k: v for k, v in sd.items() if k != "0.bias"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "0.bias"'):
        m.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        m.load_state_dict({**sd, "extra": autograd.zeros(1)})
    bad = dict(sd, **{"0.weight": autograd.zeros(2, 4)})
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight.*\(2, 4\).*\(2, 3\)"):
        m.load_state_dict(bad)
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are checked even then
        m.load_state_dict(bad, strict=False)


def test_load_state_dict_non_strict_reports_like_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    sd = {k: v for k, v in theirs.state_dict().items() if k != "1.weight"}
    sd["stray"] = torch.zeros(1)
    got = ours.load_state_dict({k: v.numpy() for k, v in sd.items()}, strict=False)
    want = theirs.load_state_dict(sd, strict=False)
    assert got.missing_keys == want.missing_keys
    assert got.unexpected_keys == want.unexpected_keys
    np.testing.assert_array_equal(ours[0].weight.data, theirs[0].weight.detach().numpy())


@pytest.mark.parametrize("bad", [
    np.array(["a", "b"]),  # right shape, but no numbers: the old code copied halfway
    np.array([1 + 2j, 3j]),
    [1.0, [2.0]],
    "ab",
    None,
], ids=["strings", "complex", "ragged", "str", "None"])
def test_load_state_dict_loads_everything_or_changes_nothing(bad):
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    before = {k: v.data.copy() for k, v in m.state_dict().items()}
    source = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).state_dict()
    source["1.bias"] = bad  # the last entry: every other one would be copied first
    with pytest.raises(RuntimeError, match=r'While copying the parameter named "1.bias"'):
        m.load_state_dict(source)
    for key, value in m.state_dict().items():
        np.testing.assert_array_equal(value.data, before[key], err_msg=key)


def test_load_state_dict_casts_numbers_of_another_dtype():
    m = nn.Linear(2, 1)
    m.load_state_dict({"weight": np.array([[1, 2]]), "bias": autograd.tensor([0.5],
                                                                              dtype=np.float64)})
    assert m.weight.dtype == np.float32 and m.weight.tolist() == [[1.0, 2.0]]
    assert m.bias.dtype == np.float32 and m.bias.tolist() == [0.5]


def test_load_state_dict_rejects_non_dicts():
    with pytest.raises(TypeError, match="dict"):
        nn.Linear(1, 1).load_state_dict([1, 2])


# --------------------------------------------------------------------------- repr


def test_repr_matches_torch_for_nested_models():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3, bias=False), nn.GELU()),
        nn.ModuleList([nn.Linear(3, 3) for _ in range(3)] + [nn.Tanh()]),
        nn.ModuleDict({"soft": nn.Softmax(dim=1), "log": nn.LogSoftmax(dim=-1)}),
        nn.LeakyReLU(0.2), nn.Flatten(), nn.Identity(), nn.Sigmoid(),
        nn.GELU(approximate="tanh"), nn.ModuleList(),
    )
    T = torch.nn
    theirs = T.Sequential(
        T.Linear(2, 3), T.ReLU(), T.Sequential(T.Linear(3, 3, bias=False), T.GELU()),
        T.ModuleList([T.Linear(3, 3) for _ in range(3)] + [T.Tanh()]),
        T.ModuleDict({"soft": T.Softmax(dim=1), "log": T.LogSoftmax(dim=-1)}),
        T.LeakyReLU(0.2), T.Flatten(), T.Identity(), T.Sigmoid(),
        T.GELU(approximate="tanh"), T.ModuleList(),
    )
    assert repr(ours) == repr(theirs)


def test_repr_of_a_custom_module_lists_children():
    assert repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n)"
    )


# --------------------------------------------------------------------------- containers


def test_sequential_indexing_len_iteration_and_slices():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers
    assert s[0] is layers[0] and s[-1] is layers[2]
    head = s[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    with pytest.raises(IndexError):
        s[3]
    x = autograd.randn(4, 2)
    np.testing.assert_allclose(s(x).data, layers[2](layers[1](layers[0](x))).data)
    s.append(nn.Sigmoid())
    assert len(s) == 4 and list(s.state_dict()) == ["0.weight", "0.bias", "2.weight",
                                                    "2.bias"]
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)
    del s[1]
    assert len(s) == 3 and [n for n, _ in s.named_children()] == ["0", "2", "3"]


def test_sequential_from_ordered_dict_keeps_names():
    s = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(s[1], nn.ReLU)


def test_module_list():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.Sigmoid()])
    ml += [nn.Identity()]
    ml.insert(0, nn.GELU())
    assert [type(m).__name__ for m in ml] == ["GELU", "Linear", "ReLU", "Tanh", "Sigmoid",
                                              "Identity"]
    assert [n for n, _ in ml.named_children()] == [str(i) for i in range(6)]
    del ml[0]
    assert isinstance(ml[0], nn.Linear) and len(ml) == 5
    assert list(ml.state_dict()) == ["0.weight", "0.bias"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    ml[-1] = nn.ReLU()
    assert isinstance(ml[4], nn.ReLU)
    with pytest.raises(TypeError):
        ml.extend(nn.Linear(1, 1))


def test_module_dict():
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and list(md.keys()) == ["a", "b", "c"]
    assert "a" in md and len(md) == 3
    assert isinstance(md.pop("b"), nn.ReLU) and "b" not in md
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    assert [k for k, _ in md.items()] == ["a", "c"]
    md.clear()
    assert len(md) == 0


def test_containers_are_seen_by_the_parent():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
            self.named = nn.ModuleDict({"out": nn.Linear(2, 1)})

    assert list(M().state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                      "layers.1.bias", "named.out.weight", "named.out.bias"]
    assert M().get_submodule("layers.1") is not None


def test_a_small_model_trains():
    autograd.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = autograd.randn(64, 2)
    y = (x[:, :1] * 2 - x[:, 1:]).detach()
    loss_fn = nn.MSELoss()
    first = None
    for _ in range(200):
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with autograd.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert loss.item() < 0.05 * first
