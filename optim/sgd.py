"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor

from .optimizer import Optimizer, check_nonnegative, descent_grad


class SGD(Optimizer):
    r"""Gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``.

    With g_t = ∇f(θ_{t-1}) (+ λθ_{t-1} for ``weight_decay`` λ, negated for
    ``maximize``), learning rate γ, momentum μ and dampening τ::

        plain:     θ_t = θ_{t-1} - γ g_t
        momentum:  b_1 = g_1,  b_t = μ b_{t-1} + (1 - τ) g_t   (t > 1)
                   θ_t = θ_{t-1} - γ b_t
        nesterov:  θ_t = θ_{t-1} - γ (g_t + μ b_t)

    Momentum keeps a running sum of past gradients, so steady directions speed up
    and oscillating ones cancel; Nesterov's form looks one momentum step ahead.
    The buffer starts as the first gradient itself (no dampening on step 1).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.001,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        grad = descent_grad(param, group["maximize"], group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = Tensor(grad)  # b_1 = g_1 (a copy)
            else:
                buffer.data *= momentum
                buffer.data += grad if group["dampening"] == 0 else (1 - group["dampening"]) * grad
            if group["nesterov"]:
                grad = grad + momentum * buffer.data
            else:
                grad = buffer.data
        param.data -= np.multiply(grad, group["lr"])
