"""``autograd.distributed`` and DDP in a process started on its own: a world of one
that needs no MPI, errors worded as torch's, buckets, and what DDP adds to a model
(the multi-rank behaviour is in test_mpi.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import autograd
import autograd.distributed as dist
import nn
import nn.functional as F
from autograd.distributed.group import launched_size
from nn.parallel import DistributedDataParallel as DDP


@pytest.fixture
def world(monkeypatch):
    """A fresh world of one (no launcher variables), destroyed afterwards."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK",
                "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    dist.init_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_importing_never_starts_mpi():
    code = ("import sys, autograd, nn, autograd.distributed as d; import nn.parallel; "
            "print('mpi4py.MPI' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_alone_is_a_world_of_one(world):
    assert dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "mpi")
    assert launched_size() is None
    dist.barrier()
    assert dist.barrier(async_op=True).wait() is True


def test_group_state_errors_match_torch(world):
    with pytest.raises(ValueError, match="initialize the default process group twice"):
        dist.init_process_group()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(autograd.ones(1))):
        with pytest.raises(ValueError, match="has not been initialized"):
            call()


@pytest.mark.parametrize("backend", ["nccl", "gloo"])
def test_only_the_mpi_backend(monkeypatch, backend):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="backend='mpi'"):
        dist.init_process_group(backend)
    assert not dist.is_initialized()


def test_asking_for_many_ranks_without_a_launcher_says_how(monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="mpirun -n 4"):
        dist.init_process_group(world_size=4)
    assert not dist.is_initialized()


def test_without_mpi4py_only_a_group_of_many_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(ImportError, match=r"one of 2 processes.*chaingrad\[distributed\]"):
        dist.init_process_group()
    assert not dist.is_initialized()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")  # mpirun -n 1: fine without it
    monkeypatch.setattr(dist.collectives, "is_available", lambda: False)
    dist.init_process_group()
    assert dist.get_world_size() == 1
    dist.destroy_process_group()


def test_is_available_means_mpi4py_is_installed():
    import importlib.util

    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)


@pytest.mark.parametrize("op", list(dist.ReduceOp))
def test_collectives_of_one_rank_keep_the_values(world, op):
    t = autograd.tensor(np.arange(6.0).reshape(2, 3))
    work = dist.all_reduce(t, op=op, async_op=True)
    assert work.wait() and work.is_completed()
    np.testing.assert_array_equal(t.data, np.arange(6.0).reshape(2, 3))
    dist.broadcast(t, src=0)
    out = [autograd.zeros(2, 3, dtype=autograd.float64)]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0].data, t.data)
    stacked = autograd.zeros(1, 2, 3, dtype=autograd.float64)
    dist.all_gather_into_tensor(stacked, t)
    np.testing.assert_array_equal(stacked.data[0], t.data)
    objects = [None]
    dist.all_gather_object(objects, {"rank": 0})
    assert objects == [{"rank": 0}]
    shared = ["from rank 0", 1]
    dist.broadcast_object_list(shared, src=0)
    assert shared == ["from rank 0", 1]


def test_all_reduce_works_in_place_on_strided_views(world):
    base = autograd.tensor(np.arange(12.0).reshape(3, 4))
    view = base.T  # not contiguous: reduced through a copy that is written back
    dist.all_reduce(view, op=dist.ReduceOp.MAX)
    np.testing.assert_array_equal(base.data, np.arange(12.0).reshape(3, 4))


def test_collective_argument_errors(world):
    with pytest.raises(TypeError, match="all_reduce: tensor must be a Tensor, got ndarray"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(TypeError, match="MPI cannot reduce or move dtype float16"):
        dist.all_reduce(autograd.ones(3, dtype=np.float16))
    with pytest.raises(TypeError, match="MPI cannot reduce or move dtype bool"):
        dist.broadcast(autograd.ones(3) > 0, src=0)
    with pytest.raises(TypeError, match=r"ReduceOp\.AVG needs a floating-point tensor"):
        dist.all_reduce(autograd.arange(3), op=dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="op must be a ReduceOp"):
        dist.all_reduce(autograd.ones(3), op="sum")
    with pytest.raises(RuntimeError, match="invalid root rank 1"):
        dist.broadcast(autograd.ones(3), src=1)
    with pytest.raises(ValueError, match="read-only view"):
        dist.all_reduce(autograd.ones(1).expand(3))
    with pytest.raises(ValueError, match=r"list of world_size \(1\) tensors, got 2"):
        dist.all_gather([autograd.ones(2), autograd.ones(2)], autograd.ones(2))
    with pytest.raises(ValueError, match=r"tensor_list\[0\] has shape \(3,\)"):
        dist.all_gather([autograd.ones(3)], autograd.ones(2))
    with pytest.raises(ValueError, match="world_size \\(1\\) blocks"):
        dist.all_gather_into_tensor(autograd.ones(3), autograd.ones(2))


def test_all_reduce_marks_the_array_changed_for_the_graph(world):
    """A collective writes in place: a graph that saved the tensor must refuse to
    backward through the stale value, as after any in-place change."""
    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = (y * y).sum()  # saves y
    with autograd.no_grad():
        dist.all_reduce(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


# --------------------------------------------------------------------------- DDP


def mlp(seed: int = 0, dtype=np.float64) -> nn.Module:
    autograd.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).to(dtype)


def test_ddp_needs_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="has not been initialized"):
        DDP(mlp())


def test_ddp_of_one_rank_gives_the_plain_gradients(world):
    plain, wrapped = mlp(), mlp()
    ddp = DDP(wrapped)
    x, y = autograd.randn(8, 6, dtype=autograd.float64), autograd.randint(0, 3, (8,))
    for _ in range(2):  # accumulates like a plain model across two backward passes
        F.cross_entropy(plain(x), y).backward()
        F.cross_entropy(ddp(x), y).backward()
    for p, q in zip(plain.parameters(), wrapped.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)
    stats = ddp.last_stats
    assert len(stats.bucket_bytes) == 1 and stats.wait_s >= 0


def test_ddp_state_dict_has_the_module_prefix_and_loads(world):
    ddp = DDP(mlp())
    assert list(ddp.state_dict()) == [f"module.{k}" for k in ddp.module.state_dict()]
    other = DDP(mlp(seed=1))
    other.load_state_dict(ddp.state_dict())
    for p, q in zip(ddp.parameters(), other.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert ddp.module is not other.module and "module" in dict(ddp.named_children())


def test_buckets_in_reverse_order_by_size_and_dtype(world):
    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 100), nn.Linear(100, 10))
    model[1].double()
    ddp = DDP(model, bucket_cap_mb=0.04)  # 40 KiB
    # one open bucket per dtype, taken from the end: 1.weight (80 kB of float64) closes
    # the float64 bucket first; the float32 one closes at 0.weight (44 kB in all)
    assert ddp.bucket_names == [["1.bias", "1.weight"],
                                ["2.bias", "2.weight", "0.bias", "0.weight"]]
    first_cap = DDP(nn.Sequential(nn.Linear(600, 600), nn.Linear(600, 600)))
    # PyTorch's first bucket holds ~1 MB so that communication starts early
    assert first_cap.bucket_names == [["1.bias", "1.weight"], ["0.bias", "0.weight"]]
    assert DDP(mlp()).bucket_names == [["2.bias", "2.weight", "0.bias", "0.weight"]]


def test_unused_parameter_is_an_error_that_names_it(world):
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head, self.spare = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body(x))

    ddp = DDP(TwoHeads())
    with pytest.raises(RuntimeError, match=r"'spare\.bias', 'spare\.weight'.*find_unused_param"):
        ddp(autograd.randn(3, 4)).sum().backward()
    lenient = DDP(TwoHeads(), find_unused_parameters=True)
    lenient(autograd.randn(3, 4)).sum().backward()
    assert lenient.module.spare.weight.grad is None  # unused on every rank: untouched
    assert lenient.module.head.weight.grad is not None


def test_only_forwards_through_ddp_with_grad_on_average(world):
    ddp = DDP(mlp())
    x = autograd.randn(2, 6, dtype=autograd.float64)
    ddp.module(x).sum().backward()  # the bare module: DDP takes no part
    assert ddp.last_stats is None
    with autograd.no_grad():
        ddp(x)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert ddp.last_stats is None
    ddp(x).sum().backward()
    assert ddp.last_stats is not None


def test_ddp_argument_errors(world):
    with pytest.raises(TypeError, match=r"module must be an nn\.Module"):
        DDP(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        DDP(mlp(), bucket_cap_mb=0)
    frozen = mlp().requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        DDP(frozen)


def test_a_gradient_of_another_dtype_than_wrapped_is_refused(world):
    ddp = DDP(mlp(dtype=np.float64))
    ddp.module.float()
    with pytest.raises(RuntimeError, match=r"'2\.bias' has a gradient of dtype float32"):
        ddp(autograd.randn(2, 6)).sum().backward()


def test_a_backward_broken_off_by_an_error_leaves_ddp_usable(world):
    model = mlp()
    ddp = DDP(model)
    x = autograd.randn(4, 6, dtype=autograd.float64)

    def fail(grad):
        raise ValueError("broken off")

    out = ddp(x)
    model[0].weight.register_hook(fail)  # raises after the last layer's grads arrived
    with pytest.raises(ValueError, match="broken off"):
        out.sum().backward()
    assert ddp.last_stats is None
    model[0].weight._hooks.clear()
    model.zero_grad()
    ddp(x).sum().backward()
    assert ddp.last_stats is not None  # this backward was averaged, ended, recorded
    plain = mlp()
    plain(x).sum().backward()
    for p, q in zip(plain.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)


def test_dropping_ddp_takes_its_hooks_off_the_parameters(world):
    import gc

    model = mlp()
    ddp = DDP(model)
    assert all(len(p._post_accumulate_grad_hooks) == 1 for p in model.parameters())
    del ddp
    gc.collect()
    assert all(len(p._post_accumulate_grad_hooks) == 0 for p in model.parameters())


# --------------------------------------------------------------------------- the launcher


def test_mpirun_command_for_this_machine(monkeypatch):
    from autograd.distributed import launch

    monkeypatch.setattr(launch, "is_open_mpi", lambda path: True)
    cmd = launch.mpirun_command(3, ["python", "x.py"], mpirun="/opt/bin/mpirun")
    assert cmd[:3] == ["/opt/bin/mpirun", "-n", "3"] and cmd[-2:] == ["python", "x.py"]
    assert "--oversubscribe" in cmd
    assert ("--allow-run-as-root" in cmd) == (os.geteuid() == 0)
    monkeypatch.setattr(launch, "is_open_mpi", lambda path: False)  # MPICH's needs neither
    assert launch.mpirun_command(2, ["a"], mpirun="mpiexec") == ["mpiexec", "-n", "2", "a"]
    with pytest.raises(ValueError, match="nproc must be a positive integer"):
        launch.mpirun_command(0, ["a"], mpirun="mpiexec")


def test_ranks_get_a_share_of_the_cores_unless_the_user_chose(monkeypatch):
    from autograd.distributed import launch

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    env = launch.thread_env(4, {"PATH": "/bin"})
    assert {env[v] for v in launch.THREAD_VARS} == {"2"} and env["PATH"] == "/bin"
    assert launch.thread_env(16, {})["OMP_NUM_THREADS"] == "1"
    mine = launch.thread_env(4, {"OPENBLAS_NUM_THREADS": "3"})
    assert mine == {"OPENBLAS_NUM_THREADS": "3"}
