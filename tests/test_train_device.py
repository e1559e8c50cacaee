"""`chaingrad train --device` (digits and ``--task lm``) and `chaingrad sample
--device`: the same run on another device (here the strict test device, which
fails on any stray host call) as on the CPU, checkpoints that move between
devices, and one-line errors for devices that are not there."""

import importlib.util
import json
import os
import signal

import numpy as np
import pytest

pytest.importorskip("sklearn")

import nn
from autograd.cli import lm, main


def _train(tmp_path, name, *args):
    out = tmp_path / name
    assert main(["train", "--no-progress", "--out", str(out), "--epochs", "3", *args]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_the_strict_device_trains_the_same_run_as_the_cpu(tmp_path):
    for model in ("mlp", "cnn"):
        extra = ["--model", model] + (["--batch-size", "128"] if model == "cnn" else [])
        cpu_out, cpu = _train(tmp_path, f"cpu-{model}", *extra)
        dev_out, dev = _train(tmp_path, f"strict-{model}", "--device", "strict", *extra)
        assert dev["config"]["device"] == "strict:0"
        np.testing.assert_allclose(dev["history"]["train_loss"], cpu["history"]["train_loss"],
                                   rtol=1e-5)
        assert dev["history"]["test_accuracy"] == cpu["history"]["test_accuracy"]
        # the checkpoint holds host arrays with their device noted
        state = nn.load(dev_out / "checkpoint.npz", map_location="cpu")["model"]
        reference = nn.load(cpu_out / "checkpoint.npz")["model"]
        for key, value in reference.items():
            np.testing.assert_allclose(state[key].numpy(), value.numpy(), rtol=1e-4, atol=1e-6)


# a small language model that trains in a few seconds
LM = ["--task", "lm", "--steps", "12", "--eval-every", "6", "--eval-batches", "2",
      "--d-model", "32", "--layers", "1", "--heads", "2", "--block-size", "16",
      "--batch-size", "8", "--dropout", "0.1"]


def _train_lm(tmp_path, name, *args):
    out = tmp_path / name
    assert main(["train", "--no-progress", "--out", str(out), *LM, *args]) == 0
    return out, json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_the_strict_device_trains_the_same_language_model(tmp_path, capsys, model):
    _, cpu = _train_lm(tmp_path, "cpu", "--model", model)
    dev_out, dev = _train_lm(tmp_path, "strict", "--model", model, "--device", "strict")
    assert dev["config"]["device"] == "strict:0"
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(dev["history"][key], cpu["history"][key], rtol=1e-5)
    assert dev["sample"] == cpu["sample"]  # the same draws: the host generator's
    # a checkpoint written on the device samples on the CPU and on the device alike
    checkpoint = str(dev_out / "checkpoint.npz")
    capsys.readouterr()
    texts = []
    for device in ("cpu", "strict"):
        assert main(["sample", "--checkpoint", checkpoint, "--tokens", "20",
                     "--device", device]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and len(texts[0]) > 20


def test_a_device_run_resumes_on_the_cpu(tmp_path, monkeypatch):
    """A language-model run interrupted on the strict device continues on the CPU
    to the losses of a run that stayed on the CPU; so does a digits run."""
    _, straight = _train_lm(tmp_path, "straight")
    evaluate = lm.evaluate

    def interrupt_once(model, batches):  # Ctrl-C at step 6: the step ends, then it stops
        monkeypatch.setattr(lm, "evaluate", evaluate)
        os.kill(os.getpid(), signal.SIGINT)
        return evaluate(model, batches)

    monkeypatch.setattr(lm, "evaluate", interrupt_once)
    out = tmp_path / "moved"
    assert main(["train", "--no-progress", "--out", str(out), *LM, "--device", "strict"]) == 130
    assert main(["train", "--no-progress", "--task", "lm", "--resume",
                 str(out / "checkpoint.npz")]) == 0
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["config"]["device"] == "cpu"
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(resumed["history"][key], straight["history"][key],
                                   rtol=1e-5)

    _train(tmp_path, "digits", "--epochs", "2", "--device", "strict")
    assert main(["train", "--no-progress", "--resume",
                 str(tmp_path / "digits" / "checkpoint.npz"), "--epochs", "3"]) == 0
    _, cpu = _train(tmp_path, "digits-cpu")
    resumed = json.loads((tmp_path / "digits" / "metrics.json").read_text())
    np.testing.assert_allclose(resumed["history"]["train_loss"], cpu["history"]["train_loss"],
                               rtol=1e-5)
    assert resumed["history"]["test_accuracy"] == cpu["history"]["test_accuracy"]


def _one_line_error(capsys, argv):
    status = main(["train", "--no-progress", *argv])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("chaingrad train: error: "), err
    assert "epoch" not in out
    return err


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_cuda_without_cupy_says_what_is_missing(tmp_path, capsys):
    err = _one_line_error(capsys, ["--out", str(tmp_path / "run"), "--device", "cuda"])
    assert "--device cuda" in err and "CuPy" in err and "chaingrad[gpu]" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, fragment", [
    (["--device", "tpu"], "--device tpu: Expected one of"),
    (["--device", "cuda:x"], "Invalid device string"),
    (["--device", "strict", "--nproc", "2"], "runs on the CPU only"),
    (["--device", "strict", "--compile"], "--compile"),
    (["--device", "strict", "--task", "lm", "--nproc", "2"], "runs on the CPU only"),
    (["--device", "cuda:x", "--task", "lm"], "Invalid device string"),
])
def test_bad_devices_fail_in_one_line(tmp_path, capsys, argv, fragment):
    err = _one_line_error(capsys, ["--out", str(tmp_path / "run"), *argv])
    assert fragment in err
