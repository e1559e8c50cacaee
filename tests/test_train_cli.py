"""`chaingrad train`, the main job, end to end on the bundled digits."""

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

import nn
from autograd.cli import main


def _train(tmp_path, *args):
    out = tmp_path / "run"
    assert main(["train", "--no-progress", "--out", str(out), *args]) == 0
    return out, json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_default_recipe_reaches_97_percent_for_every_seed(tmp_path, seed):
    _, metrics = _train(tmp_path, "--seed", str(seed))
    assert metrics["final_test_accuracy"] >= 0.97
    assert len(metrics["history"]["train_loss"]) == 60


def test_outputs_are_written_and_the_checkpoint_reloads(tmp_path, capsys):
    out, metrics = _train(tmp_path, "--epochs", "3")
    printed = capsys.readouterr().out
    for name in ("checkpoint.npz", "metrics.json", "curves.png"):
        assert (out / name).exists()
        assert f"wrote {out / name}" in printed
    assert "epoch   3  train loss" in printed
    state = nn.load(out / "checkpoint.npz")
    from autograd.cli.train import build_model
    from autograd.data import datasets

    model = build_model("mlp", 128, datasets.digits(train=True).tensors[0])
    model.load_state_dict(state["model"])  # strict: every key and shape matches
    x, y = datasets.digits(train=False).tensors
    accuracy = (model.eval()(x).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(metrics["final_test_accuracy"], abs=1e-6)  # float32 mean
    assert state["optimizer"]["param_groups"][0]["lr"] == 3e-3
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    _, a = _train(tmp_path / "a", "--epochs", "4", "--seed", "7")
    _, b = _train(tmp_path / "b", "--epochs", "4", "--seed", "7")
    _, c = _train(tmp_path / "c", "--epochs", "4", "--seed", "8")
    assert a["history"] == b["history"]
    assert a["history"]["train_loss"] != c["history"]["train_loss"]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                       "adamw"])
def test_every_optimizer_learns(tmp_path, optimizer):
    _, metrics = _train(tmp_path, "--optimizer", optimizer, "--epochs", "5")
    losses = metrics["history"]["train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert metrics["final_test_accuracy"] > 0.9


def test_small_cnn_reaches_97_percent(tmp_path):
    _, metrics = _train(tmp_path, "--model", "cnn", "--epochs", "15")
    assert metrics["final_test_accuracy"] >= 0.97


def test_help_and_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--optimizer", "--lr", "--batch-size", "--epochs", "--seed",
                   "--out"):
        assert option in text
    with pytest.raises(SystemExit):
        main(["train", "--model", "resnet"])
    with pytest.raises(SystemExit, match="at least 1"):
        main(["train", "--epochs", "0"])


def test_graph_option_writes_the_model_graph(tmp_path):
    out, _ = _train(tmp_path, "--epochs", "1", "--graph")
    pictures = list(out.glob("graph.*"))
    assert pictures, "no graph picture written"
    text = pictures[0].read_text()
    assert ("<svg" in text) or text.startswith("digraph")


def test_python_dash_m_autograd_runs_the_same_command(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "autograd", "train", "--epochs", "1", "--no-progress",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "final test accuracy" in result.stdout
    assert np.isfinite(json.loads((tmp_path / "metrics.json").read_text())["final_train_loss"])
