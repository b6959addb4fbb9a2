"""``ristretto-sim info``: a model's layer table (type, shapes, MACs, parameters) and its preprocessing."""

from __future__ import annotations

import json

from ristretto_sim.cli.modelargs import load_structure

NAME = "info"
HELP = "show a model's layers: type, input/output shapes, MACs and parameters"
DESCRIPTION = (
    "Load a model (ONNX file, Caffe prototxt with --weights, or a bundled model's name such as lenet) and "
    "print "
    "one row per layer: type, per-sample input and output shapes, multiply-accumulates and parameter count, "
    "then totals, the input preprocessing and any BatchNormalization folded into weights."
)


def add_arguments(p):
    p.add_argument("model", help="model: .onnx, Caffe .prototxt (+ --weights), or a bundled name (lenet, ...)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights for a prototxt")
    p.add_argument("--plan", metavar="PLAN.yaml",
                   help="also show each layer's formats from a quantization plan (or 'embedded': the model's own)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _shape(s) -> str:
    return "x".join(str(d) for d in s)


def describe(network) -> dict:
    """The JSON-able description ``info --json`` prints."""
    pre = network.preprocess
    return {
        "model": network.name,
        "source": network.source,
        "task": network.task,
        "inputs": [{"name": i.name, "shape": list(i.shape)} for i in network.inputs],
        "outputs": [{"name": t, "shape": list(network.shape(t))} for t in network.outputs],
        "input_layout": network.input_layout.value,
        "preprocessing": None
        if pre is None
        else {
            "scale": pre.scale,
            "mean": list(pre.mean),
            "mean_image": pre.mean_image is not None,
            "crop_size": pre.crop_size,
        },
        "layers": [
            {
                "name": r.name,
                "type": r.op_type,
                "inputs": [list(s) for s in r.input_shapes],
                "output": list(r.output_shape),
                "macs": r.macs,
                "params": r.params,
            }
            for r in network.summary()
        ],
        "total_macs": network.total_macs,
        "total_params": network.total_params,
        "folded": [{"folded": f.folded, "into": f.into, "kind": f.kind} for f in network.foldings],
    }


def run(args) -> int:
    network, structure_only = load_structure(args.model, args.weights)
    info = describe(network)
    info["weights_loaded"] = not structure_only
    plan = None
    if args.plan:
        from ristretto_sim.cli.modelargs import load_plan_arg

        plan = load_plan_arg(args.plan, args.model, args.weights, network)  # a file, or "embedded"
        info["plan_mode"] = plan.mode.value
        for row in info["layers"]:
            entry = plan.get(row["name"])
            row["formats"] = {} if entry is None else {k: str(v) for k, v in entry.items()}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model {info['model']} ({info['source']}), task: {info['task']}")
    if structure_only:
        print("(structure only: no caffemodel given, weights not loaded)")
    from ristretto_sim.cli.modelargs import layer_labels

    # a converted model's 200-character layer names print as index:kind:part (the JSON keeps the full names)
    label_of = layer_labels(network)
    labels = [label_of[r["name"]] for r in info["layers"]]
    rows = [
        (
            label,
            r["type"],
            " ".join(_shape(s) for s in r["inputs"]),
            _shape(r["output"]),
            f"{r['macs']:,}",
            f"{r['params']:,}",
        )
        for label, r in zip(labels, info["layers"], strict=True)
    ]
    heads = ("layer", "type", "input", "output", "MACs", "params")
    if plan is not None:
        keys = ("inputs", "weights", "outputs", "accumulator")
        short = {}  # a per-channel affine format's 64 scales print as "affine8[64 scales on axis 0]"; --json: all
        for r in info["layers"]:
            entry = plan.get(r["name"])
            for k, v in ({} if entry is None else entry.items()):
                short[r["name"], k] = v.short() if hasattr(v, "short") else str(v)
        rows = [row + tuple(short.get((r["name"], k), "-") for k in keys)
                for row, r in zip(rows, info["layers"], strict=True)]
        heads = heads + ("in", "w", "out", "acc")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 4 or i > 5 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*heads).rstrip())
    for row in rows:
        print(fmt.format(*row).rstrip())
    print(f"total: {info['total_macs']:,} MACs per image, {info['total_params']:,} parameters")
    if any(label != r["name"] for label, r in zip(labels, info["layers"], strict=True)):
        print("(long layer names are shortened to index:kind:part; --json gives the full names)")
    for i in info["inputs"]:
        print(f"input {i['name']}: {_shape(i['shape'])} (NCHW; file layout {info['input_layout'].upper()})")
    pre = info["preprocessing"]
    if pre is None and _int8(network):
        print("preprocessing: none, an int8 model takes its input codes (score: --data FILE.npz with x and y)")
    elif pre is None:
        print("preprocessing: not documented by the model (score needs --input-scale/--input-mean)")
    else:
        mean = ",".join(f"{m:g}" for m in pre["mean"]) or ("mean image" if pre["mean_image"] else "0")
        crop = f", crop {pre['crop_size']}" if pre["crop_size"] else ""
        print(f"preprocessing: x = (pixel - {mean}) * {pre['scale']:g}{crop}")
    for f in info["folded"]:
        print(f"folded: {f['kind']} {f['folded']!r} into {f['into']!r}")
    if plan is not None:
        print(
            f"plan: {args.plan} (mode {plan.mode.value}, rounding {plan.rounding.value}, "
            f"overflow {plan.overflow.value})"
        )
    return 0


def _int8(network) -> bool:
    from ristretto_sim.runtime.int8 import is_int8

    return is_int8(network)
