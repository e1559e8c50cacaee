"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Written with existing ops (DESIGN.md, "sequence models are compositions
first"), so the graph of every time step can be drawn and stepped through.
Parameter names, shapes, gate order and initialisation are PyTorch's, so a
PyTorch ``state_dict`` loads unchanged:

* ``weight_ih_l{k}`` (gates·H, input of layer k), ``weight_hh_l{k}`` (gates·H, H),
  ``bias_ih_l{k}``, ``bias_hh_l{k}`` (gates·H,), with ``_reverse`` for the second
  direction; the cells drop the ``_l{k}``;
* gates stacked in the order LSTM (i, f, g, o), GRU (r, z, n);
* every parameter drawn from U(-1/√H, 1/√H).

A layer projects its whole input sequence at once (one large matmul, x Wᵢₕᵀ +
bᵢₕ for all steps) and reads it a step at a time with ``unbind`` (one node);
each step then adds the recurrent term h Wₕₕᵀ + bₕₕ and applies the gates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import autograd
from autograd import backend
from autograd.function import constant
from autograd.ops.recurrent import LSTMCellOp
from autograd.tensor import Tensor

from .. import init
from ..functional.dropout import dropout as _dropout
from ..functional.linear import linear
from ..module import Module
from ..parameter import Parameter

# --------------------------------------------------------------------------- one step
# Each takes the input projection xp = x Wᵢₕᵀ + bᵢₕ of this step and the state.


def rnn_step(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
             activation: Callable) -> Tensor:
    """h' = act(xp + h Wₕₕᵀ + bₕₕ)."""
    return activation(xp + linear(h, w_hh, b_hh))


def lstm_step(xp: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
              b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """i, f, g, o = σ, σ, tanh, σ of (xp + h Wₕₕᵀ + bₕₕ) in four equal parts;
    c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c'). The pointwise part is one fused node
    (``autograd/ops/recurrent.py`` says why); :func:`lstm_step_composed` is the
    same step from elementary ops."""
    return LSTMCellOp.apply(xp, linear(h, w_hh, b_hh), c)


def lstm_step_composed(xp: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
                       b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """:func:`lstm_step` written with elementary ops (13 nodes instead of one): the
    definition the fused node is tested against, and the one to draw or step."""
    i, f, g, o = (xp + linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_step(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """r = σ(xpᵣ + hpᵣ), z = σ(xp_z + hp_z), n = tanh(xpₙ + r ⊙ hpₙ) with
    hp = h Wₕₕᵀ + bₕₕ (each in three equal parts); h' = (1 - z) ⊙ n + z ⊙ h,
    computed as n + z ⊙ (h - n)."""
    xr, xz, xn = xp.chunk(3, -1)
    hr, hz, hn = linear(h, w_hh, b_hh).chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)


_ACTIVATIONS = {"tanh": Tensor.tanh, "relu": Tensor.relu}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_sizes(name: str, input_size: int, hidden_size: int) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: {arg} should be of type int, got: {type(value).__name__}")
    if hidden_size <= 0:
        raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
    if input_size < 0:
        raise ValueError(f"{name}: input_size must be non-negative, got {input_size}")


def _uniform_by_hidden_size(module: Module) -> None:
    """PyTorch's init of recurrent layers and cells: every parameter from
    U(-1/√hidden_size, 1/√hidden_size)."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


def _new_parameter(shape: tuple, dtype: Any) -> Parameter:
    return Parameter(constant(backend.empty(shape, np.dtype(dtype or np.float32))))


def _check_input(name: str, input: Tensor, input_size: int, dims: tuple, dtype: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__} "
                        "(wrap arrays with autograd.tensor)")
    if input.ndim not in dims:
        wanted = " or ".join(f"{d}D" for d in dims)
        raise ValueError(f"{name}: Expected input to be {wanted}, got {input.ndim}D instead")
    if input.dtype != dtype:
        raise ValueError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                         f"({dtype}); convert the input (input.to({dtype})) or the model "
                         f"(model.to({input.dtype}))")
    if input.shape[-1] != input_size:
        raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                           f"{input_size}, got {input.shape[-1]}")


def _check_state(name: str, state: Any, expected: tuple, which: str = "hidden") -> None:
    if not isinstance(state, Tensor):
        raise TypeError(f"{name}: expected the {which} state to be a Tensor, got "
                        f"{type(state).__name__}")
    if tuple(state.shape) != expected:
        raise RuntimeError(f"{name}: Expected {which} size {expected}, got "
                           f"{list(state.shape)}")


# --------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Parameters and checks shared by the cells."""

    mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = _GATES[self.mode] * hidden_size
        self.weight_ih = _new_parameter((gates, input_size), dtype)
        self.weight_hh = _new_parameter((gates, hidden_size), dtype)
        if bias:
            self.bias_ih = _new_parameter((gates,), dtype)
            self.bias_hh = _new_parameter((gates,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        _uniform_by_hidden_size(self)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def _prepare(self, input: Tensor, hx: Any) -> tuple:
        """(batched input, its state(s) or None for zeros, whether it was unbatched)."""
        name = type(self).__name__
        _check_input(name, input, self.input_size, (1, 2), self.weight_ih.dtype)
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
        shape = (input.shape[0], self.hidden_size)
        states = hx if isinstance(hx, tuple) else (hx,)
        if hx is None:
            states = tuple(autograd.zeros(shape, dtype=input.dtype, device=input.device)
                           for _ in range(2 if self.mode == "LSTM" else 1))
        else:
            if self.mode == "LSTM" and len(states) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0) or None")
            states = tuple(s.unsqueeze(0) if unbatched and isinstance(s, Tensor) and s.ndim == 1
                           else s for s in states)
            for state, which in zip(states, ("hidden", "cell")):
                _check_state(name, state, shape, which)
        return input, states, unbatched

    def _project(self, input: Tensor) -> Tensor:
        return linear(input, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ) (or relu).
    ``cell(input, hx=None)``: input (N, input_size) or (input_size,); returns h'."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), unbatched = self._prepare(input, hx)
        h = rnn_step(self._project(input), h, self.weight_hh, self.bias_hh,
                     _ACTIVATIONS[self.nonlinearity])
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One step of an LSTM (gates i, f, g, o; see :func:`lstm_step`).
    ``cell(input, hx=None)`` with ``hx = (h, c)``; returns ``(h', c')``."""

    mode = "LSTM"

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        input, (h, c), unbatched = self._prepare(input, hx)
        h, c = lstm_step(self._project(input), h, c, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One step of a GRU (gates r, z, n; see :func:`gru_step`).
    ``cell(input, hx=None)``; returns h'."""

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), unbatched = self._prepare(input, hx)
        h = gru_step(self._project(input), h, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


# --------------------------------------------------------------------------- layers


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrence shared by RNN, LSTM, GRU.

    ``layer(input, hx=None)``: input (L, N, input_size), (N, L, input_size) with
    ``batch_first``, or unbatched (L, input_size); hx (and c for the LSTM) of
    shape (num_layers·D, N, hidden_size), zeros when None (D = 2 if
    ``bidirectional`` else 1). Returns ``output`` (L, N, D·hidden_size): the
    last layer's hidden state at every step, both directions concatenated; and
    the final state of every layer and direction.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)):
            raise TypeError(f"{name}: num_layers should be of type int, got: "
                            f"{type(num_layers).__name__}")
        if num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be greater than zero, got {num_layers}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", UserWarning, stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        gates = _GATES[mode] * hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gates, layer_input)), ("weight_hh", (gates, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                for kind, shape in shapes:
                    setattr(self, kind + suffix, _new_parameter(shape, dtype))
                    self._flat_weights_names.append(kind + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        _uniform_by_hidden_size(self)

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch code (cuDNN's weight packing); nothing to do here."""

    @property
    def all_weights(self) -> list:
        """The parameters per layer and direction: [[w_ih, w_hh, b_ih, b_hh], ...]."""
        per = 4 if self.bias else 2
        flat = [getattr(self, name) for name in self._flat_weights_names]
        return [flat[i:i + per] for i in range(0, len(flat), per)]

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}
        for key, default in defaults.items():
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        return text

    def _weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self.__dict__.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix),
                get("bias_ih" + suffix), get("bias_hh" + suffix))

    def _states(self, hx: Any, batch: int, input: Tensor, unbatched: bool) -> list:
        """The initial state(s), each unbound into one (N, H) tensor per layer and
        direction (zeros in ``input``'s dtype, on its device, when ``hx`` is None)."""
        name = type(self).__name__
        count = 2 if self.mode == "LSTM" else 1
        shape = (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        if hx is None:
            zeros = autograd.zeros(shape[1:], dtype=input.dtype, device=input.device)
            return [[zeros] * shape[0] for _ in range(count)]
        states = hx if isinstance(hx, tuple) else (hx,)
        if len(states) != count:
            raise TypeError(f"{name}: hx must be " + (
                "a tuple (h_0, c_0)" if count == 2 else "a Tensor") + " or None")
        out = []
        for state, which in zip(states, ("hidden", "cell")):
            if unbatched and isinstance(state, Tensor):
                if state.ndim != 2:
                    raise RuntimeError(f"{name}: For unbatched 2-D input, hx should also be "
                                       f"2-D but got {state.ndim}-D tensor")
                state = state.unsqueeze(1)
            _check_state(name, state, shape, which)
            out.append(list(state.unbind(0)))
        return out

    def forward(self, input: Tensor, hx: Any = None) -> tuple:
        name = type(self).__name__
        _check_input(name, input, self.input_size, (2, 3), self.weight_ih_l0.dtype)
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        states = self._states(hx, input.shape[1], input, unbatched)
        directions = 2 if self.bidirectional else 1
        finals: list[list] = [[] for _ in states]
        x = input
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = _dropout(x, self.dropout, True)
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                out, final = self._run(x, [s[k] for s in states], layer, direction)
                outputs.append(out)
                for store, value in zip(finals, final):
                    store.append(value)
            x = outputs[0] if directions == 1 else autograd.cat(outputs, -1)
        output = x
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        finals = [autograd.stack(f, 0) for f in finals]
        if unbatched:
            finals = [f.squeeze(1) for f in finals]
        return output, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def _run(self, x: Tensor, state: list, layer: int, direction: int) -> tuple:
        """One layer in one direction over the sequence ``x`` (L, N, in): the
        stacked hidden states (L, N, H) and the final state(s)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        if b_ih is not None and self.mode != "GRU":  # both biases added once, up front
            b_ih, b_hh = b_ih + b_hh, None  # (the GRU's bₕₙ sits inside r ⊙ (...))
        steps = linear(x, w_ih, b_ih).unbind(0)
        if direction:
            steps = steps[::-1]
        outputs = []
        if self.mode == "LSTM":
            h, c = state
            for xp in steps:
                h, c = lstm_step(xp, h, c, w_hh, b_hh)
                outputs.append(h)
            final = (h, c)
        else:
            (h,) = state
            if self.mode == "GRU":
                for xp in steps:
                    h = gru_step(xp, h, w_hh, b_hh)
                    outputs.append(h)
            else:
                activation = _ACTIVATIONS[self.nonlinearity]
                for xp in steps:
                    h = rnn_step(xp, h, w_hh, b_hh, activation)
                    outputs.append(h)
            final = (h,)
        if direction:
            outputs.reverse()
        return autograd.stack(outputs, 0), final


class RNN(RNNBase):
    """An Elman RNN, h_t = tanh(x_t Wᵢₕᵀ + bᵢₕ + h_(t-1) Wₕₕᵀ + bₕₕ) (or relu), stacked
    ``num_layers`` deep. Returns ``(output, h_n)``; see :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """A long short-term memory network (gates i, f, g, o), ``num_layers`` deep.
    ``lstm(input, (h_0, c_0))`` returns ``(output, (h_n, c_n))``; see :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)


class GRU(RNNBase):
    """A gated recurrent unit network (gates r, z, n), ``num_layers`` deep.
    Returns ``(output, h_n)``; see :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)
