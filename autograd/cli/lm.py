"""``chaingrad train --task lm`` and ``chaingrad sample``: a character-level
language model on Python's own help topics (``autograd.data.datasets.text``).

Two models, both built from ``nn`` layers only:

* ``transformer`` (the default): a small GPT, token and position embeddings,
  pre-norm ``TransformerEncoderLayer`` blocks run with ``is_causal=True``, a
  final LayerNorm and a linear read-out to the vocabulary;
* ``lstm``: embeddings, a stacked ``LSTM``, the same read-out.

Training reads random windows of the training split, optimises the mean
next-character cross-entropy with AdamW (warm-up, then cosine decay; gradients
clipped at norm 1) and every ``--eval-every`` steps measures the loss on the
validation split (``--compile``: the step traced and replayed, same numbers).
Losses are in nats per character (natural log), so they compare directly with the
corpus's n-gram baselines, which the job computes and prints first: the bigram and
the trigram (add-k smoothed, k picked on the validation split: the baselines at
their best). ``metrics.json`` records when the validation loss first went below
the trigram's.

Under ``mpirun`` (or with ``--nproc N``) it trains data-parallel as the digits job
does (``data_parallel.py``): each rank takes its share of every global batch of
N x ``--batch-size`` windows, so the run follows the one-process run with N times
the batch. Each rank draws its own dropout masks: with ``--dropout`` > 0 the two
runs are alike in distribution, not to the bit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from autograd.allocator import tune_unless_disabled

from . import common, data_parallel
from .errors import INTERRUPTED, UsageError

MODELS = ("transformer", "lstm")
#: add-k smoothing constants the n-gram baselines try (the best on val is reported)
SMOOTHING = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


# --------------------------------------------------------------------------- baselines


def ngram_nats(train: np.ndarray, val: np.ndarray, n: int, vocab_size: int,
               k: float) -> float:
    """Mean -ln P(next character) over ``val`` under an add-``k`` smoothed n-gram
    model counted on ``train`` (ids); the first n - 1 characters of val are only
    context. P(c | context) = (count(context, c) + k) / (count(context) + k V)."""
    def codes(ids: np.ndarray) -> np.ndarray:  # each n-gram as one integer
        code = np.zeros(len(ids) - n + 1, dtype=np.int64)
        for j in range(n):
            code = code * vocab_size + ids[j:len(ids) - n + 1 + j]
        return code

    seen, counts = np.unique(codes(train), return_counts=True)
    context_seen, inverse = np.unique(seen // vocab_size, return_inverse=True)
    context_counts = np.bincount(inverse, weights=counts)
    query = codes(val)

    def lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
        at = np.searchsorted(table, keys)
        at = np.minimum(at, len(table) - 1)
        return np.where(table[at] == keys, values[at], 0.0)

    joint = lookup(query, seen, counts.astype(np.float64))
    context = lookup(query // vocab_size, context_seen, context_counts)
    return float(-np.mean(np.log((joint + k) / (context + k * vocab_size))))


def baselines(train: Any, val: Any) -> dict:
    """The bigram and trigram validation losses (nats/char), each with its best k."""
    tr, va, v = train.data.numpy(), val.data.numpy(), train.vocab_size
    out = {}
    for name, n in (("bigram", 2), ("trigram", 3)):
        scores = {k: ngram_nats(tr, va, n, v, k) for k in SMOOTHING}
        best = min(scores, key=scores.get)
        out[name] = {"nats": scores[best], "k": best}
    return out


# --------------------------------------------------------------------------- models


def build_model(config: dict) -> Any:
    """The network ``config`` describes (as saved in a checkpoint)."""
    import autograd
    import nn

    vocab, width = config["vocab_size"], config["d_model"]

    class CharTransformer(nn.Module):
        """Token + position embeddings, causal pre-norm Transformer blocks, read-out."""

        def __init__(self) -> None:
            super().__init__()
            self.token = nn.Embedding(vocab, width)
            self.position = nn.Embedding(config["block_size"], width)
            self.dropout = nn.Dropout(config["dropout"])
            layer = nn.TransformerEncoderLayer(
                width, config["heads"], 4 * width, config["dropout"], batch_first=True,
                norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, config["layers"],
                                                 norm=nn.LayerNorm(width))
            self.head = nn.Linear(width, vocab)
            for emb in (self.token, self.position):  # GPT's small embeddings
                nn.init.normal_(emb.weight, std=0.02)

        def forward(self, idx: Any) -> Any:
            steps = idx.shape[1]
            x = self.token(idx) + self.position(autograd.arange(steps, device=idx.device))
            return self.head(self.encoder(self.dropout(x), is_causal=True))

    class CharLSTM(nn.Module):
        """Embeddings, a stacked LSTM, read-out; ``step`` also takes and returns the
        recurrent state, so sampling feeds one character at a time."""

        def __init__(self) -> None:
            super().__init__()
            self.token = nn.Embedding(vocab, width)
            self.lstm = nn.LSTM(width, width, config["layers"], batch_first=True,
                                dropout=config["dropout"] if config["layers"] > 1 else 0.0)
            self.head = nn.Linear(width, vocab)

        def forward(self, idx: Any) -> Any:
            return self.step(idx)[0]

        def step(self, idx: Any, state: Any = None) -> tuple:
            out, state = self.lstm(self.token(idx), state)
            return self.head(out), state

    return CharTransformer() if config["model"] == "transformer" else CharLSTM()


# --------------------------------------------------------------------------- options

#: the defaults of the options only the language model has
LM_DEFAULTS = {"steps": 2000, "block_size": 64, "d_model": 128, "layers": 4, "heads": 4,
               "dropout": 0.0, "eval_every": 100, "eval_batches": 8, "time_limit": None}
#: the options a checkpoint fixes (``--resume`` takes them from it; ``--steps`` may grow)
RESUMED = ("model", "optimizer", "lr", "batch_size", "seed", "block_size", "d_model",
           "layers", "heads", "dropout", "eval_every", "eval_batches")
#: defaults of the options shared with the digits task, as they stand for --task lm
SHARED_DEFAULTS = {"model": "transformer", "optimizer": "adamw", "lr": None, "batch_size": 32,
                   "seed": 0}
#: the learning rate when --lr is not given
DEFAULT_LR = {"transformer": 3e-3, "lstm": 5e-3}
CHECKPOINT_FORMAT = "chaingrad.train.lm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``chaingrad train --task lm`` (the digits task ignores them)."""
    group = parser.add_argument_group("language model (--task lm)")
    d = LM_DEFAULTS
    group.add_argument("--steps", type=int, default=d["steps"],
                       help="optimizer steps (with --resume: the new total)")
    group.add_argument("--block-size", type=int, default=d["block_size"],
                       help="context length in characters")
    group.add_argument("--d-model", type=int, default=d["d_model"],
                       help="embedding width (and the LSTM's hidden size)")
    group.add_argument("--layers", type=int, default=d["layers"],
                       help="Transformer blocks or LSTM layers")
    group.add_argument("--heads", type=int, default=d["heads"], help="attention heads")
    group.add_argument("--dropout", type=float, default=d["dropout"],
                       help="dropout probability")
    group.add_argument("--eval-every", type=int, default=d["eval_every"],
                       help="steps between validation losses")
    group.add_argument("--eval-batches", type=int, default=d["eval_batches"],
                       help="batches of the validation split per evaluation (0: all of it)")
    group.add_argument("--time-limit", type=float, default=d["time_limit"],
                       help="stop after this many seconds of training (then finish as usual)")


def validate(args: argparse.Namespace) -> dict | None:
    """Check every option before anything is trained (:class:`UsageError`: one line);
    returns the checkpoint to resume from, if any (its options then replace ``args``')."""
    checkpoint = None
    if args.resume is not None:
        checkpoint = load_checkpoint(args.resume)
        adopt_checkpoint_options(args, checkpoint)
    for name in ("steps", "block_size", "d_model", "layers", "heads", "eval_every",
                 "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got "
                             f"{getattr(args, name)}")
    if args.eval_batches < 0 or args.seed < 0:
        raise UsageError("--eval-batches and --seed must be 0 or more")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr must be a positive number, got {args.lr}")
    if not 0.0 <= args.dropout < 1.0:
        raise UsageError(f"--dropout must lie in [0, 1), got {args.dropout}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit must be a positive number of seconds, got "
                         f"{args.time_limit}")
    if args.model == "transformer" and args.d_model % args.heads:
        raise UsageError(f"--d-model {args.d_model} must be divisible by --heads {args.heads}")
    if args.graph:
        raise UsageError("--graph draws the digits model; leave it out with --task lm")
    common.check_device(args)
    common.check_writable_folder(args.out)
    return checkpoint


def load_checkpoint(path: Path) -> dict:
    """A resumable checkpoint of this job, or :class:`UsageError` saying why not."""
    import nn

    if not path.is_file():
        raise UsageError(f"--resume {path}: no such file")
    try:
        checkpoint = nn.load(path, map_location="cpu")  # restore() moves it
    except (OSError, RuntimeError) as err:
        raise UsageError(f"--resume {path}: {err}") from None
    if not (isinstance(checkpoint, dict) and checkpoint.get("format") == CHECKPOINT_FORMAT
            and {"config", "options", "model", "optimizer", "progress"} <= set(checkpoint)):
        raise UsageError(f"--resume {path}: not a checkpoint of chaingrad train --task lm "
                         "that can be resumed")
    return checkpoint


def adopt_checkpoint_options(args: argparse.Namespace, checkpoint: dict) -> None:
    """The run's options come from the checkpoint; one given on the command line must
    agree with it. ``--steps`` may raise the total to train further."""
    saved, path = checkpoint["options"], args.resume
    defaults = {**SHARED_DEFAULTS, **LM_DEFAULTS}
    for key in RESUMED:
        given = getattr(args, key)
        if given != defaults[key] and given != saved[key]:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"--resume {path}: the run was trained with {flag} {saved[key]}, "
                             f"not {given}; leave {flag} out to continue it")
        setattr(args, key, saved[key])
    done = checkpoint["progress"]["step"]
    if args.steps == LM_DEFAULTS["steps"]:
        args.steps = saved["steps"]
    if args.steps <= done:
        raise UsageError(f"--resume {path}: the run has already trained {done} of "
                         f"{args.steps} steps; pass --steps N with N > {done} to train further")


# --------------------------------------------------------------------------- training


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to peak/10."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def val_windows(val: Any, block: int, batches: int, batch_size: int) -> list:
    """Non-overlapping windows of the validation split, in order, as (x, y) batches
    (every character predicted once); ``batches`` > 0 keeps that many, spread
    evenly over the split so each evaluation reads the same text."""
    import autograd

    ids = val.data.numpy()
    count = (len(ids) - 1) // block
    starts = np.arange(count) * block
    if batches > 0 and batches * batch_size < count:
        starts = starts[np.linspace(0, count - 1, batches * batch_size).astype(int)]
    rows = starts[:, None] + np.arange(block)
    out = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        out.append((autograd.tensor(ids[chunk]), autograd.tensor(ids[chunk + 1])))
    return out


def evaluate(model: Any, batches: list) -> float:
    """Mean cross-entropy per character (nats) over ``batches``, no graph."""
    import autograd
    import nn.functional as F

    model.eval()
    total = count = 0.0
    with autograd.no_grad():
        for x, y in batches:
            logits = model(x)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                     reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


def build_optimizer(model: Any, name: str, lr: float) -> Any:
    """AdamW with weight decay 0.1 on matrices only (GPT's grouping: embeddings,
    biases and LayerNorm scales are not decayed); another ``name`` as for the digits."""
    import nn
    import optim

    if name != "adamw":
        return common.build_optimizer(name, model.parameters(), lr)
    tables = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay = [p for p in model.parameters() if p.ndim >= 2 and id(p) not in tables]
    chosen = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in chosen]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    return optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def build(args: argparse.Namespace, train_set: Any, val_set: Any, world: Any) -> dict:
    """Model, optimizer, training batches and validation windows of the run (batches
    of the global size, ``world.size`` x ``--batch-size``: each rank trains on its
    share and evaluates all of them, as one process with that batch would). The
    model is initialised on the host (the same on every device), then moved to
    ``--device`` with the validation windows; training batches move per step."""
    import autograd
    from autograd.data import DataLoader

    autograd.manual_seed(args.seed)
    config = {"model": args.model, "vocab_size": train_set.vocab_size,
              "block_size": args.block_size, "d_model": args.d_model, "layers": args.layers,
              "heads": args.heads, "dropout": args.dropout, "vocab": train_set.vocab}
    model = build_model(config).to(args.device)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.model]
    batch_size = args.batch_size * world.size
    return {
        "config": config,
        "lr": lr,
        "model": model,
        "net": world.wrap(model),  # what training calls
        "world": world,
        "device": args.device,
        "optimizer": build_optimizer(model, args.optimizer, lr),
        "loader": DataLoader(train_set, batch_size=batch_size, shuffle=True,
                             seed=args.seed, drop_last=True),
        "val_batches": [(x.to(args.device), y.to(args.device)) for x, y in val_windows(
            val_set, args.block_size, args.eval_batches, batch_size)],
    }


def new_progress(shuffle_state: dict) -> dict:
    """Where a run stands: steps done, the shuffle generator's state when the current
    pass over the training windows began and the steps into that pass, the running
    train loss, the history, and when the validation loss first beat the trigram."""
    return {"step": 0, "epoch_rng": shuffle_state, "epoch_step": 0, "running": None,
            "seconds": 0.0, "cpu_seconds": 0.0, "below_trigram": None,
            "history": {"step": [], "seconds": [], "cpu_seconds": [], "train_loss": [],
                        "val_loss": [], "lr": []}}


def training_state(args: argparse.Namespace, parts: dict, progress: dict) -> dict:
    """Everything needed to continue exactly where the run is, and to sample from it."""
    from autograd.random import default_generator

    return {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "config": parts["config"],  # what ``chaingrad sample`` rebuilds the model from
        "options": {key: getattr(args, key) for key in (*RESUMED, "steps")},
        "model": parts["model"].state_dict(),
        "optimizer": parts["optimizer"].state_dict(),
        "progress": {**progress, "rng": default_generator().bit_generator.state},
    }


def restore(parts: dict, checkpoint: dict) -> dict:
    """Load model, optimizer and random state; return the progress."""
    from autograd.random import default_generator

    parts["model"].load_state_dict(checkpoint["model"])
    parts["optimizer"].load_state_dict(checkpoint["optimizer"])
    progress = dict(checkpoint["progress"])
    default_generator().bit_generator.state = progress.pop("rng")
    return progress


def make_train_step(parts: dict, compiled: bool) -> Any:
    """One optimizer step on a batch of windows: mean next-character cross-entropy,
    backward, gradients clipped at norm 1, the optimizer's step; returns the loss.
    ``compiled``: traced on its first calls and replayed after (``autograd.compile``;
    the same numbers as eager). The learning rate is set outside, before each call:
    the optimizer's step runs as Python in a replay and reads it then."""
    import nn
    import nn.functional as F

    model, net, optimizer, world = (parts["model"], parts["net"], parts["optimizer"],
                                    parts["world"])

    def step(x: Any, y: Any) -> Any:
        logits = net(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        world.backward(loss)  # gradients averaged over the ranks when it returns
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    if not compiled:
        return step
    import autograd

    return autograd.compile(step)


def train_steps(args: argparse.Namespace, parts: dict, progress: dict, trigram: float,
                stop: Any, bar: Any) -> bool:
    """Train from ``progress`` up to ``args.steps``, evaluating every ``--eval-every``
    steps; True when done (or out of ``--time-limit``), False when Ctrl-C ended it."""
    model, optimizer, loader = parts["model"], parts["optimizer"], parts["loader"]
    world, train_step = parts["world"], make_train_step(parts, args.compile)
    history, lr = progress["history"], parts["lr"]
    warmup = min(100, args.steps // 10 + 1)
    wall, cpu = time.perf_counter(), time.process_time()
    seconds, cpu_seconds = progress["seconds"], progress["cpu_seconds"]
    # the shuffle is drawn when a pass starts, from the state it began with: a resumed
    # pass gets the same order and skips the batches it had used
    loader.generator.bit_generator.state = progress["epoch_rng"]
    batches = iter(loader)
    for _ in range(progress["epoch_step"]):
        next(batches)
    while progress["step"] < args.steps:
        batch = next(batches, None)
        if batch is None:  # a new pass over the training windows
            progress.update(epoch_rng=loader.generator.bit_generator.state, epoch_step=0)
            batches = iter(loader)
            continue
        x, y = (t.to(parts["device"]) for t in world.share(batch))
        step = progress["step"]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.steps, lr, warmup)
        loss = train_step(x, y)
        elapsed = seconds + time.perf_counter() - wall
        # the ranks' clocks differ: they agree on the time limit (and the loss) here
        value, out_of_time = world.step_outcome(
            loss.item(), args.time_limit is not None and elapsed >= args.time_limit)
        running = progress["running"]
        progress.update(step=step + 1, epoch_step=progress["epoch_step"] + 1,
                        running=value if running is None else 0.9 * running + 0.1 * value,
                        seconds=elapsed, cpu_seconds=cpu_seconds + time.process_time() - cpu)
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
        if progress["step"] % args.eval_every == 0 or progress["step"] == args.steps or (
                out_of_time):
            val_loss = evaluate(model, parts["val_batches"])
            for key, value in (("step", progress["step"]),
                               ("seconds", round(progress["seconds"], 2)),
                               ("cpu_seconds", round(progress["cpu_seconds"], 2)),
                               ("train_loss", progress["running"]), ("val_loss", val_loss),
                               ("lr", optimizer.param_groups[0]["lr"])):
                history[key].append(value)
            if progress["below_trigram"] is None and val_loss < trigram:
                progress["below_trigram"] = {key: history[key][-1]
                                             for key in ("step", "seconds", "cpu_seconds")}
            (bar.write if bar is not None else print)(
                f"step {progress['step']:5d}  {progress['seconds']:6.1f} s  train "
                f"{progress['running']:.3f}  val {val_loss:.3f} nats/char")
        if out_of_time:
            return True
        if stop.requested and progress["step"] < args.steps:
            return False
    return True


def run(args: argparse.Namespace) -> int:
    from autograd.data import datasets

    checkpoint = validate(args)
    world = data_parallel.setup(args)  # under mpirun: this rank's part; alone: all of it
    tune_unless_disabled()  # keep freed memory for reuse (autograd/allocator.py)
    train_set = datasets.text(args.block_size, "train")
    val_set = datasets.text(args.block_size, "val")
    base = baselines(train_set, val_set)
    trigram = base["trigram"]["nats"]
    print(f"corpus: Python's help topics, {len(train_set.data):,} train / "
          f"{len(val_set.data):,} val characters, {train_set.vocab_size} distinct; "
          f"baselines on val: bigram {base['bigram']['nats']:.3f}, trigram {trigram:.3f} "
          "nats/char")
    parts = build(args, train_set, val_set, world)
    if checkpoint is None:
        progress = new_progress(parts["loader"].generator.bit_generator.state)
    else:
        progress = restore(parts, checkpoint)
    world.own_randomness(args.seed, progress["step"])  # dropout masks of its own
    n_params = sum(p.numel() for p in parts["model"].parameters())
    what = "resuming" if checkpoint is not None else "training"
    print(f"{what} {args.model} ({n_params:,} parameters) for {args.steps} steps, batch "
          f"{args.batch_size} x {args.block_size} characters, {args.optimizer} "
          f"lr={parts['lr']}, seed {args.seed}"
          + (f", from step {progress['step']}" if checkpoint is not None else ""))
    if world.size > 1:
        print(world.describe(args.batch_size))
    bar = common.progress_bar(args.steps, args.no_progress, initial=progress["step"])
    try:
        # under mpirun every rank must stop at the same step: Ctrl-C just ends the job
        with common.StopOnInterrupt(enabled=world.size == 1) as stop:
            finished = train_steps(args, parts, progress, trigram, stop, bar)
    finally:
        if bar is not None:
            bar.close()
    if not finished:
        path, _ = save_progress(args, parts, progress, base, None)
        print(f"chaingrad train: interrupted at step {progress['step']} of {args.steps}; "
              f"progress saved to {path}; continue with: chaingrad train --task lm "
              f"--resume {path}", file=sys.stderr)
        with contextlib.redirect_stdout(None):  # the line above said it all
            plot_curves(args.out / "curves.png", progress["history"], base)
        return INTERRUPTED
    history, below = progress["history"], progress["below_trigram"]
    print(f"final validation loss {history['val_loss'][-1]:.3f} nats/char after "
          f"{progress['step']} steps in {progress['seconds']:.1f} s (trigram {trigram:.3f})")
    if below is not None:
        print(f"below the trigram baseline at step {below['step']}, after "
              f"{below['seconds']:.1f} s")
    if not world.is_main:
        return 0
    sample = generate(parts["model"], parts["config"], "The ", 200, 0.8, args.seed)
    print("sample:\n" + sample)
    written = list(save_progress(args, parts, progress, base, sample))
    curves = plot_curves(args.out / "curves.png", history, base)
    if curves is not None:
        written.append(curves)
    for path in written:
        print(f"wrote {path}")
    return 0


def save_progress(args: argparse.Namespace, parts: dict, progress: dict, base: dict,
                  sample: str | None) -> tuple:
    """The checkpoint and metrics.json, each written atomically."""
    import nn

    checkpoint = args.out / "checkpoint.npz"
    nn.save(training_state(args, parts, progress), checkpoint)
    history = progress["history"]
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    metrics = args.out / "metrics.json"
    with common.replacing(metrics) as tmp:
        tmp.write_text(json.dumps({
            "config": config,
            "task": "lm",
            "finished": progress["step"] >= args.steps,
            "steps_done": progress["step"],
            "final_val_loss": history["val_loss"][-1] if history["step"] else None,
            "final_train_loss": history["train_loss"][-1] if history["step"] else None,
            "baselines": base,
            "below_trigram": progress["below_trigram"],
            "parameters": sum(p.numel() for p in parts["model"].parameters()),
            "seconds": round(progress["seconds"], 2),
            "cpu_seconds": round(progress["cpu_seconds"], 2),
            "sample": sample,
            "history": history,
        }, indent=2))
    return checkpoint, metrics


def plot_curves(path: Path, history: dict, base: dict) -> Path | None:
    """Train and validation loss (nats/char) against steps, the baselines as lines."""
    plt = common.pyplot()
    if plt is None or not history["step"]:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(history["step"], history["train_loss"], color="#0072B2", label="train (running)")
    ax.plot(history["step"], history["val_loss"], color="#D55E00", marker="o", markersize=3,
            label="validation")
    for name, style in (("bigram", ":"), ("trigram", "--")):
        ax.axhline(base[name]["nats"], color="0.4", linestyle=style,
                   label=f"{name} baseline ({base[name]['nats']:.2f})")
    ax.set(xlabel="step", ylabel="cross-entropy (nats per character)",
           title="character-level language model")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return common.save_figure(fig, path)


# --------------------------------------------------------------------------- sampling


def generate(model: Any, config: dict, prompt: str, tokens: int, temperature: float,
             seed: int, top_k: int | None = None) -> str:
    """``prompt`` continued by ``tokens`` characters drawn from the model, each from
    softmax(logits / temperature) (temperature 0: always the likeliest; ``top_k``:
    only among the k likeliest), with ``autograd.manual_seed(seed)``. Runs on the
    model's device."""
    import autograd

    vocab = config["vocab"]
    index = {c: i for i, c in enumerate(vocab)}
    unknown = sorted({c for c in prompt if c not in index})
    if unknown:
        raise ValueError(f"the prompt has characters outside the model's vocabulary: "
                         f"{unknown}")
    autograd.manual_seed(seed)
    device = next(model.parameters()).device
    ids = [index[c] for c in prompt] or [index["\n"]]
    block = config["block_size"]
    model.eval()
    state = None
    feed = ids
    with autograd.no_grad():
        for _ in range(tokens):
            if config["model"] == "lstm":  # carry the state: feed only what is new
                logits, state = model.step(autograd.tensor([feed], device=device), state)
                logits = logits[:, -1]
            else:
                logits = model(autograd.tensor([ids[-block:]], device=device))[:, -1]
            if temperature == 0:
                choice = int(logits.argmax(-1).item())
            else:
                logits = logits.double() / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    cutoff = logits.topk(top_k).values[:, -1:]
                    logits = logits.masked_fill(logits < cutoff, float("-inf"))
                choice = int(logits.softmax(-1).multinomial(1).item())
            ids.append(choice)
            feed = [choice]
    model.train()
    return prompt + "".join(vocab[i] for i in ids[len(prompt) or 1:])
