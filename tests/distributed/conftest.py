"""Fixtures of the distributed tests: ``need_mpi`` and ``worker_job``.

Without Open MPI or mpi4py these tests skip, unless ``CHAINGRAD_REQUIRE_MPI=1``
(``.ci/run`` sets it), where they fail: CI must run them.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

import pytest
from mpi_jobs import WORKER, Job, mpi_missing, run_job


@pytest.fixture(scope="session")
def need_mpi() -> None:
    missing = mpi_missing()
    if missing is None:
        return
    if os.environ.get("CHAINGRAD_REQUIRE_MPI") == "1":
        pytest.fail(f"CHAINGRAD_REQUIRE_MPI=1 but {missing}")
    pytest.skip(missing)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder every xdist worker of this session sees (and no other session)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def worker_job(need_mpi, shared_dir):
    """``worker_job(n, scenario)``: the worker's job, run once per session and shared by
    the tests (and xdist workers) that read it."""

    def get(n: int, scenario: str, timeout: float = 300) -> Job:
        folder = shared_dir / f"mpi-{scenario}-{n}"
        folder.mkdir(exist_ok=True)
        with open(shared_dir / f"mpi-{scenario}-{n}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = folder / "job.json"
            if done.exists():
                return Job(*json.loads(done.read_text()))
            job = run_job(n, [sys.executable, str(WORKER), scenario, str(folder)], folder,
                          timeout)
            done.write_text(json.dumps(job))
            return job

    return get
