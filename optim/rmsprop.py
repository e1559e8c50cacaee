"""RMSProp: divide each step by a running root-mean-square of the gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor, zeros_like

from .optimizer import Optimizer, check_nonnegative, descent_grad


class RMSprop(Optimizer):
    r"""RMSProp, as ``torch.optim.RMSprop``.

    With g_t = ∇f(θ_{t-1}) (+ λθ_{t-1} for ``weight_decay`` λ, negated for
    ``maximize``), learning rate γ, smoothing α, momentum μ, all averages
    starting at 0::

        v_t = α v_{t-1} + (1 - α) g_t²                 (mean square)
        centered:  ḡ_t = α ḡ_{t-1} + (1 - α) g_t,   d_t = √(v_t - ḡ_t²) + ε
        otherwise: d_t = √v_t + ε
        μ > 0:     b_t = μ b_{t-1} + g_t / d_t,      θ_t = θ_{t-1} - γ b_t
        μ = 0:     θ_t = θ_{t-1} - γ g_t / d_t

    Unlike AdaGrad's ever-growing sum, the exponential average forgets old
    gradients, so the step size recovers when gradients shrink. ``centered``
    divides by an estimate of the gradient's standard deviation instead.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_nonnegative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = zeros_like(param)
        state["step"] += 1
        grad = descent_grad(param, group["maximize"], group["weight_decay"])
        alpha = group["alpha"]
        square_avg = state["square_avg"].data
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"].data
            grad_avg += (1 - alpha) * (grad - grad_avg)
            denom = square_avg - grad_avg * grad_avg
            np.sqrt(denom, out=denom)
        else:
            denom = np.sqrt(square_avg)
        denom += group["eps"]
        if group["momentum"] > 0:
            buffer = state["momentum_buffer"].data
            buffer *= group["momentum"]
            buffer += np.divide(grad, denom, out=denom)
            param.data -= group["lr"] * buffer
        else:
            np.divide(grad, denom, out=denom)
            denom *= group["lr"]
            param.data -= denom
