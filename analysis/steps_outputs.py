"""Record what ``hw.mapping.schedule``, ``hw.simulate.simulate`` and ``io.onnx.exporter.to_onnx`` produce, to
check that splitting them into named steps changed nothing.

Usage::

    PYTHONPATH=$PWD python analysis/steps_outputs.py OUT_DIR            # record
    diff -r BEFORE_DIR OUT_DIR                                           # compare

Written to ``OUT_DIR``:

* ``simulate/*.json``: ``ristretto-sim simulate MODEL --arch ARCH --json`` (run in-process through
  ``cli.main``) for every bundled model x every preset, as named and as YAML copies in os/ws/is with and
  without ``keep_activations_on_chip``, plus small-buffer, bit-serial, shift and minifloat accelerators; with
  and without ``--scalesim-compatible``, with unlimited and finite (16 B/cycle) bandwidth, with the PE's
  formats and with a ``score --dfp 8`` plan. A run that fails records its ``error:`` line instead.
* ``schedule.json``: every field of ``schedule(...)`` (step arrays in full) for seeded random layers and
  accelerators (tiny buffers, so tiles are chunked and partial sums spill), all flag combinations.
* ``onnx/*.onnx``: the bytes of ``to_onnx`` on each bundled model, on the shared test models and on networks
  holding every layer spec; ``qonnx/*.onnx``: ``export MODEL --plan P --qonnx`` and ``to_qonnx`` bytes.

The report JSON holds no wall-clock fields (``latency_s`` is model time), so files compare byte for byte.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

MODELS = ("lenet", "cifar10_full_lrn", "ae_deconv")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def cli(argv: list[str]) -> str:
    """stdout of ``ristretto-sim ARGV`` run in this process (an ``error:`` line and the exit code on failure)."""
    from ristretto_sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code:
        return f"exit {code}\n{err.getvalue()}"
    return out.getvalue()


def extra_archs():
    """Accelerators beyond the presets that reach the schedule's rarer branches."""
    from ristretto_sim.hw import AcceleratorConfig
    from ristretto_sim.hw.config import BufferConfig, DRAMConfig, PEConfig

    tiny = dict(
        ifmap=BufferConfig(2048, word_bits=32),
        filter=BufferConfig(1024, word_bits=32),
        ofmap=BufferConfig(1024, word_bits=16),
        dram=DRAMConfig(8.0, 20),
    )
    out = {}
    for df in ("os", "ws", "is"):
        out[f"tiny-8x8-{df}"] = AcceleratorConfig(8, 8, df, name=f"tiny-{df}", **tiny)
        out[f"tiny-8x8-{df}-single"] = AcceleratorConfig(
            8,
            8,
            df,
            ifmap=BufferConfig(4096, double_buffered=False),
            filter=BufferConfig(4096, double_buffered=False),
            ofmap=BufferConfig(2048, double_buffered=False),
            dram=DRAMConfig(4.0, 5),
            name=f"single-{df}",
        )
        out[f"serial-16x16-{df}"] = AcceleratorConfig(
            16,
            16,
            df,
            pe=PEConfig("fixed_mac", "int8", "int8", "int32", precision="serial", bits_per_cycle=2),
            ifmap=BufferConfig(8192),
            filter=BufferConfig(8192),
            ofmap=BufferConfig(8192),
            name=f"serial-{df}",
        )
        out[f"shift-16x8-{df}"] = AcceleratorConfig(
            16, 8, df, pe=PEConfig("shift", "int8", "pow2[-8,0]", "fixed24.0"), name=f"shift-{df}"
        )
        out[f"minifloat-8x16-{df}"] = AcceleratorConfig(
            8, 16, df, pe=PEConfig("minifloat", "e4m3", "e4m3", "fp16"), name=f"mf-{df}"
        )
    return out


def record_simulate(out: Path) -> None:
    from ristretto_sim.hw import preset
    from ristretto_sim.hw.presets import PRESETS

    sim = out / "simulate"
    archs = out / "archs"
    plans = out / "plans"
    for d in (sim, archs, plans):
        d.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        cli(["score", model, "--dfp", "8", "--limit", "50", "--write-plan", str(plans / f"{model}_dfp8.yaml")])
    arch_args = {name: name for name in PRESETS}
    for name in PRESETS:
        base = preset(name)
        for df in ("os", "ws", "is"):
            for keep in (False, True):
                tag = f"{name}-{df}{'-keep' if keep else ''}"
                base.replace(dataflow=df, keep_activations_on_chip=keep).to_yaml(archs / f"{tag}.yaml")
                arch_args[tag] = str(archs / f"{tag}.yaml")
    for tag, cfg in extra_archs().items():
        for keep in (False, True):
            t = f"{tag}{'-keep' if keep else ''}"
            cfg.replace(keep_activations_on_chip=keep).to_yaml(archs / f"{t}.yaml")
            arch_args[t] = str(archs / f"{t}.yaml")
    runs = 0
    for model in MODELS:
        for tag, arch in arch_args.items():
            for ss in (False, True):
                for bw in (None, "16"):
                    for plan in (None, plans / f"{model}_dfp8.yaml"):
                        if plan is not None and ss:
                            continue  # scalesim-compatible ignores the formats
                        argv = ["simulate", model, "--arch", arch, "--json"]
                        if ss:
                            argv.append("--scalesim-compatible")
                        if bw is not None:
                            argv += ["--bandwidth", bw]
                        if plan is not None:
                            argv += ["--plan", str(plan)]
                        key = f"{model}__{tag}__{'ss' if ss else 'ours'}__bw{bw or 'inf'}__{'dfp8' if plan else 'pe'}"
                        (sim / f"{key}.json").write_text(cli(argv))
                        runs += 1
    # explicit --formats (narrow weights, wide accumulator) and a batch of 3
    for model in MODELS:
        for arch in ("edge-32x32-int8", "eyeriss-12x14-ws"):
            argv = ["simulate", model, "--arch", arch, "--json", "--formats", "int8,fixed4.0,int8,fixed24.0"]
            argv += ["--batch", "3"]
            (sim / f"{model}__{arch}__formats_batch3.json").write_text(cli(argv))
            runs += 1
    print(f"simulate: {runs} runs", file=sys.stderr)


def _schedule_fields(s) -> dict:
    return {
        "compute_cycles": s.compute_cycles.tolist(),
        "read_bits": s.read_bits.tolist(),
        "write_bits": s.write_bits.tolist(),
        "folds": s.folds,
        "dram_bits": s.dram_bits,
        "compulsory_bits": s.compulsory_bits,
        "sram_bits": s.sram_bits,
        "sram_words": s.sram_words,
        "mapping_efficiency": repr(s.mapping_efficiency),
        "compute_util": repr(s.compute_util),
        "dtypes": [str(a.dtype) for a in (s.compute_cycles, s.read_bits, s.write_bits)],
    }


def record_schedule(out: Path, cases: int = 400) -> None:
    from ristretto_sim.emulator import LayerFormats
    from ristretto_sim.errors import ConfigError
    from ristretto_sim.hw import AcceleratorConfig
    from ristretto_sim.hw.config import BufferConfig
    from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape
    from ristretto_sim.hw.mapping import schedule

    rng = np.random.default_rng(20240909)
    formats = [
        LayerFormats("int8", "int8", outputs="int8", accumulator="int32"),
        LayerFormats("fixed4.0", "fixed2.0", outputs="fixed6.0", accumulator="fixed12.0"),
        LayerFormats("int16", "int8", outputs="int16", accumulator="fixed40.0"),
    ]
    records = []
    for i in range(cases):
        kind = rng.integers(3)
        if kind == 0:
            c = int(rng.choice([1, 2, 3, 4, 8, 16]))
            groups = int(rng.choice([g for g in (1, 2, c) if c % g == 0]))
            n = groups * int(rng.integers(1, 9))
            layer = ConvShape(
                f"c{i}",
                int(rng.integers(3, 20)),
                int(rng.integers(3, 20)),
                c,
                n,
                kernel=int(rng.integers(1, 4)),
                stride=int(rng.integers(1, 3)),
                padding=int(rng.integers(0, 2)),
                groups=groups,
                batch=int(rng.integers(1, 3)),
            )
        elif kind == 1:
            layer = GemmShape(f"g{i}", int(rng.integers(1, 80)), int(rng.integers(1, 80)), int(rng.integers(1, 200)))
        else:
            layer = ConvTransposeShape(
                f"t{i}", int(rng.integers(2, 9)), int(rng.integers(2, 9)), 4, 2, kernel=3, stride=2, padding=1
            )
        df = ("os", "ws", "is")[int(rng.integers(3))]
        rows, cols = int(rng.integers(1, 17)), int(rng.integers(1, 17))
        caps = [int(rng.choice([64, 256, 1024, 4096, 1 << 20])) for _ in range(3)]
        double = bool(rng.integers(2))
        config = AcceleratorConfig(
            rows,
            cols,
            df,
            ifmap=BufferConfig(caps[0], double_buffered=double),
            filter=BufferConfig(caps[1], double_buffered=double),
            ofmap=BufferConfig(caps[2], double_buffered=double),
        )
        fmt = formats[int(rng.integers(len(formats)))]
        cpm = int(rng.choice([1, 1, 3]))
        for ss in (False, True):
            for on_in in (False, True):
                for on_out in (False, True):
                    rec = {"layer": repr(layer), "config": config.to_dict(), "formats": str(fmt), "cpm": cpm,
                           "scalesim_compatible": ss, "input_on_chip": on_in, "output_on_chip": on_out}
                    try:
                        s = schedule(
                            layer.problem(),
                            fmt,
                            config,
                            layer=layer.name,
                            cycles_per_mac=cpm,
                            scalesim_compatible=ss,
                            input_on_chip=on_in,
                            output_on_chip=on_out,
                        )
                        rec["schedule"] = _schedule_fields(s)
                    except ConfigError as exc:
                        rec["error"] = str(exc)
                    records.append(rec)
    (out / "schedule.json").write_text(json.dumps(records, indent=0, sort_keys=True))
    errors = sum("error" in r for r in records)
    print(f"schedule: {len(records)} calls, {errors} ConfigErrors", file=sys.stderr)


def branch_network():
    """A network reaching the exporter branches the test network does not: no-bias conv and scale, 1-D dense,
    relu/clip with open bounds, a three-operand eltwise, global and floor-mode pools, constant pad, a
    reshaping flatten, a plain softmax, no preprocessing."""
    from ristretto_sim.graph import (
        Activation,
        Conv,
        Dense,
        Eltwise,
        Flatten,
        Network,
        Pad,
        Pool,
        Scale,
        Softmax,
        TensorSpec,
    )

    rng = np.random.default_rng(7)
    L = [
        Conv(name="c", inputs=("x",), outputs=("c",), in_channels=2, out_channels=3, kernel=(3, 3), bias=False),
        Scale(name="s", inputs=("c",), outputs=("s",), channels=3, bias=False),
        Activation(name="r", inputs=("s",), outputs=("r",), kind="relu"),
        Activation(name="lo", inputs=("r",), outputs=("lo",), kind="clip", low=0.5),
        Activation(name="hi", inputs=("lo",), outputs=("hi",), kind="clip", high=4.0),
        Eltwise(name="e3", inputs=("r", "lo", "hi"), outputs=("e3",), op="max"),
        Eltwise(name="ek", inputs=("e3", "r"), outputs=("ek",), op="sub", coeffs=(1.0, 3.0)),
        Pool(name="mp", inputs=("ek",), outputs=("mp",), kind="max", kernel=2, stride=2),
        Pool(name="ap", inputs=("mp",), outputs=("ap",), kind="avg", kernel=2, stride=1, pads=(1, 1, 0, 0)),
        Pad(name="pd", inputs=("ap",), outputs=("pd",), pads=(0, 1, 1, 0, 1, 0), mode="constant", value=0.25),
        Pool(name="gp", inputs=("pd",), outputs=("gp",), kind="avg", global_pool=True),
        Flatten(name="fl", inputs=("pd",), outputs=("fl",), axis=2),
        Softmax(name="sm", inputs=("fl",), outputs=("sm",), axis=2),
        Flatten(name="f1", inputs=("gp",), outputs=("f1",)),
        Dense(name="d", inputs=("f1",), outputs=("d",), in_features=3, out_features=5),
        Softmax(name="sd", inputs=("d",), outputs=("y",), axis=1, flatten=True),
    ]
    params = {
        "c": {"weight": rng.normal(size=(3, 2, 3, 3))},
        "s": {"weight": rng.uniform(0.5, 2, 3)},
        "d": {"weight": rng.normal(size=(5, 3)), "bias": rng.normal(size=5)},
    }
    return Network("branches", (TensorSpec("x", (2, 10, 10)),), tuple(L), ("y", "sm"), params)


def record_onnx(out: Path) -> None:
    from ristretto_sim import load_model
    from ristretto_sim.io.onnx.exporter import to_onnx
    from ristretto_sim.io.onnx.qonnx import to_qonnx

    d = out / "onnx"
    q = out / "qonnx"
    d.mkdir(parents=True, exist_ok=True)
    q.mkdir(parents=True, exist_ok=True)
    nets = {m: load_model(m) for m in MODELS}
    mnist8 = SHARED / "onnx" / "mnist-8.onnx"
    if mnist8.exists():
        nets["mnist8"] = load_model(mnist8)
    lenet = SHARED / "caffe-lenet"
    if lenet.exists():
        nets["caffe_lenet"] = load_model(lenet / "lenet_train_test.prototxt", lenet / "lenet_iter_10000.caffemodel")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.io.onnx.test_exporter import every_spec_network

    nets["every_within"] = every_spec_network()
    nets["every_across"] = every_spec_network(within_lrn=False)
    nets["branches"] = branch_network()
    for name, net in nets.items():
        (d / f"{name}.onnx").write_bytes(to_onnx(net).SerializeToString())
        (d / f"{name}.b4.opset17.onnx").write_bytes(to_onnx(net, opset=17, batch=4).SerializeToString())
        to_onnx(net, d / f"{name}.saved.onnx")
    from ristretto_sim.graph.plan import QuantPlan

    plans = out / "plans"
    for model in MODELS:
        plan_path = plans / f"{model}_dfp8.yaml"
        if not plan_path.exists():
            continue
        (q / f"{model}.cli.txt").write_text(
            cli(["export", model, "--plan", str(plan_path), "--qonnx", str(q / f"{model}.cli.onnx")])
        )
        plan = QuantPlan.load(plan_path, nets[model])
        for mode in ("exact", "ristretto"):
            (q / f"{model}.{mode}.b2.onnx").write_bytes(
                to_qonnx(nets[model], plan, mode=mode, batch=2).SerializeToString()
            )
    print(f"onnx: {len(nets)} networks", file=sys.stderr)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[0]).resolve()
    target.mkdir(parents=True, exist_ok=True)
    os.chdir(target)  # relative paths only, so the CLI's messages do not name the output directory
    out = Path(".")
    record_simulate(out)
    record_schedule(out)
    record_onnx(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
