"""What the training jobs (``chaingrad train`` on the digits and ``--task lm``)
share, so both behave alike: the optimizers by name, ``--device``, the progress
bar, the optional plotting library, files replaced atomically, the output folder
checked up front, and Ctrl-C that stops after the current step."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from autograd.distributed.group import launched_size

from .errors import UsageError

INSTALL = 'pip install "chaingrad[train]"'

OPTIMIZERS = {
    # name: (class name in optim, default lr, extra options)
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.05, {}),
    "rmsprop": ("RMSprop", 1e-3, {}),
    "adam": ("Adam", 3e-3, {}),
    "adamw": ("AdamW", 3e-3, {}),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each option's help, except where the help
    already says what the default is (e.g. one that depends on ``--task``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_optimizer(name: str, params: Any, lr: float | None) -> Any:
    """The optimizer ``name`` (a key of :data:`OPTIMIZERS`) at ``lr`` (None: its default)."""
    import optim

    cls_name, default_lr, options = OPTIMIZERS[name]
    return getattr(optim, cls_name)(params, lr=default_lr if lr is None else lr, **options)


def add_device_argument(p: Any, what: str = "train") -> None:
    p.add_argument("--device", default="cpu",
                   help=f"where to {what}: cpu, or cuda / cuda:N (a GPU, through CuPy: "
                        "pip install 'chaingrad[gpu]')")


def check_device(args: argparse.Namespace) -> None:
    """``--device`` names a device that is there (a bare ``cuda`` becomes ``cuda:N``,
    the current GPU); else the one-line error saying what is missing."""
    from autograd import backend

    try:
        args.device = str(backend.as_device(args.device))
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"--device {args.device}: {err}") from None


def check_device_options(args: argparse.Namespace) -> None:
    """Options that need the CPU: data-parallel training (its all-reduce works on
    host arrays through MPI) and ``--compile`` (it traces numpy calls)."""
    if args.device == "cpu":
        return
    if args.nproc != 1 or launched_size() is not None:
        raise UsageError("--device: data-parallel training (--nproc, mpirun) runs on the "
                         "CPU only")
    if getattr(args, "compile", False):
        raise UsageError("--device: --compile traces CPU (numpy) steps only; drop one of them")


def progress_bar(total: int, disabled: bool, initial: int = 0) -> Any:
    """A tqdm bar over ``total`` steps (``initial`` already done), or None
    (``--no-progress``, or tqdm not installed: the bar is a nicety)."""
    if disabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", leave=False)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend, or None (saying so)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no curves.png ({INSTALL})")
        return None
    return plt


def check_writable_folder(out: Path) -> None:
    """``out`` is (or can be made) a folder we can write files into."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(f"--out {out} is not a writable folder ({err.strerror})") from None


@contextlib.contextmanager
def replacing(path: Path) -> Any:
    """Yield a temporary path next to ``path``; on success it replaces ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # created as open() would create it (mode 0o666 less the umask), not mkstemp's 0o600
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def save_figure(fig: Any, path: Path) -> Path:
    """``fig`` as a PNG at ``path``, written atomically, then closed."""
    import matplotlib.pyplot as plt

    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


class StopOnInterrupt:
    """While training: the first Ctrl-C (SIGINT) asks the loop to stop after the
    step it is in (a step is never cut in half, so what is saved is consistent);
    a second one stops at once. The previous handler comes back on exit. Nothing
    is installed outside the main thread or where SIGINT is ignored."""

    def __init__(self, enabled: bool = True) -> None:
        self.requested = False
        self.enabled = enabled
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopOnInterrupt:
        if self.enabled and threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
