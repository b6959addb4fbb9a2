"""``ristretto-sim report MODEL``: one self-contained HTML report (``ristretto_sim.report``)."""

from __future__ import annotations

NAME = "report"
HELP = "write a self-contained HTML report: baseline, Ristretto analysis, plan, cycles/energy, area, Pareto front"
DESCRIPTION = (
    "Float baseline, Ristretto's trimming analysis (exact arithmetic, back-off), the chosen plan, per-layer cycles "
    "and energy on an accelerator with utilisation, roofline and area, and the Pareto front of a joint search "
    "(--search DIR), in one HTML file whose plots are embedded."
)


def add_arguments(p):
    p.add_argument("model", nargs="?", default="lenet", help="model (.onnx, bundled name; default lenet)")
    p.add_argument("--data", help="dataset (default: the model's own)")
    p.add_argument("--plan", help="plan YAML (default: the trimming's plan in exact arithmetic)")
    p.add_argument("--arch", default="edge-32x32-int8", help="accelerator preset or file (default edge-32x32-int8)")
    p.add_argument("--search", metavar="DIR", help="a ristretto-sim search output folder: add its Pareto front")
    p.add_argument("--iterations", type=int, default=10, help="scored batches of 100 images (default 10)")
    p.add_argument("--margin", type=float, default=1.0, help="trimming error margin, points (default 1)")
    p.add_argument("--out", default="out/report.html", help="output file (default out/report.html)")


def run(args) -> int:
    from ristretto_sim.report import ReportInputs, write_report

    inputs = ReportInputs(model=args.model, data=args.data, plan=args.plan, arch=args.arch, search=args.search,
                          iterations=args.iterations, margin=args.margin)
    path = write_report(inputs, args.out)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0
