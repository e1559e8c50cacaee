"""nn.save / nn.load: round trips of model and optimizer state, atomic writes
(a failure mid-write leaves the old file intact), and clear errors for damaged
or foreign files. No pickle anywhere."""

import os
import re
import zipfile

import numpy as np
import pytest

import autograd
import nn
from nn import serialization


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_model_state_dict_round_trip(tmp_path):
    path = tmp_path / "model.npz"
    a, b = _model(), _model()
    nn.save(a.state_dict(), path)
    loaded = nn.load(path)
    assert list(loaded) == list(a.state_dict())
    assert all(isinstance(v, autograd.Tensor) for v in loaded.values())
    b.load_state_dict(loaded)
    x = autograd.randn(5, 3)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert loaded["0.weight"].dtype == np.float32


def test_nested_state_keeps_types_keys_and_order(tmp_path):
    state = {
        "state": {0: {"step": 3, "exp_avg": autograd.randn(2, 2),
                      "raw": np.arange(3, dtype=np.int16)},
                  1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                          "nesterov": False, "name": "head", "eps": float("inf")}],
        "scalar": np.float64(2.5),
        (1, "tuple-key"): "v",
        "zeros": autograd.zeros(0, 3),
        "flag": np.bool_(True),
    }
    path = tmp_path / "state.npz"
    nn.save(state, path)
    got = nn.load(path)
    assert list(got) == list(state)
    assert list(got["state"]) == [0, 1]
    assert got["state"][0]["step"] == 3 and type(got["state"][0]["step"]) is int
    first = got["state"][0]
    np.testing.assert_array_equal(first["exp_avg"].data, state["state"][0]["exp_avg"].data)
    assert isinstance(first["raw"], np.ndarray) and first["raw"].dtype == np.int16
    assert got["state"][1] == {"momentum_buffer": None}
    group = got["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["params"] == [0, 1] and group["nesterov"] is False and group["name"] == "head"
    assert group["eps"] == float("inf")
    assert got["scalar"] == 2.5 and got["scalar"].dtype == np.float64
    assert got[(1, "tuple-key")] == "v"
    assert got["zeros"].shape == (0, 3)
    assert bool(got["flag"]) is True


def test_optimizer_state_round_trip(tmp_path):
    optim = pytest.importorskip("optim")
    model = _model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        model.zero_grad()
        model(autograd.randn(4, 3)).sum().backward()
        opt.step()
    path = tmp_path / "checkpoint.npz"
    nn.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}, path)
    ckpt = nn.load(path)
    model2 = _model()
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 2
    x = autograd.randn(4, 3)
    for m, o in ((model, opt), (model2, opt2)):
        m.zero_grad()
        m(x).sum().backward()
        o.step()
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_the_file_is_a_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "plain.npz"
    nn.save({"w": autograd.ones(2)}, path)
    with np.load(path, allow_pickle=False) as npz:
        assert "__chaingrad__" in npz.files
        assert any(np.array_equal(npz[f], [1.0, 1.0]) for f in npz.files)


def test_save_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "weights.ckpt"
    nn.save({"a": 1}, str(path))
    assert os.listdir(tmp_path) == ["weights.ckpt"]
    assert nn.load(str(path)) == {"a": 1}


def test_unsupported_objects_are_refused_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="cannot save an object of type"):
        nn.save({"f": lambda: 0}, path)
    with pytest.raises(TypeError, match="dtype object"):
        nn.save({"o": np.array([{}, 1], dtype=object)}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- atomic writes


def _old_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    nn.save({"version": "old", "w": autograd.ones(3)}, path)
    return path, path.read_bytes()


def test_a_crash_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    path, old = _old_file(tmp_path)

    def half_then_crash(f, **arrays):
        f.write(b"PK\x03\x04 partial bytes")
        raise KeyboardInterrupt  # e.g. the user stops the run mid-write

    monkeypatch.setattr(serialization.np, "savez", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"version": "new"}, path)
    assert path.read_bytes() == old
    assert nn.load(path)["version"] == "old"
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file is gone


def test_a_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path, old = _old_file(tmp_path)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"version": "new"}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_data_is_synced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(serialization.os, "fsync",
                        lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(serialization.os, "replace",
                        lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    nn.save({"a": 1}, tmp_path / "s.npz")
    assert calls.index("fsync") < calls.index("replace")


def test_overwriting_replaces_the_content(tmp_path):
    path, _ = _old_file(tmp_path)
    nn.save({"version": "new"}, path)
    assert nn.load(path) == {"version": "new"}


# ------------------------------------------------------------------ damaged and foreign files


def test_truncated_file_is_a_clear_error(tmp_path):
    path, old = _old_file(tmp_path)
    path.write_bytes(old[: len(old) // 2])
    with pytest.raises(RuntimeError, match=re.escape(f"nn.load: {path}") + ".*not a readable"):
        nn.load(path)


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(os.urandom(200))
    with pytest.raises(RuntimeError, match=r"garbage\.npz"):
        nn.load(path)


def test_foreign_npz_and_npy_files_are_refused(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(2))
    with pytest.raises(RuntimeError, match=r"not written by nn\.save"):
        nn.load(foreign)
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(2))
    with pytest.raises(RuntimeError, match=r"array\.npy"):
        nn.load(npy)


def test_a_pickled_entry_is_refused_not_executed(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, __chaingrad__=np.array("{}"), a0=np.array([object()], dtype=object))
    with pytest.raises(RuntimeError, match=r"pickled\.npz"):
        nn.load(path)


def test_damaged_metadata_is_a_clear_error(tmp_path):
    path = tmp_path / "meta.npz"
    np.savez(path, __chaingrad__=np.array("{not json"))
    with pytest.raises(RuntimeError, match="damaged or unknown metadata"):
        nn.load(path)
    np.savez(path, __chaingrad__=np.array('{"format": "other", "version": 1, "root": 1}'))
    with pytest.raises(RuntimeError, match="unknown format"):
        nn.load(path)
    np.savez(path, __chaingrad__=np.array(
        '{"format": "chaingrad.save", "version": 1, "root": {"tensor": "a7"}}'))
    with pytest.raises(RuntimeError, match=r"meta\.npz"):
        nn.load(path)


def test_a_missing_file_stays_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nope.npz")


def test_a_zip_that_is_not_npz(tmp_path):
    path = tmp_path / "archive.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(RuntimeError, match=r"archive\.npz"):
        nn.load(path)


def test_deeply_nested_metadata_is_a_clear_error_not_a_recursion_error(tmp_path):
    """A crafted file whose structure nests 100,000 levels deep."""
    path = tmp_path / "deep.npz"
    root = "[" * 100_000 + "]" * 100_000
    meta = '{"format": "chaingrad.save", "version": 1, "root": ' + root + "}"
    np.savez(path, __chaingrad__=np.array(meta))
    with pytest.raises(RuntimeError, match=r"nn.load: .*deep.npz.*nested too deeply"):
        nn.load(path)


def test_saving_a_deeply_nested_object_is_a_clear_error(tmp_path):
    obj: list = []
    for _ in range(100_000):
        obj = [obj]
    with pytest.raises(ValueError, match=r"nn.save: .*nested too deeply"):
        nn.save(obj, tmp_path / "deep.npz")
    assert os.listdir(tmp_path) == []


def test_saving_into_a_missing_directory_names_the_users_path(tmp_path):
    path = tmp_path / "no" / "such" / "ckpt.npz"
    with pytest.raises(RuntimeError) as info:
        nn.save({"a": 1}, path)
    message = str(info.value)
    assert str(path) in message and "does not exist" in message and ".tmp" not in message


def test_saving_into_a_read_only_directory_names_the_users_path(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root may write into read-only directories")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=re.escape(str(folder / "ckpt.npz"))):
            nn.save({"a": 1}, folder / "ckpt.npz")
    finally:
        folder.chmod(0o700)


_KILLED_SAVE = """
import os, sys, time
import numpy as np
import nn
real_savez = np.savez
def savez_then_hang(f, **arrays):
    real_savez(f, **arrays)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)  # killed here, mid-save: no cleanup code can run
np.savez = savez_then_hang
nn.save({"w": np.ones(1000)}, sys.argv[1])
"""


def _killed_save(path):
    """Start a save of ``path`` in another process and SIGKILL it mid-write."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def _temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")
def test_temporaries_left_by_killed_saves_are_removed_by_the_next_save(tmp_path):
    path, old = _old_file(tmp_path)
    for _ in range(3):
        _killed_save(path)
    # each save removed the previous kill's leftover: one left, not three piled up
    (left,) = _temporaries(tmp_path)
    assert path.read_bytes() == old  # and the old checkpoint survived every kill
    nn.save({"x": 1}, tmp_path / "other.npz")  # another target's save leaves it alone
    assert _temporaries(tmp_path) == [left]
    nn.save({"version": "new"}, path)
    assert _temporaries(tmp_path) == []
    assert nn.load(path)["version"] == "new"


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_temporary_being_written_by_a_live_process_is_kept(tmp_path):
    import fcntl

    path, _ = _old_file(tmp_path)
    busy = tmp_path / f".{path.name}.0123456789ab.tmp"
    busy.write_bytes(b"in progress")
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a save in progress holds it
        nn.save({"version": "new"}, path)
        assert busy.exists()
    finally:
        os.close(fd)
    nn.save({"version": "newer"}, path)
    assert not busy.exists()
    unrelated = tmp_path / f".{path.name}.not-ours.tmp"
    unrelated.write_bytes(b"")
    nn.save({"version": "newest"}, path)
    assert unrelated.exists()  # only names nn.save itself makes are ever removed
