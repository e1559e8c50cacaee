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


def test_help_and_bad_arguments(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # one line per option
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--optimizer", "--lr", "--batch-size", "--epochs", "--seed",
                   "--out"):
        assert option in text
    # an option whose help states its default gets no second "(default: None)"
    assert not [line for line in text.splitlines()
                if line.startswith("  -") and line.count("default") > 1]
    assert "--epochs EPOCHS" in text and "(default: 60)" in text
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "resnet"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no usage dump


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


# --------------------------------------------------------------------------- bad arguments


def _fails_before_training(capsys, argv):
    """``main(argv)`` exits with status 2 and one line on stderr, having trained nothing."""
    try:
        status = main(["train", "--no-progress", *argv])
    except SystemExit as exit_info:  # argparse's own errors
        status = exit_info.code
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("chaingrad train: error: "), err
    assert "Traceback" not in err and "training" not in out and "epoch" not in out
    return err


@pytest.mark.parametrize("argv, fragment", [
    (["--lr", "-0.1"], "--lr must be a positive number, got -0.1"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--lr", "inf"], "--lr must be a positive number"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["--hidden", "0"], "--hidden must be at least 1, got 0"),
    (["--hidden", "-5"], "--hidden must be at least 1, got -5"),
    (["--seed", "-1"], "--seed must be 0 or more, got -1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--epochs", "2.5"], "invalid int value: '2.5'"),
    (["--model", "resnet"], "invalid choice: 'resnet'"),
])
def test_bad_arguments_fail_in_one_line_before_training(tmp_path, capsys, argv, fragment):
    err = _fails_before_training(capsys, ["--out", str(tmp_path / "run"), *argv])
    assert fragment in err
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_or_not_a_folder_fails_before_training(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    err = _fails_before_training(capsys, ["--out", str(a_file)])
    assert f"--out {a_file} is a file" in err
    err = _fails_before_training(capsys, ["--out", str(a_file / "run")])
    assert f"--out {a_file / 'run'} is not a writable folder" in err
    assert a_file.read_text() == "keep me"


def test_out_that_is_not_writable_fails_before_training(tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root may write into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = _fails_before_training(capsys, ["--out", str(folder / "run")])
        assert "not a writable folder" in err
    finally:
        folder.chmod(0o700)


def test_resume_errors_fail_in_one_line(tmp_path, capsys):
    err = _fails_before_training(capsys, ["--resume", str(tmp_path / "missing.npz")])
    assert "missing.npz: no such file" in err
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    assert "not a readable .npz" in _fails_before_training(capsys, ["--resume", str(garbage)])
    plain = tmp_path / "plain.npz"
    nn.save({"model": {}}, plain)
    err = _fails_before_training(capsys, ["--resume", str(plain)])
    assert "holds no training progress" in err
    out, _ = _train(tmp_path, "--epochs", "2")
    capsys.readouterr()
    checkpoint = str(out / "checkpoint.npz")
    err = _fails_before_training(capsys, ["--resume", checkpoint, "--hidden", "64"])
    assert "trained with --hidden 128, not 64" in err
    err = _fails_before_training(capsys, ["--resume", checkpoint])
    assert "already trained 2 of 2 epochs" in err and "--epochs N" in err


def test_ctrl_c_before_training_starts_is_one_line(monkeypatch, tmp_path, capsys):
    from autograd.cli import train

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "build", interrupted)
    assert main(["train", "--no-progress", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "chaingrad train: interrupted\n"


# --------------------------------------------------------------------------- Ctrl-C, --resume

RUN = ["--epochs", "6", "--batch-size", "8", "--seed", "3", "--scheduler", "cosine"]


def _command(*argv, block=()):
    """A ``chaingrad train`` process (``block``: modules it must not find)."""
    import sys

    code = ("import sys\n"
            + "".join(f"sys.modules[{name!r}] = None\n" for name in block)
            + "from autograd.cli import main\nsys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-u", "-c", code, "train", "--no-progress", *argv]


def test_ctrl_c_saves_progress_and_resume_ends_where_an_uninterrupted_run_does(tmp_path):
    """A real SIGINT in the middle of a subprocess's run; then --resume; the result
    must be the uninterrupted run's, epoch by epoch, to the last bit.

    The signal is sent as soon as epoch 1 is reported; on a quiet machine the
    process may be an epoch or two further when it arrives, so the test reads the
    epoch and step from the message and checks everything against those."""
    import re
    import signal
    import subprocess
    import time

    out = tmp_path / "interrupted"
    proc = subprocess.Popen(_command("--out", str(out), *RUN), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("epoch   1"):
                proc.send_signal(signal.SIGINT)
                sent = time.perf_counter()
                break
        err = proc.stderr.readline()
        stopped = time.perf_counter() - sent
        rest, more_err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err + more_err
    where = re.match(r"chaingrad train: interrupted in epoch (\d+) \(step (\d+) of 180\)", err)
    assert more_err == "" and where, err
    epoch, step = int(where[1]), int(where[2])
    assert 2 <= epoch <= 6 and 0 <= step < 180
    assert f"continue with: chaingrad train --resume {out / 'checkpoint.npz'}" in err
    assert stopped < 10, f"{stopped:.1f} s from Ctrl-C to the message"
    assert f"epoch {epoch:>3}" not in rest  # it stopped inside that epoch
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] is False and metrics["epochs_done"] == epoch - 1
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = nn.load(out / "checkpoint.npz")["progress"]
    assert saved["epoch"] == epoch - 1 and saved["step"] == step

    resumed = subprocess.run(_command("--resume", str(out / "checkpoint.npz")),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"from epoch {epoch} step {step}" in resumed.stdout
    after = json.loads((out / "metrics.json").read_text())
    _, straight = _train(tmp_path, *RUN)
    assert after["finished"] is True
    assert after["history"] == straight["history"]  # losses, accuracies and lrs, exactly
    assert after["final_test_accuracy"] == straight["final_test_accuracy"]


def test_resume_can_extend_a_finished_run(tmp_path):
    out, _ = _train(tmp_path, "--epochs", "2", "--seed", "5")
    assert main(["train", "--no-progress", "--resume", str(out / "checkpoint.npz"),
                 "--epochs", "4"]) == 0
    extended = json.loads((out / "metrics.json").read_text())
    _, straight = _train(tmp_path / "straight", "--epochs", "4", "--seed", "5")
    assert extended["history"]["epoch"] == [1, 2, 3, 4]
    assert extended["history"] == straight["history"]


# --------------------------------------------------------------------------- missing extras


def test_without_scikit_learn_one_line_names_the_install_command(tmp_path):
    import subprocess

    done = subprocess.run(_command("--out", str(tmp_path / "run"), block=["sklearn"]),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "scikit-learn" in done.stderr and 'pip install "chaingrad[train]"' in done.stderr
    assert not (tmp_path / "run").exists()


def test_without_matplotlib_the_run_finishes_and_says_how_to_get_curves(tmp_path):
    import subprocess

    out = tmp_path / "run"
    done = subprocess.run(_command("--out", str(out), "--epochs", "1",
                                   block=["matplotlib"]),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.splitlines() if line.startswith("matplotlib")]
    assert notes == ['matplotlib is not installed: no curves.png (pip install '
                     '"chaingrad[train]")']
    assert (out / "checkpoint.npz").exists() and not (out / "curves.png").exists()
