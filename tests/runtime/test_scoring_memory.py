"""Scoring streams an ImageNet-size source in bounded memory (slow): 5,000 random 3x227x227 images (about 770 MB of
Caffe ``Datum`` records in an LMDB) scored by a small strided CNN, in float and in exact 8-bit arithmetic, in a
fresh Python process whose peak resident memory while scoring must stay under 500 MB above what it held before.

What is measured: the child's resident set (``VmRSS``) just before scoring, then the kernel's high-water mark of the
resident set (``VmHWM``, which ``getrusage``'s ``ru_maxrss`` reports too) over the scoring run alone, reset
beforehand through ``/proc/self/clear_refs`` (Linux 4.0+). The resident set counts every page the process touches:
NumPy and Python allocations, BLAS buffers and the file pages of the LMDB's memory map while they are mapped (the
source maps the database for one batch at a time), so it is the real peak, not only the NumPy arrays
``tracemalloc`` would see."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.runtime.scoring import default_batch_size

N_IMAGES = 5000
SHAPE = (3, 227, 227)
LIMIT_MB = 500


CHILD = textwrap.dedent("""
    import json, sys, time
    import ristretto_sim as rs
    from ristretto_sim.data import open_source
    from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(key)

    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    model, data = sys.argv[1], sys.argv[2]
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else None  # None: the default batch size
    network = rs.load_model(model)
    source = open_source(data)
    calib = network.preprocess(source.to_dataset(32).images)
    plan = dynamic_fixed_point_plan(network, calib, 8, mode="exact")
    del calib
    runs = {}
    for name, p in (("float", None), ("exact", plan)):
        before = status("VmRSS")
        reset = reset_peak()
        start = time.perf_counter()
        score = rs.score(network, data, plan=p, batch_size=batch)
        seconds = time.perf_counter() - start
        runs[name] = {"before": before, "peak": status("VmHWM"), "peak_reset": reset, "seconds": seconds,
                      "images": score.images, "top1": score.top1, "mode": score.mode}
    print(json.dumps(runs))
""")


def write_lmdb(path: Path, rng) -> None:
    """``N_IMAGES`` random images as Caffe ``Datum`` records (keys ``%08d``, as ``convert`` writes them), generated
    and written 250 at a time."""
    lmdb = pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    from ristretto_sim.data.lmdb_source import encode_datum

    path.mkdir()
    env = lmdb.open(str(path), map_size=2 << 30, subdir=True)
    try:
        for first in range(0, N_IMAGES, 250):
            images = rng.integers(0, 256, (250, *SHAPE), dtype=np.uint8)
            labels = rng.integers(0, 10, 250)
            with env.begin(write=True) as txn:
                for i in range(250):
                    txn.put(b"%08d" % (first + i), encode_datum(images[i], int(labels[i])))
    finally:
        env.close()


def write_cnn(path: Path, rng) -> None:
    """Conv 5x5/4 (8 maps) -> ReLU -> Conv 3x3/2 (16) -> ReLU -> Conv 3x3/2 (16) -> ReLU -> Flatten -> Gemm (10),
    on 3x227x227 input with preprocessing pixel/255."""
    onnx = pytest.importorskip("onnx", reason="onnx is not installed")
    from onnx import TensorProto, helper, numpy_helper

    params, nodes, x, c, size = {}, [], "data", 3, SHAPE[1]
    for i, (maps, k, s) in enumerate(((8, 5, 4), (16, 3, 2), (16, 3, 2))):
        params[f"w{i}"] = rng.normal(0, (2 / (c * k * k)) ** 0.5, (maps, c, k, k)).astype(np.float32)
        params[f"b{i}"] = rng.normal(0, 0.05, maps).astype(np.float32)
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"conv{i}"], name=f"conv{i}", strides=[s, s]),
                  helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"relu{i}")]
        x, c, size = f"relu{i}", maps, (size - k) // s + 1
    params["wf"] = rng.normal(0, 0.02, (10, c * size * size)).astype(np.float32)
    params["bf"] = np.zeros(10, np.float32)
    nodes += [helper.make_node("Flatten", [x], ["flat"], name="flat"),
              helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(
        nodes, "cnn227",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", *SHAPE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in params.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(model, {"preprocessing.scale": repr(1 / 255), "preprocessing.mean": ""})
    onnx.save(model, str(path))


@pytest.mark.slow
def test_an_imagenet_size_lmdb_is_scored_in_bounded_memory(tmp_path):
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux's /proc/self/status to read the resident set")
    rng = np.random.default_rng(227)
    db = tmp_path / "val_lmdb"
    write_lmdb(db, rng)
    size = (db / "data.mdb").stat().st_size
    assert size > N_IMAGES * int(np.prod(SHAPE))  # about 770 MB of records
    model = tmp_path / "cnn227.onnx"
    write_cnn(model, rng)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    # the default batch size (no --batch-size): what a user who follows the README gets
    done = subprocess.run([sys.executable, "-c", CHILD, str(model), f"lmdb:{db}"], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    mb = 1 << 20
    report = ", ".join(f"{name}: peak {(r['peak'] - r['before']) / mb:.0f} MB above {r['before'] / mb:.0f} MB "
                       f"in {r['seconds']:.1f} s" for name, r in runs.items())
    batch = default_batch_size(SHAPE)
    print(f"\nLMDB of {N_IMAGES} x {SHAPE} ({size / mb:.0f} MB), default batches of {batch}: {report}")
    for name, r in runs.items():
        assert r["images"] == N_IMAGES and r["mode"] == name
        assert r["peak_reset"], "could not reset the peak through /proc/self/clear_refs"
        assert r["peak"] - r["before"] < LIMIT_MB * mb, f"{name}: {report}"
