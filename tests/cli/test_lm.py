"""`chaingrad train --task lm` and `chaingrad sample`: the second main job, end to
end on Python's help topics (a short run: the smoke test CI takes)."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest

import nn
from autograd.cli import lm, main
from autograd.data import datasets

# a small model that learns fast: the smoke test of the job
SMALL = ["--d-model", "64", "--layers", "1", "--block-size", "32", "--lr", "0.01",
         "--eval-batches", "4", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short transformer run shared by the tests below (200 steps, a few seconds)."""
    out = tmp_path_factory.mktemp("lm") / "run"
    assert main(["train", "--task", "lm", "--steps", "200", "--eval-every", "100",
                 "--out", str(out), *SMALL]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_ngram_nats_counts_like_the_definition():
    """The vectorised n-gram loss against counting by hand on a small sequence."""
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 5, 300), rng.integers(0, 5, 60)
    for n, k in itertools.product((1, 2, 3), (0.1, 1.0)):
        grams = Counter(tuple(train[i:i + n]) for i in range(len(train) - n + 1))
        contexts = Counter()
        for gram, count in grams.items():
            contexts[gram[:-1]] += count
        nats = [-math.log((grams[tuple(val[i:i + n])] + k) / (contexts[tuple(val[i:i + n - 1])]
                                                             + 5 * k))
                for i in range(len(val) - n + 1)]
        assert lm.ngram_nats(train, val, n, 5, k) == pytest.approx(np.mean(nats), rel=1e-12)


def test_short_training_beats_the_bigram_baseline(trained):
    """The bigram baseline is computed here from the data, independently of the job."""
    _, metrics = trained
    train, val = datasets.text(8, "train"), datasets.text(8, "val")
    bigram = min(lm.ngram_nats(train.data.numpy(), val.data.numpy(), 2, train.vocab_size, k)
                 for k in lm.SMOOTHING)
    assert metrics["baselines"]["bigram"]["nats"] == pytest.approx(bigram)
    assert metrics["baselines"]["trigram"]["nats"] < bigram < math.log(train.vocab_size)
    assert metrics["final_val_loss"] < bigram
    assert metrics["history"]["val_loss"][-1] < metrics["history"]["val_loss"][0]
    assert metrics["history"]["step"] == [100, 200]


def test_outputs_and_checkpoint_reload(trained, capsys):
    out, metrics = trained
    for name in ("checkpoint.npz", "metrics.json", "curves.png"):
        assert (out / name).exists()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = nn.load(out / "checkpoint.npz")
    config = saved["config"]
    assert config["model"] == "transformer" and config["vocab"] == datasets.text(8).vocab
    model = lm.build_model(config)
    model.load_state_dict(saved["model"])  # strict: every key and shape
    val = datasets.text(config["block_size"], "val")
    batches = lm.val_windows(val, config["block_size"], 4, 32)
    assert lm.evaluate(model, batches) == pytest.approx(metrics["final_val_loss"], rel=1e-6)
    assert metrics["config"]["task"] == "lm" and metrics["parameters"] > 0
    assert metrics["sample"].startswith("The ")


def test_sample_command(trained, capsys):
    out, _ = trained
    checkpoint = str(out / "checkpoint.npz")

    def sample(*args):
        assert main(["sample", "--checkpoint", checkpoint, *args]) == 0
        return capsys.readouterr().out.removesuffix("\n")

    first = sample("--prompt", "for ", "--tokens", "40", "--seed", "3")
    assert first.startswith("for ") and len(first) == 4 + 40
    assert sample("--prompt", "for ", "--tokens", "40", "--seed", "3") == first
    assert sample("--prompt", "for ", "--tokens", "40", "--seed", "4") != first
    greedy = sample("--prompt", "the ", "--tokens", "30", "--temperature", "0", "--seed", "1")
    assert greedy == sample("--prompt", "the ", "--tokens", "30", "--temperature", "0",
                            "--seed", "2")
    top1 = sample("--prompt", "the ", "--tokens", "30", "--top-k", "1", "--seed", "5")
    assert top1 == greedy  # k = 1 leaves only the likeliest character
    assert main(["sample", "--checkpoint", checkpoint, "--prompt", "\u00e9t\u00e9"]) == 2
    assert "outside the model's vocabulary" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(out / "missing.npz")]) == 2
    assert capsys.readouterr().err.startswith("chaingrad sample: error: no checkpoint at")


def test_lstm_model_trains_and_samples(tmp_path, capsys):
    out = tmp_path / "lstm"
    assert main(["train", "--task", "lm", "--model", "lstm", "--steps", "30",
                 "--eval-every", "30", "--out", str(out), *SMALL]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final_val_loss"] < math.log(datasets.text(8).vocab_size)
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--tokens", "25"]) == 0
    assert len(capsys.readouterr().out.removesuffix("\n")) == len("The ") + 25


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "cnn"], "not a model of --task lm"),
    (["--d-model", "30", "--heads", "4"], "divisible"),
    (["--steps", "0"], "--steps"),
    (["--dropout", "1.0"], "--dropout"),
    (["--lr", "-1"], "--lr"),
    (["--graph"], "--graph"),
])
def test_bad_arguments_are_one_line(tmp_path, capsys, args, message):
    assert main(["train", "--task", "lm", "--out", str(tmp_path / "x"), "--no-progress",
                 *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chaingrad train: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_digits_task_refuses_lm_models(tmp_path, capsys):
    assert main(["train", "--model", "lstm", "--out", str(tmp_path)]) == 2
    assert "not a model of --task digits" in capsys.readouterr().err


def test_ctrl_c_saves_progress_and_resume_ends_where_an_uninterrupted_run_does(
        tmp_path, monkeypatch, capsys):
    """A real SIGINT at step 10 of 40; then --resume: the same history, to the bit,
    as one uninterrupted run (data order, dropout and optimizer state restored)."""
    import os
    import signal

    run = ["train", "--task", "lm", "--model", "lstm", "--steps", "40", "--eval-every", "10",
           "--dropout", "0.2", "--layers", "2", *SMALL]
    assert main([*run, "--out", str(tmp_path / "straight")]) == 0
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())

    evaluate = lm.evaluate

    def interrupt_once(model, batches):
        monkeypatch.setattr(lm, "evaluate", evaluate)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the step finishes, then it stops
        return evaluate(model, batches)

    monkeypatch.setattr(lm, "evaluate", interrupt_once)
    out = tmp_path / "interrupted"
    assert main([*run, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 10 of 40" in err
    assert f"--resume {out / 'checkpoint.npz'}" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] is False and metrics["steps_done"] == 10
    assert main(["train", "--task", "lm", "--resume", str(out / "checkpoint.npz"),
                 "--no-progress"]) == 0
    assert "from step 10" in capsys.readouterr().out
    resumed = json.loads((out / "metrics.json").read_text())
    for key in ("step", "train_loss", "val_loss", "lr"):
        assert resumed["history"][key] == straight["history"][key]
    assert resumed["sample"] == straight["sample"]
    # a finished run continues with a larger --steps, and refuses other changes
    assert main(["train", "--task", "lm", "--resume", str(out / "checkpoint.npz"),
                 "--d-model", "32", "--no-progress"]) == 2
    assert "trained with --d-model 64, not 32" in capsys.readouterr().err
    assert main(["train", "--task", "lm", "--resume", str(out / "checkpoint.npz"),
                 "--no-progress"]) == 2
    assert "already trained 40 of 40 steps" in capsys.readouterr().err


def test_lr_schedule():
    lrs = [lm.lr_at(s, 1000, 1e-3, 100) for s in range(1000)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[99] == pytest.approx(1e-3)
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4, rel=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[100:]))  # decays after warm-up
