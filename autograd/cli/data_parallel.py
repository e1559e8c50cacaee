"""``chaingrad train`` on N processes: data parallel, on MPI.

``chaingrad train --nproc N`` starts ``mpirun -n N`` on this machine with the
same command line (what ``torchrun --nproc-per-node`` does for torch);
``mpirun -n N chaingrad train ...`` (across machines: ``mpirun -H a:2,b:2``)
starts the ranks directly. Every rank then draws the same shuffled order, cuts
it into global batches of N x ``--batch-size`` and trains on its own share of
each (rows split as evenly as they go), with gradients averaged by
``DistributedDataParallel``. Each rank's loss is weighted by its share of the
global batch, so every step is the step one process takes on the whole global
batch, even for a last batch that does not split evenly: ``--nproc 2
--batch-size 16`` trains the same model as ``--nproc 1 --batch-size 32``, to
float rounding (tests/distributed/test_train_data_parallel.py). Both jobs run
this way: the digits (``train.py``) and the language model (``--task lm``,
``lm.py``), whose rows are equally long windows of text.

Only rank 0 prints and writes files; the other ranks' stdout goes to
/dev/null, their errors still reach stderr, and an error in any rank ends all
of them. Started alone (no ``mpirun``), nothing here changes a thing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

from autograd.distributed import launch
from autograd.distributed.group import INSTALL_HINT, launched_size


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=int, default=1,
                   help="train data-parallel on this many processes on this machine (starts "
                   "mpirun for you); --batch-size is per process")


def launch_if_asked(args: argparse.Namespace, argv: Sequence[str]) -> int | None:
    """Run ``argv`` as ``args.nproc`` MPI ranks when ``--nproc`` asks for more than one
    and this process is not already one of them: mpirun's exit status. None: train here."""
    nproc = getattr(args, "nproc", 1)
    if isinstance(nproc, int) and nproc < 1:
        raise SystemExit(f"chaingrad {args.command}: --nproc must be at least 1, got {nproc}")
    size = launched_size()
    if size is not None:  # already a rank of an MPI job
        if nproc != 1 and size not in (0, nproc):
            raise SystemExit(f"chaingrad {args.command}: --nproc {nproc}, but mpirun started "
                             f"{size} processes; give one or the other")
        return None
    if nproc == 1:
        return None
    if importlib.util.find_spec("mpi4py") is None:
        raise SystemExit(f"chaingrad {args.command} --nproc {nproc}: mpi4py is not installed; "
                         f"{INSTALL_HINT}")
    try:
        command = launch.mpirun_command(nproc, [sys.executable, "-m", "autograd", *argv])
    except RuntimeError as err:
        raise SystemExit(f"chaingrad {args.command} --nproc {nproc}: {err}") from None
    print(f"starting {nproc} processes: {' '.join(command)}", flush=True)
    return launch.run(nproc, command[command.index(sys.executable):])


class World:
    """This process's part in a training run: rank ``rank`` of ``size``.

    Alone it is rank 0 of 1 and every method hands its input back unchanged.
    """

    def __init__(self, rank: int = 0, size: int = 1) -> None:
        self.rank, self.size = rank, size
        self._weight = 1.0
        self.rows = 0  # how many rows of the last batch are this rank's

    @property
    def is_main(self) -> bool:
        """Whether this rank prints and writes files."""
        return self.rank == 0

    def describe(self, batch_size: int) -> str:
        return (f"data parallel: {self.size} processes x batch {batch_size} = "
                f"{self.size * batch_size} samples per step")

    def wrap(self, model: Any) -> Any:
        """What training calls: ``model`` in DDP on several ranks (rank 0's weights)."""
        if self.size == 1:
            return model
        from nn.parallel import DistributedDataParallel

        # the train command's buffers are constants (the standardiser's statistics):
        # broadcast once when wrapped, not at every forward
        return DistributedDataParallel(model, broadcast_buffers=False)

    def share(self, batch: Sequence) -> tuple:
        """This rank's rows of a global batch (a tuple of Tensors, rows first)."""
        n = len(batch[0])
        if self.size == 1:
            self.rows = n
            return tuple(batch)
        start, stop = self.rank * n // self.size, (self.rank + 1) * n // self.size
        self.rows = stop - start
        if start == stop:  # fewer rows than ranks: a row with no weight keeps in step
            self._weight = 0.0
            return tuple(t[:1] for t in batch)
        # the mean loss over these rows, weighted so that DDP's average over the ranks
        # is the mean over the global batch
        self._weight = (stop - start) * self.size / n
        return tuple(t[start:stop] for t in batch)

    def backward(self, loss: Any) -> None:
        """``loss.backward()``, for the loss of this rank's share of the batch."""
        (loss if self._weight == 1.0 else loss * self._weight).backward()

    def step_outcome(self, loss: float, stop: bool = False) -> tuple:
        """The global batch's mean loss, from ``loss``, this rank's mean over its rows
        (the last :meth:`share`), and whether any rank says ``stop``: one small
        all-reduce, so that every rank sees the loss one process would and all stop at
        the same step. Alone: ``(loss, stop)`` as they are."""
        if self.size == 1:
            return loss, stop
        total, rows, stops = self.sum(loss * self.rows, self.rows, float(stop))
        return total / rows, stops > 0

    def own_randomness(self, seed: int, step: int) -> None:
        """Give this rank a random stream of its own for what training draws (dropout
        masks), so that ranks do not draw the same masks for different rows. Rank 0
        keeps the stream it has (the one a single process has); rank r > 0 is reseeded
        from ``(seed, r, step)``. Call it after the model is built (DDP hands every
        rank rank 0's weights anyway) and after a checkpoint's random state is loaded."""
        if self.rank == 0:
            return
        import numpy as np

        import autograd

        sequence = np.random.SeedSequence((seed, self.rank, step))
        autograd.manual_seed(int(sequence.generate_state(1, np.uint64)[0]))

    def sum(self, *numbers: float) -> tuple:
        """``numbers`` summed over the ranks (every rank gets the sums)."""
        if self.size == 1:
            return numbers
        import autograd
        import autograd.distributed as dist

        total = autograd.tensor([float(x) for x in numbers], dtype=autograd.float64)
        dist.all_reduce(total)
        return tuple(total.data.tolist())


def setup(args: argparse.Namespace) -> World:
    """Join the MPI job this process is a rank of, if any; alone, a World of one.

    On ranks other than 0 the progress bar is off and stdout goes to /dev/null.
    """
    if launched_size() is None:
        return World()
    import autograd.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group()
    world = World(dist.get_rank(), dist.get_world_size())
    args.nproc = world.size
    if not world.is_main:
        args.no_progress = True
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the rest of this process)
    return world
