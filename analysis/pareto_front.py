"""The joint accuracy x energy search on the bundled LeNet: official MNIST test images 0-1,999 validate,
2,000-9,999 are the held-out test split; NSGA-II, uniform 16-bit / int8 / Ristretto greedy in the first population.

The study lives in ``--work``/search/study.db, so a rerun resumes it (and adds only missing trials). Writes
``pareto_front.csv`` (the front re-scored on the test split, plus the references) and ``pareto_front.png`` into
``--out``.
"""

import argparse
import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim import load_model  # noqa: E402
from ristretto_sim.hw import preset  # noqa: E402
from ristretto_sim.search.joint import SearchProblem, SearchSpace, objectives, split_data  # noqa: E402
from ristretto_sim.search.joint.outputs import write_outputs  # noqa: E402
from ristretto_sim.search.joint.study import JointSearch, SearchSettings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data/mnist")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--validation-images", type=int, help="score only the first N validation images")
    ap.add_argument("--test-images", type=int, help="re-score the front on the first N test images only")
    ap.add_argument("--out", default="analysis/figures")
    ap.add_argument("--work", default="analysis/out")
    args = ap.parse_args()
    out, work = Path(args.out), Path(args.work) / "search"
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    config = preset("edge-32x32-int8")
    problem = SearchProblem(load_model("lenet"), split_data(args.data, validation_images=args.validation_images,
                                                                test_images=args.test_images), config)
    # an earlier run's study is continued: only missing trials are run
    settings = SearchSettings(out=work, trials=args.trials, objectives=objectives(["accuracy", "energy"]),
                              resume=(work / "study.db").exists())
    search = JointSearch(problem, SearchSpace.default(config), settings)
    front = search.run()
    summary = write_outputs(search, front, seconds=time.perf_counter() - start)
    rows = [{"kind": "front", "trial": t.number, "validation_top1": t.user_attrs["measurement"]["accuracy"],
             "test_top1": search.test_accuracy(t), "energy_pj": t.user_attrs["measurement"]["energy_pj"],
             "latency_s": t.user_attrs["measurement"]["latency_s"], "area_um2": t.user_attrs["measurement"]["area_um2"]}
            for t in front]
    for r in search.references.values():
        rows.append({"kind": r.name, "trial": "", "validation_top1": r.measurement.accuracy,
                     "test_top1": r.test_accuracy, "energy_pj": r.measurement.energy_pj,
                     "latency_s": r.measurement.latency_s, "area_um2": r.measurement.area_um2})
    with open(out / "pareto_front.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    pts = sorted((r for r in rows if r["kind"] == "front"), key=lambda r: r["energy_pj"])
    ax.plot([r["energy_pj"] / 1e6 for r in pts], [100 * r["test_top1"] for r in pts], "o-", label="Pareto front")
    for r, (m, c) in zip([r for r in rows if r["kind"] != "front"], (("s", "#d62728"), ("^", "#9467bd"),
                                                                     ("D", "#2ca02c")), strict=False):
        ax.scatter([r["energy_pj"] / 1e6], [100 * r["test_top1"]], marker=m, c=c, s=60, label=r["kind"], zorder=3)
    ax.axhline(100 * search.baseline("test"), ls="--", c="k", lw=0.8, label="float32")
    ax.set_ylim(min(100 * r["test_top1"] for r in rows) - 1, 100 * search.baseline("test") + 0.3)
    ax.set_xlabel("energy per inference (uJ), 32x32 edge array")
    ax.set_ylabel("top-1 on MNIST test images 2,000-9,999 (%)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "pareto_front.png", dpi=100)
    q = summary["quality"]
    print(f"wrote {out / 'pareto_front.png'} and .csv; {summary['complete_trials']} trials, front "
          f"{len(front)}, {summary['seconds']:.0f} s; quality {q}")


if __name__ == "__main__":
    main()
