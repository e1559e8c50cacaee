"""Run jobs under ``mpirun`` for the distributed tests (conftest.py's fixtures use it).

``run_job(n, command, out, timeout)`` runs ``mpirun -n n`` (with ``--oversubscribe``,
and ``--allow-run-as-root`` as root: :func:`autograd.distributed.launch.mpirun_command`)
in its own session, killing every rank if it runs past the timeout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from autograd.distributed.launch import mpirun_command

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("mpi_worker.py")


def mpi_missing() -> str | None:
    if shutil.which("mpirun") is None:
        return "Open MPI's mpirun is not installed (apt-get install openmpi-bin)"
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed (pip install -e ".[distributed]")'
    return None


class Job(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    ended: float  # time.time() when mpirun had exited
    results: list  # rank<r>.json of each rank that wrote one, by rank


def env_for_ranks() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # ranks waiting in MPI give the core away: the CI machine has two, shared with
        # the other test worker
        "OMPI_MCA_mpi_yield_when_idle": "1",
    }


def run_job(n: int, command: list, out: Path, timeout: float, cwd: Path = ROOT) -> Job:
    """``mpirun -n n command`` in ``cwd``; every rank is killed if it runs past ``timeout``
    seconds. ``out``: where the ranks write ``rank<r>.json`` (read back into the Job)."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(mpirun_command(n, command), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env_for_ranks(),
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"mpirun -n {n} {command} ran past {timeout} s:\n{stdout}\n{stderr}")
    ended, seconds = time.time(), time.perf_counter() - start
    results = [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]
    return Job(proc.returncode, stdout, stderr, seconds, ended, results)


