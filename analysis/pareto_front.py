"""The joint accuracy x energy search on the bundled LeNet, the README's Pareto section: official MNIST test images
0-499 score candidates (of the validation split 0-1,999), the front is re-scored on the held-out images 2,000-3,999;
200 COMPLETE NSGA-II trials on the 32x32 edge array, uniform 16-bit / int8 / Ristretto greedy in the first population.

The same run as ``ristretto-sim search lenet --data ../shared/data/mnist --trials 200 --validation-images 500
--test-images 2000 --out OUT``, through the public API: every output of the search (``pareto.csv``, ``trials.csv``,
``references.csv``, ``summary.json``, the plan and accelerator file per front point and the three accuracy plots) goes
into ``--out`` (``analysis/figures/pareto_lenet/``, embedded by the README), while the study itself lives in
``--work``/study.db (not checked in), so a rerun resumes it and adds only missing trials.
"""

import argparse
import time
from pathlib import Path

from ristretto_sim import load_model
from ristretto_sim.hw import preset
from ristretto_sim.search.joint import SearchProblem, SearchSpace, objectives, split_data
from ristretto_sim.search.joint.outputs import write_outputs
from ristretto_sim.search.joint.study import JointSearch, SearchSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data/mnist")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--validation-images", type=int, default=500, help="score the first N validation images")
    ap.add_argument("--test-images", type=int, default=2000, help="re-score the front on the first N test images")
    ap.add_argument("--out", default="analysis/figures/pareto_lenet")
    ap.add_argument("--work", default="analysis/out/search")
    args = ap.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "study.db"
    start = time.perf_counter()
    config = preset("edge-32x32-int8")
    problem = SearchProblem(load_model("lenet"), split_data(args.data, validation_images=args.validation_images,
                                                                test_images=args.test_images), config)
    # the study stays out of the checked-in folder; an earlier run's is continued (only missing trials run)
    settings = SearchSettings(out=out, storage=f"sqlite:///{db}", trials=args.trials,
                              objectives=objectives(["accuracy", "energy"]), resume=db.exists())
    search = JointSearch(problem, SearchSpace.default(config), settings)
    front = search.run()
    summary = write_outputs(search, front, seconds=time.perf_counter() - start)
    q = summary["quality"]
    print(f"wrote {out}/ (pareto.csv, trials.csv, references.csv, summary.json, {len(summary['plots'])} plots); "
          f"{summary['complete_trials']} trials, front {len(front)}, {summary['seconds']:.0f} s; quality {q}")


if __name__ == "__main__":
    main()
