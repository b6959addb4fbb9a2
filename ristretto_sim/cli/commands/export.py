"""``ristretto-sim export``: the quantized weights as a packed integer file, a C header and/or a QONNX model."""

from __future__ import annotations

import json
from pathlib import Path

NAME = "export"
HELP = "export quantized weights: packed integer file (.rsw), C header, QONNX model"
DESCRIPTION = (
    "Write the weights and biases of every layer a plan quantizes as the integer codes the emulator computes "
    "with: --packed OUT.rsw (a JSON header and dense LSB-first bitstreams at each format's exact width), "
    "--c-header OUT.h (the same bitstreams as C arrays with their formats and decode macros), --qonnx OUT.onnx "
    "(the float model with QONNX Quant/FloatQuant nodes). Prints each file's size and the packed file's "
    "size against the float32 weights."
)


def add_arguments(p):
    p.add_argument("model", help="model: .onnx, Caffe .prototxt (+ --weights), or a bundled name (lenet, ...)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights for a prototxt")
    p.add_argument("--plan", metavar="PLAN.yaml",
                   help="quantization plan, or 'embedded' (a Ristretto prototxt's or an int8 TFLite model's own; "
                   "the default for an int8 model)")
    p.add_argument("--mode", choices=("exact", "ristretto"), help="whose quantized weights (default: the plan's)")
    p.add_argument("--packed", metavar="OUT.rsw", help="write the packed integer weights file")
    p.add_argument("--c-header", metavar="OUT.h", help="write a C header with the packed weights")
    p.add_argument("--prefix", help="C symbol prefix (default: the model's name)")
    p.add_argument("--qonnx", metavar="OUT.onnx", help="write a QONNX model")
    p.add_argument("--batch", type=int, metavar="N", help="QONNX: fixed batch size (default: symbolic)")
    p.add_argument("--seed", type=int, help="seed of a plan with stochastic rounding")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _model_bytes(network, args) -> int | None:
    total = 0
    for f in (network.source, args.weights):
        if f and Path(f).is_file():
            total += Path(f).stat().st_size
    return total or None


def _versus(ratio: float, what: str) -> str:
    """``ratio`` = other size / packed size, in words: "3.75x smaller than float32", "1.05x larger than ..."."""
    return f"{ratio:.2f}x smaller than {what}" if ratio >= 1 else f"{1 / ratio:.2f}x larger than {what}"


def run(args) -> int:
    from ristretto_sim import load_model
    from ristretto_sim.io.weights.packed import pack_network

    if not (args.packed or args.c_header or args.qonnx):
        raise ValueError("nothing to export: give --packed, --c-header and/or --qonnx")
    network = load_model(args.model, args.weights)
    from ristretto_sim.cli.modelargs import load_plan_arg

    if args.plan is None:
        from ristretto_sim.graph.plan import embedded_plan

        if embedded_plan(network) is None:
            raise ValueError("export needs --plan PLAN.yaml (the formats to quantize the weights to; only an int8 "
                             "model carries its own)")
        args.plan = "embedded"  # an int8 model's own formats
    plan = load_plan_arg(args.plan, args.model, getattr(args, "weights", None), network)
    mode = args.mode or plan.mode.value
    report = {"model": network.name, "mode": mode, "float32_bytes": 4 * network.total_params}
    packed = None
    if args.packed or args.c_header:
        packed = pack_network(network, plan, mode=mode, rng=args.seed)
        report["weight_bits"] = sum(t.codes.size * t.fmt.bits for t in packed.tensors)
    if args.packed:
        size = packed.save(args.packed)
        report["packed"] = {"path": args.packed, "bytes": size}
        report["ratio_vs_float32"] = report["float32_bytes"] / size
        model_bytes = _model_bytes(network, args)
        if model_bytes:
            report["model_file_bytes"] = model_bytes
            report["ratio_vs_model_file"] = model_bytes / size
    if args.c_header:
        from ristretto_sim.io.weights.c_header import save_c_header

        report["c_header"] = {"path": args.c_header, "bytes": save_c_header(args.c_header, packed, args.prefix)}
    if args.qonnx:
        from ristretto_sim.io.onnx.qonnx import to_qonnx

        to_qonnx(network, plan, args.qonnx, mode=mode, batch=args.batch)
        report["qonnx"] = {"path": args.qonnx, "bytes": Path(args.qonnx).stat().st_size}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{network.name}: {mode}-mode quantized weights of {len(plan.layers)} planned layers")
    print(f"float32 weights: {report['float32_bytes']:,} bytes ({network.total_params:,} parameters)")
    if args.packed:
        line = f"packed weights:  {report['packed']['bytes']:,} bytes -> {args.packed} "
        line += f"({_versus(report['ratio_vs_float32'], 'float32')}"
        if "ratio_vs_model_file" in report:
            line += f", {_versus(report['ratio_vs_model_file'], 'the model file')}"
        print(line + ")")
    if args.c_header:
        print(f"C header:        {report['c_header']['bytes']:,} bytes -> {args.c_header}")
    if args.qonnx:
        print(f"QONNX model:     {report['qonnx']['bytes']:,} bytes -> {args.qonnx}")
    return 0
