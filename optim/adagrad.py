"""AdaGrad: a per-coordinate learning rate that shrinks with the gradients seen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor, full_like

from .optimizer import Optimizer, check_nonnegative, descent_grad


class Adagrad(Optimizer):
    r"""AdaGrad, as ``torch.optim.Adagrad``.

    With g_t = ∇f(θ_{t-1}) (+ λθ_{t-1} for ``weight_decay`` λ, negated for
    ``maximize``), learning rate γ, decay η (``lr_decay``), and the sum of
    squares starting at ``initial_accumulator_value``::

        γ̃_t = γ / (1 + (t - 1) η)
        s_t = s_{t-1} + g_t²
        θ_t = θ_{t-1} - γ̃_t g_t / (√s_t + ε)

    Coordinates with large past gradients take small steps and rare ones take
    large steps; since s only grows, the steps shrink for good.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        check_nonnegative(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps,
        )
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; as in PyTorch, its state (sum, step) exists from the start."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for param in group["params"]:
            _initialize(self.state[param], param, group)

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:  # e.g. loaded from a state dict that had none for this parameter
            _initialize(state, param, group)
        state["step"] += 1
        grad = descent_grad(param, group["maximize"], group["weight_decay"])
        step_lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        square_sum = state["sum"].data
        square_sum += grad * grad
        scaled = np.sqrt(square_sum)
        scaled += group["eps"]
        np.divide(grad, scaled, out=scaled)
        scaled *= step_lr
        param.data -= scaled


def _initialize(state: dict[str, Any], param: Tensor, group: dict[str, Any]) -> None:
    state["step"] = 0
    state["sum"] = full_like(param, group["initial_accumulator_value"])
