"""Every layer and ``nn.functional`` form refuses a numpy array or a list with a
TypeError that names the layer (or function) and says a Tensor is expected: never
an internal AttributeError from deep inside (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F

X = np.ones((2, 3), dtype=np.float32)
IMAGES = np.ones((1, 1, 4, 4), dtype=np.float32)

LAYERS = {  # layer, a valid input for it (as an array)
    "Linear": (lambda: nn.Linear(3, 2), X),
    "Conv2d": (lambda: nn.Conv2d(1, 1, 3), IMAGES),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), IMAGES),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), IMAGES),
    "Flatten": (lambda: nn.Flatten(), IMAGES),
    "Unflatten": (lambda: nn.Unflatten(1, (3, 1)), X),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), X),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(1), IMAGES),
    "LayerNorm": (lambda: nn.LayerNorm(3), X),
    "Dropout": (lambda: nn.Dropout(0.5), X),
    "ReLU": (lambda: nn.ReLU(), X),
    "LeakyReLU": (lambda: nn.LeakyReLU(), X),
    "Tanh": (lambda: nn.Tanh(), X),
    "Sigmoid": (lambda: nn.Sigmoid(), X),
    "GELU": (lambda: nn.GELU(), X),
    "Softmax": (lambda: nn.Softmax(1), X),
    "LogSoftmax": (lambda: nn.LogSoftmax(1), X),
}


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("wrap", [np.asarray, lambda a: a.tolist()], ids=["ndarray", "list"])
def test_layers_refuse_arrays_naming_the_layer(name, wrap):
    make, x = LAYERS[name]
    layer = make()
    with pytest.raises(TypeError, match=rf"^{name}: .*must be a Tensor, not "):
        layer(wrap(x))
    assert layer(autograd.tensor(x)).shape  # and a Tensor of the same values works


def test_inside_a_container_the_innermost_layer_is_named_once():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with pytest.raises(TypeError) as info:
        model(X)
    message = str(info.value)
    assert message.startswith("Linear: linear(): argument 'input' must be a Tensor, not "
                              "numpy.ndarray")
    assert "Sequential" not in message and "autograd.tensor(" in message


W = autograd.ones(2, 3)
FUNCTIONS = {
    "relu": lambda a: F.relu(a),
    "leaky_relu": lambda a: F.leaky_relu(a),
    "gelu": lambda a: F.gelu(a),
    "tanh": lambda a: F.tanh(a),
    "sigmoid": lambda a: F.sigmoid(a),
    "softmax": lambda a: F.softmax(a, 1),
    "log_softmax": lambda a: F.log_softmax(a, 1),
    "linear": lambda a: F.linear(a, W),
    "linear/weight": lambda a: F.linear(autograd.tensor(a), np.ones((2, 3), np.float32)),
    "conv2d": lambda a: F.conv2d(a, autograd.ones(1, 1, 1, 1)),
    "max_pool2d": lambda a: F.max_pool2d(a, 1),
    "avg_pool2d": lambda a: F.avg_pool2d(a, 1),
    "dropout": lambda a: F.dropout(a, 0.5, training=False),
    "batch_norm": lambda a: F.batch_norm(a, None, None, training=True),
    "layer_norm": lambda a: F.layer_norm(a, 3),
    "mse_loss": lambda a: F.mse_loss(a, autograd.ones(2, 3)),
    "l1_loss": lambda a: F.l1_loss(a, autograd.ones(2, 3)),
    "huber_loss": lambda a: F.huber_loss(a, autograd.ones(2, 3)),
    "cross_entropy": lambda a: F.cross_entropy(a, autograd.tensor([0, 1])),
    "nll_loss": lambda a: F.nll_loss(a, autograd.tensor([0, 1])),
    "binary_cross_entropy": lambda a: F.binary_cross_entropy(a, autograd.ones(2, 3)),
    "binary_cross_entropy_with_logits":
        lambda a: F.binary_cross_entropy_with_logits(a, autograd.ones(2, 3)),
    "embedding/weight": lambda a: F.embedding(autograd.tensor([0, 1]), a),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_forms_refuse_arrays_naming_the_function(name):
    op = name.split("/")[0]
    x = IMAGES if op in ("conv2d", "max_pool2d", "avg_pool2d") else X * 0.5
    with pytest.raises(TypeError, match=rf"^{op}\(\): argument '\w+' must be a Tensor, not "
                                        r"numpy\.ndarray"):
        FUNCTIONS[name](x)


@pytest.mark.parametrize("name", ["linear", "conv2d", "relu", "cross_entropy"])
def test_torch_also_raises_a_type_error(name):
    torch = pytest.importorskip("torch")
    calls = {
        "linear": lambda: torch.nn.functional.linear(X, torch.ones(2, 3)),
        "conv2d": lambda: torch.nn.functional.conv2d(IMAGES, torch.ones(1, 1, 1, 1)),
        "relu": lambda: torch.nn.functional.relu(X),
        "cross_entropy": lambda: torch.nn.functional.cross_entropy(X, torch.tensor([0, 1])),
    }
    with pytest.raises(TypeError):
        calls[name]()


# ------------------------------------------------------------------ integer and bool inputs

# functions PyTorch has no integer (or no bool) kernel for: they must refuse such inputs,
# never answer in integers (leaky_relu of int64 gave 0 for -1, layer_norm all zeros)
DTYPE_REFUSALS = {  # name: (call with F or torch.nn.functional, the dtypes it refuses)
    "leaky_relu": (lambda f, a: f.leaky_relu(a((2, 3))), ("int64", "bool")),
    "gelu": (lambda f, a: f.gelu(a((2, 3))), ("int64", "bool")),
    "softmax": (lambda f, a: f.softmax(a((2, 3)), dim=1), ("int64", "bool")),
    "log_softmax": (lambda f, a: f.log_softmax(a((2, 3)), dim=1), ("int64", "bool")),
    "batch_norm": (lambda f, a: f.batch_norm(a((4, 2)), None, None, training=True),
                   ("int64", "bool")),
    "layer_norm": (lambda f, a: f.layer_norm(a((2, 3)), (3,)), ("int64", "bool")),
    "linear": (lambda f, a: f.linear(a((2, 3)), a((4, 3))), ("bool",)),
    "conv2d": (lambda f, a: f.conv2d(a((1, 1, 4, 4)), a((1, 1, 2, 2))), ("bool",)),
    "max_pool2d": (lambda f, a: f.max_pool2d(a((1, 1, 4, 4)), 2), ("bool",)),
    "avg_pool2d": (lambda f, a: f.avg_pool2d(a((1, 1, 4, 4)), 2), ("int64", "bool")),
    "nll_loss": (lambda f, a: f.nll_loss(a((2, 3)), a.index([0, 2])), ("int64", "bool")),
    "cross_entropy": (lambda f, a: f.cross_entropy(a((2, 3)), a.index([0, 2])),
                      ("int64", "bool")),
    "binary_cross_entropy": (lambda f, a: f.binary_cross_entropy(a((2, 3)), a((2, 3))),
                             ("int64", "bool")),
    "binary_cross_entropy_with_logits": (
        lambda f, a: f.binary_cross_entropy_with_logits(a((2, 3)), a((2, 3))),
        ("int64", "bool")),
    "mse_loss": (lambda f, a: f.mse_loss(a((2, 3)), a((2, 3))), ("bool",)),
    "l1_loss": (lambda f, a: f.l1_loss(a((2, 3)), a((2, 3))), ("bool",)),
    "huber_loss": (lambda f, a: f.huber_loss(a((2, 3)), a((2, 3))), ("bool",)),
    "scaled_dot_product_attention": (
        lambda f, a: f.scaled_dot_product_attention(a((1, 2, 3)), a((1, 2, 3)), a((1, 2, 3))),
        ("int64", "bool")),
}
# where PyTorch answers and ours refuses (a clear error, never a different number)
TORCH_ANSWERS = {("avg_pool2d", "int64")}
TORCH_NAMES = {"int64": "Long", "bool": "Bool"}


class _Inputs:
    """Makes inputs of one dtype for ``F`` (``autograd.tensor``) or for torch."""

    def __init__(self, make, dtype):
        self.make, self.dtype = make, dtype

    def __call__(self, shape):
        values = np.arange(np.prod(shape)).reshape(shape) % 3 - 1
        return self.make(values.astype(self.dtype))

    def index(self, values):
        return self.make(np.asarray(values, dtype=np.int64))


@pytest.mark.parametrize("name,dtype", [(name, dtype) for name, (_, dtypes)
                                        in DTYPE_REFUSALS.items() for dtype in dtypes])
def test_integer_and_bool_inputs_are_refused_where_pytorch_has_no_kernel(name, dtype):
    call, _ = DTYPE_REFUSALS[name]
    with pytest.raises(NotImplementedError,
                       match=rf"^{name}\(\): \"{name}\" not implemented for "
                             rf"'{TORCH_NAMES[dtype]}' \(argument '\w+' has dtype {dtype}"):
        call(F, _Inputs(autograd.tensor, dtype))
    torch = pytest.importorskip("torch")
    if (name, dtype) in TORCH_ANSWERS:
        call(torch.nn.functional, _Inputs(torch.from_numpy, dtype))
    else:
        with pytest.raises(RuntimeError):  # NotImplementedError is a RuntimeError
            call(torch.nn.functional, _Inputs(torch.from_numpy, dtype))


@pytest.mark.parametrize("name", ["linear", "conv2d", "max_pool2d", "mse_loss"])
def test_integer_inputs_still_work_where_pytorch_has_an_integer_kernel(name):
    torch = pytest.importorskip("torch")
    call, _ = DTYPE_REFUSALS[name]
    ours = call(F, _Inputs(autograd.tensor, "int64"))
    if name == "mse_loss":  # ours promotes to float (PyTorch refuses int64 here)
        assert ours.dtype == autograd.float64 and ours.item() == 0.0
        return
    theirs = call(torch.nn.functional, _Inputs(torch.from_numpy, "int64"))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
