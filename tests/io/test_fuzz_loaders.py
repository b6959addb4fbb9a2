"""Mutation fuzz test of every file reader: a mutated file loads, or raises the project's own error naming the file.

The corpus (``fuzz_corpus``) mutates real ONNX, prototxt, caffemodel, plan and packed weight files. Each case runs in
this process under a time limit (a hang fails, naming the case) and a cap on address space (an absurd declared size
that the loader tries to allocate fails as a ``MemoryError`` instead of swapping the machine). Any exception that is
not a ``RistrettoSimError``, or one whose message does not name the mutated file, fails with the case's seed and
mutations; ``python -m tests.io.fuzz_corpus KIND SEED`` writes that file again.

The full run (2,000 cases, ``COUNTS``) is ``slow``; ``FAST`` is a fixed subset in the default run.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import resource
import signal
import sys
import time
import traceback

import numpy as np
import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.errors import PlanError, RistrettoSimError
from tests.io.fuzz_corpus import COUNTS, SHARED, Case, SeedFile, build, seed_bytes, seed_files

CAFFEMODEL = SHARED / "caffe-lenet" / "lenet_iter_10000.caffemodel"
LENET_TT = SHARED / "caffe-lenet" / "lenet_train_test.prototxt"

#: seconds one case may take (the unmutated files load in well under a second)
TIME_LIMIT = 20
#: address space a case may add to the process (the largest seed file is 1.7 MB)
MEMORY_HEADROOM = 3 << 30


@functools.cache
def _network(name: str):
    if name == "caffe-lenet":
        return load_model(LENET_TT, CAFFEMODEL)
    return load_model(name)


def _ristretto(path, weights):
    from ristretto_sim.io.caffe.importer import load_caffe_model

    model = load_caffe_model(path, weights, structure_only=weights is None)
    return model.quant_plan()


def _packed(path):
    from ristretto_sim.io.weights.packed import load_packed

    return load_packed(path).decode()


#: how each seed file's loader reads a mutated file (``SeedFile.loader``), with its other file (``context``)
LOADERS = {
    "onnx": lambda path, context: load_model(path),
    "caffe": lambda path, context: load_model(path, CAFFEMODEL),
    "ristretto": lambda path, context: _ristretto(path, None),
    "ristretto_weights": lambda path, context: _ristretto(path, CAFFEMODEL),
    "caffemodel": lambda path, context: load_model(context, path),
    "plan": lambda path, context: load_plan(path, _network(context)),
    "packed": lambda path, context: _packed(path),
}


class Hang(BaseException):
    """Raised by the alarm inside a case that runs past ``TIME_LIMIT`` (a BaseException, so no loader's
    ``except Exception`` swallows it)."""


@contextlib.contextmanager
def _limits():
    def alarm(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY_HEADROOM, hard))
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


class CaseFailure(Exception):
    pass


def run_case(case: Case, tmp_path) -> str:
    """Load one mutated file; returns ``"loaded"`` or the project error's type name, raises ``CaseFailure``."""
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    load = LOADERS[case.source.loader]
    try:
        with _limits():
            load(path, case.source.context)
    except Hang:
        raise CaseFailure(f"{case.describe()}: no result after {TIME_LIMIT} s") from None
    except RistrettoSimError as exc:
        if case.filename not in str(exc):
            raise CaseFailure(f"{case.describe()}: {type(exc).__name__} does not name the file: {exc}") from exc
        return type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - anything else is the failure this test looks for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise CaseFailure(f"{case.describe()}: {type(exc).__name__}: {str(exc)[:300]} "
                          f"(at {where.filename}:{where.lineno})") from exc
    finally:
        path.unlink()
    return "loaded"


#: the default run's tripwire: 60 fixed cases, most of which failed on the loaders before the fuzz test existed
#: (ONNX: initializers whose data does not fill their dims or whose type is unknown, attributes of the wrong type,
#: without a value or missing, nodes without inputs or outputs, non-UTF-8 or empty names, zero strides, rank
#: errors; prototxt: structure-only blobs of terabytes; caffemodel: blob mismatches naming only the prototxt;
#: plan: non-UTF-8 bytes; packed: infinite and wrapping sizes, codes outside the format)
FAST = {
    "onnx": [18, 30, 10, 59, 292, 93, 741, 73, 92, 24, 432, 443, 769, 772, 281, 584, 1018, 1167, 1188, 1367, 1153,
             1270, 1821, 1840, 505, 895],
    "prototxt": [562, 790, 1126, 1140, 1304, 1307, 0, 1],
    "caffemodel": [70, 153, 249, 256, 758, 930, 1072, 0, 1],
    "plan": [4, 11, 16, 19, 0, 1, 2, 3],
    "packed": [17, 247, 276, 354, 522, 577, 0, 1, 2],
}


@pytest.mark.parametrize(("kind", "seed"), [(k, s) for k, seeds in FAST.items() for s in seeds])
def test_fuzz_case(kind, seed, tmp_path):
    try:
        run_case(build(kind, seed), tmp_path)
    except CaseFailure as exc:
        pytest.fail(f"{exc}\nreplay: python -m tests.io.fuzz_corpus {kind} {seed}", pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(COUNTS))
def test_fuzz_corpus(kind, tmp_path):
    outcomes = collections.Counter()
    failures = []
    for seed in range(COUNTS[kind]):
        try:
            outcomes[run_case(build(kind, seed), tmp_path)] += 1
        except CaseFailure as exc:
            outcomes["FAILED"] += 1
            failures.append(str(exc))
    print(f"\nfuzz {kind}: {COUNTS[kind]} mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    assert not failures, (f"{len(failures)} of {COUNTS[kind]} {kind} mutations failed "
                          f"(replay: python -m tests.io.fuzz_corpus {kind} SEED):\n" + "\n".join(failures))


@pytest.mark.parametrize("kind", list(COUNTS))
def test_seed_files_load_unmutated(kind, tmp_path):
    """The corpus starts from files that load: a mutation's error comes from the mutation."""
    for source in seed_files()[kind]:
        path = tmp_path / f"seed{source.suffix}"
        path.write_bytes(seed_bytes(source))
        LOADERS[source.loader](path, source.context)


def test_cases_replay_exactly():
    for kind in COUNTS:
        a, b = build(kind, 7), build(kind, 7)
        assert a.data == b.data and a.mutations == b.mutations and a.source == b.source
        assert build(kind, 8).data != a.data


def _fake_case(loader: str) -> Case:
    source = SeedFile("plan", "x.yaml", None, loader)
    return Case("plan", 3, source, ("flip 1 bit(s) at [0]",), b"version: 1\n")


@pytest.mark.parametrize(("body", "expect"), [
    (lambda path, context: [][1], r"plan/3 \(x\.yaml: flip 1 bit.*IndexError"),
    (lambda path, context: (_ for _ in ()).throw(PlanError("bad plan")), "does not name the file"),
    # numpy's calloc would hand out the pages lazily: only the address-space cap makes this fail
    (lambda path, context: np.zeros(MEMORY_HEADROOM + (1 << 30), dtype=np.uint8), "MemoryError"),
    (lambda path, context: time.sleep(5), r"plan/3 .*no result after 0\.2 s"),
])
def test_harness_reports_what_a_loader_does_wrong(body, expect, tmp_path, monkeypatch):
    monkeypatch.setitem(LOADERS, "fake", body)
    monkeypatch.setattr(sys.modules[__name__], "TIME_LIMIT", 0.2)
    with pytest.raises(CaseFailure, match=expect):
        run_case(_fake_case("fake"), tmp_path)
    monkeypatch.setitem(LOADERS, "fake", lambda path, context: (_ for _ in ()).throw(PlanError(f"{path}: bad")))
    assert run_case(_fake_case("fake"), tmp_path) == "PlanError"
