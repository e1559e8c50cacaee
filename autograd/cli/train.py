"""``chaingrad train``: train a small network on the bundled 8x8 digits.

The default recipe: standardise the 64 pixels with the training set's mean and
standard deviation (kept in the model as buffers, so the checkpoint carries
them), an MLP 64-128-10 with ReLU, Adam at lr 3e-3, batch 32, 60 epochs. Chosen
by measurement over training seeds 0-4 (README): on raw [0, 1] pixels a 64-64-10
MLP reaches 97.2-97.8%; standardising lifts every seed to 98.3% or more, in about
two seconds of training.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from autograd.allocator import tune_unless_disabled

from . import data_parallel

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


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train an MLP or a small CNN on the 8x8 handwritten digits",
        description="Train an MLP (default) or a small CNN on scikit-learn's 8x8 handwritten "
        "digits (80/20 split), printing the train loss and test accuracy per epoch, then "
        "write the checkpoint, a loss/accuracy curve and a metrics JSON to --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp", help="network to train")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                   help="gradient-descent variant")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: a tuned value per optimizer)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="mini-batch size (1: stochastic, 1437: full-batch gradient descent)")
    p.add_argument("--epochs", type=int, default=60, help="passes over the training set")
    p.add_argument("--hidden", type=int, default=128, help="hidden units of the MLP")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for initialisation and shuffling (the data split is fixed)")
    p.add_argument("--out", type=Path, default=Path("runs/digits"),
                   help="folder for checkpoint, curves and metrics")
    p.add_argument("--graph", action="store_true",
                   help="also draw the model's computation graph for one batch")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    data_parallel.add_arguments(p)


def standardizer(features: Any) -> Any:
    """A module mapping x to (x - mean) / (std + 0.1), with the training set's
    per-pixel mean and std as buffers (0.1 keeps always-blank pixels finite)."""
    import nn

    class Standardize(nn.Module):
        def __init__(self, mean: Any, std: Any) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x: Any) -> Any:
            return (x - self.mean) / (self.std + 0.1)

    with_grad_off = features.detach()
    return Standardize(with_grad_off.mean(0), with_grad_off.std(0, unbiased=False))


def build_model(kind: str, hidden: int, features: Any) -> Any:
    import nn

    norm = standardizer(features)
    if kind == "mlp":
        return nn.Sequential(norm, nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return nn.Sequential(
        norm, nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )


def build_optimizer(name: str, params: Any, lr: float | None) -> Any:
    import optim

    cls_name, default_lr, options = OPTIMIZERS[name]
    return getattr(optim, cls_name)(params, lr=default_lr if lr is None else lr, **options)


def evaluate(model: Any, loader: Any) -> float:
    """Accuracy of ``model`` on ``loader`` (eval mode, no graph)."""
    import autograd

    model.eval()
    correct = total = 0
    with autograd.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += len(y)
    model.train()
    return correct / total


def run(args: argparse.Namespace) -> int:
    import autograd
    import nn
    from autograd.data import DataLoader, datasets

    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is a nicety, not a requirement
        tqdm = None

    if args.batch_size < 1 or args.epochs < 1:
        raise SystemExit("chaingrad train: --batch-size and --epochs must be at least 1")
    world = data_parallel.setup(args)  # under mpirun: this rank's part; alone: all of it
    tune_unless_disabled()  # keep freed memory for reuse (autograd/allocator.py)
    autograd.manual_seed(args.seed)
    train_set, test_set = datasets.digits(train=True), datasets.digits(train=False)
    train_loader = DataLoader(train_set, batch_size=args.batch_size * world.size, shuffle=True,
                              seed=args.seed)
    test_loader = DataLoader(test_set, batch_size=512)
    model = build_model(args.model, args.hidden, train_set.tensors[0])
    net = world.wrap(model)  # what training calls
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr)
    loss_fn = nn.CrossEntropyLoss()
    print(f"training {args.model} on digits ({len(train_set)} train / {len(test_set)} test), "
          f"{args.optimizer} lr={optimizer.param_groups[0]['lr']}, batch {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}")
    if world.size > 1:
        print(world.describe(args.batch_size))

    history: dict[str, list] = {"epoch": [], "train_loss": [], "test_accuracy": []}
    start = time.perf_counter()
    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=args.epochs * len(train_loader), unit="step", leave=False)
    for epoch in range(1, args.epochs + 1):
        total_loss = seen = 0.0
        for batch in train_loader:
            x, y = world.share(batch)
            loss = loss_fn(net(x), y)
            optimizer.zero_grad()
            world.backward(loss)
            optimizer.step()
            total_loss += loss.item() * world.rows
            seen += world.rows
            if bar is not None:
                bar.update()
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}", refresh=False)
        total_loss, seen = world.sum(total_loss, seen)
        accuracy = evaluate(model, test_loader)
        history["epoch"].append(epoch)
        history["train_loss"].append(total_loss / seen)
        history["test_accuracy"].append(accuracy)
        line = f"epoch {epoch:3d}  train loss {total_loss / seen:.4f}  test accuracy {accuracy:.2%}"
        (bar.write if bar is not None else print)(line)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    print(f"final test accuracy {history['test_accuracy'][-1]:.2%} in {seconds:.1f} s")
    if not world.is_main:
        return 0
    written = save_outputs(args, model, optimizer, history, seconds)
    if args.graph:
        written.append(draw_graph(args.out, model, loss_fn, train_set))
    for path in written:
        print(f"wrote {path}")
    return 0


def save_outputs(args: argparse.Namespace, model: Any, optimizer: Any, history: dict,
                 seconds: float) -> list:
    import nn

    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / "checkpoint.npz"
    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, checkpoint)
    metrics = args.out / "metrics.json"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    metrics.write_text(json.dumps({
        "config": config,
        "final_test_accuracy": history["test_accuracy"][-1],
        "final_train_loss": history["train_loss"][-1],
        "seconds": round(seconds, 2),
        "history": history,
    }, indent=2))
    written = [checkpoint, metrics]
    curves = plot_curves(args.out / "curves.png", history)
    if curves is not None:
        written.append(curves)
    return written


def plot_curves(path: Path, history: dict) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the curve picture "
              '(pip install "chaingrad[train]")')
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(history["epoch"], history["train_loss"], color="#0072B2")
    left.set(xlabel="epoch", ylabel="train loss (cross-entropy)", yscale="log",
             title="training loss")
    right.plot(history["epoch"], [100 * a for a in history["test_accuracy"]], color="#D55E00")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def draw_graph(out: Path, model: Any, loss_fn: Any, dataset: Any) -> Path:
    """The computation graph of the loss on one small batch, modules collapsed."""
    import shutil

    from autograd import viz

    x, y = dataset[:8]
    loss = loss_fn(model(x), y)
    if shutil.which("dot") is None:
        path = out / "graph.dot"
        path.write_text(viz.to_dot(loss, modules=model))
        return path
    path = out / "graph.svg"
    path.write_bytes(viz.draw(loss, modules=model).pipe(format="svg"))
    return path
