"""Every op of the registry on the device under test (``CHAINGRAD_TEST_DEVICE``)
against the same op on the CPU, in float64: values and gradients within a
relative error of 1e-10 (normwise, per array), so a device's kernels (CuPy's
``erf``, ``expit``, cuBLAS, the scatter-adds) and the branches ops take off the
CPU (no peeking at values) compute what the CPU computes. The CPU run has nothing
to compare and skips; CI runs it on the strict device, the GPU script on cuda.

With ``CHAINGRAD_PARITY_LOG=path`` each comparison appends a line
``op  worst relative error`` to ``path`` (the GPU script reports the worst).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from devices import DEVICE, ON_CPU
from hypothesis import given
from hypothesis import strategies as st
from op_checks import host, inputs, outputs
from op_registry import OPS, op_id
from strategies import FAST

import autograd as ag

pytestmark = pytest.mark.skipif(ON_CPU, reason="compares another device with the CPU")

CPU = ag.device("cpu")
#: normwise relative error allowed between the device's result and the CPU's
RTOL = 1e-10


def relative_error(ours: np.ndarray, cpu: np.ndarray) -> float:
    """max |ours - cpu| / max |cpu| (0 when both are all zero; NaN and inf must agree)."""
    finite = np.isfinite(cpu)
    assert np.array_equal(finite, np.isfinite(ours)), "NaN/inf in different places"
    assert np.array_equal(cpu[~finite], ours[~finite], equal_nan=True)
    if not finite.any():
        return 0.0
    diff = np.abs(ours[finite].astype(np.float64) - cpu[finite]).max(initial=0.0)
    scale = np.abs(cpu[finite]).max(initial=0.0)
    return 0.0 if diff == 0 else float(diff / scale) if scale else float("inf")


def run_on(device, op, sample) -> list:
    """The op's outputs and the gradients of Σ w ⊙ outputs (w fixed), as host arrays."""
    xs, kwargs = inputs(ag, sample)
    xs = [x.detach().to(device).requires_grad_(x.requires_grad) for x in xs]
    kwargs = {k: v.to(device) if isinstance(v, ag.Tensor) else v for k, v in kwargs.items()}
    result = outputs(op.call(ag, *xs, **kwargs))
    arrays = [host(o) for o in result]
    floats = [x for x in xs if x.requires_grad]
    if not op.grad or not floats:
        return arrays
    rng = np.random.default_rng(0)
    total = 0
    for o in result:
        if o.requires_grad:
            total = total + (o * ag.tensor(rng.standard_normal(tuple(o.shape)),
                                           device=device)).sum()
    if not isinstance(total, ag.Tensor):
        return arrays
    grads = ag.grad(total, floats, allow_unused=True)
    return arrays + [None if g is None else host(g) for g in grads]


@pytest.mark.parametrize("op", OPS, ids=op_id)
@FAST
@given(data=st.data())
def test_the_device_computes_what_the_cpu_computes(op, data):
    sample = op.sample(data)
    ours, cpu = run_on(DEVICE, op, sample), run_on(CPU, op, sample)
    assert len(ours) == len(cpu)
    worst = 0.0
    for k, (a, b) in enumerate(zip(ours, cpu)):
        if b is None:
            assert a is None or not a.any(), f"{op.name}: result {k}"
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, f"{op.name}: result {k}"
        if b.dtype.kind != "f":
            np.testing.assert_array_equal(a, b, err_msg=f"{op.name}: result {k}")
            continue
        error = relative_error(a, b)
        worst = max(worst, error)
        assert error <= RTOL, f"{op.name}: result {k} off by {error:.3g} (relative)"
    log = os.environ.get("CHAINGRAD_PARITY_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{op.name}\t{worst:.3e}\n")
