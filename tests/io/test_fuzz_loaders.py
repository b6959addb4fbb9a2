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
import traceback

import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.errors import RistrettoSimError
from tests.io.fuzz_corpus import COUNTS, SHARED, Case, build

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
    from ristretto_sim.graph.caffe_import import load_caffe_model

    model = load_caffe_model(path, weights, structure_only=weights is None)
    return model.quant_plan()


def _packed(path):
    from ristretto_sim.graph.packed_weights import load_packed

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


#: the default run's tripwire: 60 fixed cases, 12 per kind (the first of them reproduced loader bugs)
FAST = {
    "onnx": list(range(12)),
    "prototxt": list(range(12)),
    "caffemodel": list(range(12)),
    "plan": list(range(12)),
    "packed": list(range(12)),
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
