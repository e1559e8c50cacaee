"""Optimizer: the base every update rule builds on (plays ``torch.optim.Optimizer``).

An optimizer holds ``param_groups`` (lists of parameters that share options such as
``lr``) and a per-parameter ``state`` (momentum buffers, running averages, step
counts). ``step()`` reads each parameter's ``grad`` and changes ``param.data`` in
place: an update is not part of any graph, just as PyTorch updates under no_grad.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd import Tensor, backend, enable_grad, no_grad
from autograd.function import constant
from autograd.tracer import run_opaque


def descent_grad(param: Tensor, maximize: bool, weight_decay: float) -> np.ndarray:
    """The gradient an update rule follows: g = ±∇f(θ) + λθ.

    ``maximize`` flips the sign (ascend instead of descend); ``weight_decay`` λ adds
    the gradient of the L2 penalty λ/2·‖θ‖². The parameter's own ``grad`` is never
    changed: a new array is made when either option is on.
    """
    grad = param.grad.data
    if maximize:
        grad = -grad
    if weight_decay != 0:
        decayed = param.data * weight_decay
        decayed += grad
        grad = decayed
    return grad


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}  # PyTorch's wording


def check_nonnegative(**options: float) -> None:
    """Raise PyTorch's ValueError for a negative (or NaN) option, e.g.
    ``check_nonnegative(lr=-1)`` -> "Invalid learning rate: -1"."""
    for name, value in options.items():
        if not value >= 0.0:
            raise ValueError(f"Invalid {_LABELS.get(name, f'{name} value')}: {value}")


def _copy_value(value: Any) -> Any:
    """A deep copy of optimizer state: arrays copied, containers rebuilt."""
    if isinstance(value, Tensor):
        return Tensor(value)  # copies the array, drops any graph
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_value(item) for item in value)
    return value


class Optimizer:
    """Base class of the optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Tensors, or of dicts each holding ``"params"`` and
    the options for that group; ``defaults`` fills the options a group leaves out.
    A subclass gives the update rule for one parameter in
    ``_update(param, state, group)``, or overrides ``step`` itself.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got a Tensor of shape {params.shape}"
            )
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join([*lines, ")"])

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__name__}"
                )
            if not param.is_leaf:
                raise ValueError(
                    f"can't optimize a non-leaf Tensor (shape {param.shape}, made by "
                    f"{param.grad_fn.name()}); optimize the leaf it was computed from"
                )
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; each "
                "is updated once per occurrence",
                stacklevel=3,
            )
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**param_group, "params": params}
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``grad``: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif param.grad.requires_grad or not param.grad.data.flags.writeable:
                    # a gradient that is part of a graph (create_graph=True) or a
                    # read-only view must not be zeroed under the graph's feet
                    param.grad = constant(backend.zeros_like(param.grad.data))
                else:
                    param.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s loss.

        ``closure`` re-evaluates the model and returns the loss (it runs with grad
        recording on, so it can call ``backward()``); optimizers that look at the
        loss several times per step need it, the others accept it.
        """
        # inside autograd.compile's trace, recorded as one call the replay makes
        # again as Python: learning rates, step counts and schedules are read then
        return run_opaque(self._step, closure, label=f"{type(self).__name__}.step()")

    def _step(self, closure: Callable[[], Any] | None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    grad = param.grad
                    if grad is not None:
                        if grad.data.shape != param.data.shape:
                            _wrong_grad_shape(self, param, grad)
                        self._update(param, self.state[param], group)
        return loss

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} defines no update rule: override step() or _update()"
        )

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as PyTorch lays it out, deep-copied.

        ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``:
        parameters are named by their position across all groups, so the dict can
        be loaded into a fresh optimizer over the same parameters.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed = {key: _copy_value(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index_of[id(param)] for param in group["params"]]
            groups.append(packed)
        state = {
            index_of[id(param)]: _copy_value(values)
            for param, values in self.state.items()
            if values and id(param) in index_of  # plain SGD keeps no state
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()``: options per group and state per parameter (copied)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(self.param_groups)})"
            )
        for index, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group (group {index}, "
                    f"{len(saved['params'])} params) that doesn't match the size of "
                    f"optimizer's group ({len(group['params'])} params)"
                )
        param_of = {
            saved_index: param
            for group, saved in zip(self.param_groups, saved_groups)
            for saved_index, param in zip(saved["params"], group["params"])
        }
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if key in param_of:
                state[param_of[key]] = _state_for(param_of[key], key, values)
            else:
                state[key] = _copy_value(values)
        self.state = state
        self.param_groups = [
            {**_copy_value({k: v for k, v in saved.items() if k != "params"}),
             "params": group["params"]}
            for group, saved in zip(self.param_groups, saved_groups)
        ]


def _wrong_grad_shape(optimizer: Optimizer, param: Tensor, grad: Tensor) -> None:
    # ``p.grad = g`` is checked when assigned; this catches ``p.grad.data = ...``:
    # a gradient of another shape must never be broadcast into the update
    raise RuntimeError(
        f"{type(optimizer).__name__}.step: a parameter of shape {tuple(param.shape)} holds "
        f"a gradient of shape {tuple(grad.shape)}; they must match"
    )


def _state_for(param: Tensor, index: int, values: dict[str, Any]) -> dict[str, Any]:
    """Saved state of one parameter, copied, its buffers cast to the parameter's dtype
    and placed on its device (as PyTorch's optimizers do)."""
    state = {}
    for key, value in values.items():
        if key != "step" and isinstance(value, (Tensor, np.ndarray)):
            array = value.data if isinstance(value, Tensor) else value
            if array.shape != param.shape:
                raise ValueError(
                    f"loaded state dict has state '{key}' of shape {tuple(array.shape)} "
                    f"for parameter {index} of shape {tuple(param.shape)}"
                )
            value = Tensor(array, dtype=param.dtype if param.dtype.kind == "f" else None,
                           device=param.device)
        else:
            value = _copy_value(value)
        state[key] = value
    return state
