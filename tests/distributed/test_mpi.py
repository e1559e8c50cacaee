"""The collectives and DistributedDataParallel across real ranks: ``mpirun -n 2`` and
``-n 4`` on this machine (mpi_worker.py holds what each rank runs)."""

from __future__ import annotations

import pytest

SIZES = [2, 4]


def failed_checks(job) -> dict:
    return {f"rank {r['rank']}: {name}": c["detail"] for r in job.results
            for name, c in r["checks"].items() if isinstance(c, dict) and not c["ok"]}


def checked(job, n: int, name_part: str) -> list:
    """The checks whose name contains ``name_part``, from every rank; all passed."""
    assert job.returncode == 0, job.stderr[-3000:]
    assert [r["rank"] for r in job.results] == list(range(n))
    assert all(r["size"] == n for r in job.results)
    found = [(r["rank"], name, c) for r in job.results for name, c in r["checks"].items()
             if name_part in name]
    assert len(found) >= n, f"no check named like {name_part!r}"
    bad = [(rank, name, c["detail"]) for rank, name, c in found if not c["ok"]]
    assert not bad, bad
    return found


@pytest.mark.parametrize("n", SIZES)
def test_collectives_give_every_rank_the_result(worker_job, n):
    job = worker_job(n, "collectives")
    checked(job, n, "")
    assert not failed_checks(job)
    names = set(job.results[0]["checks"])
    assert {"async all_reduce, three in flight", "broadcast from the last rank",
            "all_gather", "all_reduce AVG float64"} <= names


@pytest.mark.parametrize("n", SIZES)
def test_n_ranks_match_one_process_with_n_times_the_batch(worker_job, n):
    """20 SGD (momentum) steps of a small CNN in float64, to 1e-12, starting from
    different weights on each rank (DDP broadcasts rank 0's)."""
    found = checked(worker_job(n, "train"), n, f"== 1 process x batch {3 * n}")
    assert all(c["detail"]["max_abs_diff"] <= 1e-12 for _, _, c in found)


@pytest.mark.parametrize("n", SIZES)
def test_parameters_are_bit_identical_on_every_rank_after_100_steps(worker_job, n):
    job = worker_job(n, "train")
    checked(job, n, "parameters moved in 100 steps")
    assert len({r["digest"] for r in job.results}) == 1, [r["digest"] for r in job.results]


@pytest.mark.parametrize("n", SIZES)
def test_no_sync_accumulation_equals_one_big_batch(worker_job, n):
    job = worker_job(n, "train")
    checked(job, n, "no_sync keeps the local gradient")
    checked(job, n, "no_sync over 3 micro-batches")


@pytest.mark.parametrize("n", SIZES)
def test_bucket_all_reduce_overlaps_backward(worker_job, n):
    """Recorded per bucket: when its all-reduce started, relative to the end of
    backward (negative: during backward), and how many buckets were in flight when
    the last gradient (the first layer's) arrived."""
    job = worker_job(n, "train")
    checked(job, n, "a bucket per layer")
    checked(job, n, "launched before the first layer's gradient")
    checked(job, n, "starts before backward ends")
    for r in job.results:
        for offsets in r["checks"]["launch_offsets_s"]:
            assert offsets == sorted(offsets)  # in bucket order, all before the end
            assert offsets[-1] <= 0


@pytest.mark.parametrize("n", SIZES)
def test_find_unused_parameters(worker_job, n):
    checked(worker_job(n, "train"), n, "find_unused_parameters")


def test_an_exception_in_one_rank_ends_the_job_quickly(worker_job):
    job = worker_job(2, "fail", timeout=60)
    assert job.returncode != 0
    assert "ValueError: rank 1 fails at step 3" in job.stderr
    assert "[rank 1 of 2] uncaught ValueError" in job.stderr
    raised = [float(line.split()[-1]) for line in job.stdout.splitlines()
              if line.startswith("raising at")]
    assert raised, job.stdout
    assert job.ended - raised[0] < 10, f"the job ended {job.ended - raised[0]:.1f} s later"


def test_a_parameter_without_gradient_is_named_and_ends_the_job(worker_job):
    job = worker_job(2, "unused", timeout=60)
    assert job.returncode != 0
    assert "'spare.bias', 'spare.weight'" in job.stderr
    assert "find_unused_parameters=True" in job.stderr


@pytest.mark.parametrize("n", SIZES)
def test_train_command_ranks_agree_on_each_step_and_draw_their_own_dropout(worker_job, n):
    """``World.step_outcome`` (loss and stop flag, one all-reduce) and
    ``World.own_randomness`` (rank 0 keeps one process's stream, the others their own)."""
    found = checked(worker_job(n, "collectives"), n, "World.")
    assert len(found) == 3 * n
