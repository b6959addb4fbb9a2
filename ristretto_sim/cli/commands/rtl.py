"""``ristretto-sim rtl``: Verilog of a PE (or an output-stationary array) for given formats or for a plan's
layer, with a Verilog testbench whose vectors come from the emulator."""

from __future__ import annotations

import re

NAME = "rtl"
HELP = "write the Verilog of a PE or systolic array for given formats or a plan's layer, with a testbench"
DESCRIPTION = (
    "Generate synthesizable Verilog (Amaranth) of the PE that computes a datapath exactly as the emulator does, "
    "or of a RxC output-stationary array of it, and a Verilog testbench with vectors from the emulator "
    "(run it with iverilog or verilator: see hdl/README.md). Either give the formats (--pe, --inputs, --weights, "
    "--acc; an affine PE also --outputs), or a MODEL with --plan and --layer (or --array alone: the widest datapath "
    "over the plan); an int8 TFLite model needs no --plan (its own affine formats), and its layer's PE comes with "
    "TFLite's requantizer."
)


def add_arguments(p):
    p.add_argument("model", nargs="?",
                   help="model (.onnx, .tflite, Caffe .prototxt or a bundled name) to take a plan's layer from")
    p.add_argument("--plan", help="quantization plan YAML for MODEL (default: the plan the model file carries)")
    p.add_argument("--layer", help="the plan's layer whose datapath to generate (its name, or its label as info "
                   "prints it)")
    p.add_argument("--pe", choices=("fixed", "minifloat", "shift", "affine"), help="PE kind (without MODEL)")
    p.add_argument("--inputs", metavar="FMT", help="activation format, e.g. fixed8.7, e4m3fn or affine8[s=0.05,z=-3]")
    p.add_argument("--weights", metavar="FMT", help="weight format, e.g. fixed8.7, e4m3fn, pow2[-7,0] or "
                   "affine8[s=0.01,z=0]")
    p.add_argument("--acc", metavar="FMT", help="accumulator format, e.g. fixed24.14 (minifloat: omit for the "
                   "exact Kulisch register, or a minifloat such as fp16 or bf16 for a float adder)")
    p.add_argument("--product", metavar="FMT", help="minifloat PE with a float accumulator: round each product to "
                   "this minifloat first (default: exact products)")
    p.add_argument("--outputs", metavar="FMT", help="output format (recorded in the spec; an affine PE needs one)")
    p.add_argument("--overflow", choices=("saturate", "wrap"), default="saturate", help="accumulator overflow")
    p.add_argument("--rounding", default=None,
                   help="readout rounding (default nearest_even); an affine PE with nearest_away (TFLite's) comes "
                        "with TFLite's requantizer, nearest_even (ONNX's float readout) without one")
    p.add_argument("--zero-point", choices=("subtract", "fold", "register"), default="subtract",
                   help="affine PE: subtract the zero points in the PE (default), multiply the raw codes onto "
                        "the folded bias b - z_a * sum_k w_k (symmetric weights), or take the zero points on two "
                        "configuration inputs za, zw loaded per layer (register: one PE or array for every layer; "
                        "with MODEL --array, the testbench runs each layer's zero points)")
    p.add_argument("--shifter-bits", type=int, help="shift PE: barrel shifter width (default: lossless)")
    p.add_argument("--k", type=int, default=1024,
                   help="reduction length the PE is sized for (default accumulators, Kulisch width; default 1024)")
    p.add_argument("--array", metavar="RxC", help="an array of RxC PEs, e.g. 8x8 (its dataflow: --dataflow)")
    p.add_argument("--dataflow", choices=("os", "ws"), default="os",
                   help="with --array: os (an output-stationary array) or ws (a weight-stationary GEMM sequencer: "
                        "double-buffered array, operand memories, fold FSM)")
    p.add_argument("--cycles", type=int, default=2000, help="testbench cycles of a PE (default 2000)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the Verilog and testbench into")


def _array(text):
    if text is None:
        return None
    m = re.fullmatch(r"\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*", text)
    if m is None:
        raise ValueError(f"--array {text!r}: give rows x cols, e.g. 8x8")
    return int(m.group(1)), int(m.group(2))


def _from_plan(args):
    import numpy as np

    import ristretto_sim as rs
    from ristretto_sim.graph.plan import embedded_plan
    from ristretto_sim.rtl.generate import array_formats, layer_spec, layer_specs

    if any(getattr(args, a) is not None for a in ("pe", "inputs", "weights", "acc", "product", "rounding")):
        raise ValueError("rtl MODEL takes its formats from --plan; leave out "
                         "--pe/--inputs/--weights/--acc/--product/--rounding")
    net = rs.load_model(args.model)
    plan = rs.load_plan(args.plan, net) if args.plan is not None else embedded_plan(net)
    if plan is None:
        raise ValueError("rtl MODEL needs --plan PLAN.yaml (the formats of its layers)")
    layers = {}
    for layer in net.layers:
        params = net.params.get(layer.name, {})
        w = params.get("weight")
        if w is None:
            continue
        f = plan.layer_formats(layer.name)
        if f is None:
            continue
        layers[layer.name] = (f, int(np.prod(w.shape[1:])))
    if args.layer is not None:
        from ristretto_sim.cli.modelargs import resolve_layer

        name = resolve_layer(net, args.layer, layers)  # the full name, or the label info prints
        f, k = layers[name]
        spec = layer_spec(f, k, args.zero_point)
        return spec, next(lay for lay in net.layers if lay.name == name), [spec]
    if args.array is None:
        raise ValueError("rtl MODEL needs --layer NAME (its PE) or --array RxC (the widest datapath of the plan)")
    f, k = array_formats(layers, args.zero_point)
    spec = layer_spec(f, k, args.zero_point)
    return spec, None, layer_specs(spec, layers)


def run(args) -> int:
    from ristretto_sim.emulator.datapaths import LayerFormats
    from ristretto_sim.graph.layers import Dense
    from ristretto_sim.rtl.generate import pe_spec_for, write_design

    array = _array(args.array)
    linear = False
    layers = None
    if args.model is not None:
        spec, layer, layers = _from_plan(args)
        linear = isinstance(layer, Dense)
    else:
        if args.pe is None or args.inputs is None or args.weights is None:
            raise ValueError("give --pe, --inputs and --weights (and --acc), or a MODEL with --plan")
        extra = {} if args.rounding is None else {"rounding": args.rounding}
        if args.product is not None:
            extra["product"] = args.product
        formats = LayerFormats(args.inputs, args.weights, outputs=args.outputs, accumulator=args.acc,
                               overflow=args.overflow, shifter_bits=args.shifter_bits, **extra)
        spec = pe_spec_for(args.pe, formats, args.k, args.zero_point)
    written = write_design(spec, args.out, array=array, cycles=args.cycles, linear=linear, dataflow=args.dataflow,
                           layers=layers, requantizer=args.model is None or layer is not None)
    print(written.summary)
    return 0
