"""Adam and AdamW: momentum plus RMSProp scaling, with bias correction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd import Tensor, zeros_like

from .optimizer import Optimizer, check_nonnegative, descent_grad


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    With g_t = ∇f(θ_{t-1}) (+ λθ_{t-1} for ``weight_decay`` λ, negated for
    ``maximize``), learning rate γ, betas (β₁, β₂), moments starting at 0::

        m_t = β₁ m_{t-1} + (1 - β₁) g_t          (first moment: momentum)
        v_t = β₂ v_{t-1} + (1 - β₂) g_t²         (second moment: as RMSProp)
        amsgrad: v̂_t = max(v̂_{t-1}, v_t), otherwise v̂_t = v_t
        θ_t = θ_{t-1} - γ/(1 - β₁ᵗ) · m_t / (√v̂_t / √(1 - β₂ᵗ) + ε)

    Dividing by 1 - βᵗ removes the bias toward 0 the moments have in early steps,
    when they have averaged few gradients. ``amsgrad`` keeps the largest second
    moment seen, so the effective step never grows.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        check_nonnegative(weight_decay=weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update(self, param: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_like(param)
            state["exp_avg_sq"] = zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(param)
        state["step"] += 1
        step = state["step"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if group["decoupled_weight_decay"]:
            if weight_decay != 0:
                param.data *= 1 - lr * weight_decay
            grad = descent_grad(param, group["maximize"], 0)
        else:
            grad = descent_grad(param, group["maximize"], weight_decay)

        exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
        scratch = np.subtract(grad, exp_avg)  # m += (1 - β₁)(g - m), torch's lerp form
        scratch *= 1 - beta1
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=scratch)
        scratch *= grad
        exp_avg_sq += scratch
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"].data
            np.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq

        step_size = lr / (1 - beta1**step)
        denom = np.sqrt(second, out=scratch)
        denom /= (1 - beta2**step) ** 0.5
        denom += group["eps"]
        np.divide(exp_avg, denom, out=denom)
        denom *= step_size
        param.data -= denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    The same moments and step as :class:`Adam`, but the decay shrinks the
    parameter directly instead of entering the gradient::

        θ ← θ (1 - γλ),   then the Adam step with g_t = ∇f(θ_{t-1})

    With Adam's L2 form the decay is divided by √v̂ like the gradient, so weights
    with large gradients are barely decayed; decoupling decays all alike.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad,
            maximize=maximize, decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As Adam's, but the decay stays decoupled whatever the saved groups say."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
