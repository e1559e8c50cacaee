"""Start N copies of a command under MPI on this machine (what ``chaingrad train
--nproc N`` does for the user, as ``torchrun --nproc-per-node`` does for torch).

    >>> mpirun_command(2, ["python", "train.py"])      # as root, with Open MPI
    ['/usr/bin/mpirun', '-n', '2', '--allow-run-as-root', '--oversubscribe', 'python', 'train.py']

Across machines, call ``mpirun`` yourself with ``-H`` or ``--hostfile``
(``docs/distributed.md``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence

from .group import INSTALL_HINT

#: the thread-count variables of the BLAS libraries numpy may use
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def find_mpirun() -> str:
    """The path of ``mpirun`` (or ``mpiexec``), or a RuntimeError saying what to install."""
    path = shutil.which("mpirun") or shutil.which("mpiexec")
    if path is None:
        raise RuntimeError(f"no mpirun or mpiexec on PATH: {INSTALL_HINT} "
                           "(Debian/Ubuntu: apt-get install openmpi-bin; macOS: brew install "
                           "open-mpi)")
    return path


@functools.cache
def is_open_mpi(mpirun: str) -> bool:
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Open MPI" in out or "OpenRTE" in out


def mpirun_command(nproc: int, command: Sequence[str], mpirun: str | None = None) -> list:
    """``mpirun -n nproc command...`` for this machine.

    With Open MPI it adds ``--oversubscribe`` (more ranks than cores is allowed,
    and ranks then yield the core while they wait) and, when run by root,
    ``--allow-run-as-root`` (Open MPI refuses root otherwise).
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"mpirun_command: nproc must be a positive integer, got {nproc!r}")
    mpirun = mpirun or find_mpirun()
    cmd = [mpirun, "-n", str(nproc)]
    if is_open_mpi(mpirun):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd.append("--oversubscribe")
    return [*cmd, *command]


def thread_env(nproc: int, env: dict | None = None) -> dict:
    """``env`` (default: this process's) with the BLAS thread counts set to
    ``cores // nproc`` where the user has set none, so N ranks do not each start a
    thread per core and fight over them."""
    env = dict(os.environ if env is None else env)
    if not any(var in env for var in THREAD_VARS):
        threads = str(max(1, (os.cpu_count() or 1) // nproc))
        env.update(dict.fromkeys(THREAD_VARS, threads))
    return env


def run(nproc: int, command: Sequence[str], env: dict | None = None) -> int:
    """Run ``command`` as ``nproc`` MPI ranks here; the exit status of ``mpirun``.

    Ctrl-C reaches every rank (mpirun forwards it); this waits for them to end.
    """
    proc = subprocess.Popen(mpirun_command(nproc, command), env=thread_env(nproc, env))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return proc.wait()
