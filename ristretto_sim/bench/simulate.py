"""Benchmark of the cycle model: AlexNet's conv layers on a 32x32 os array, and a ResNet-18-size network.

``run()`` returns a JSON-able dict. It measures (1) our in-process ``simulate`` time and (2) the whole wall
time of ``ristretto-sim simulate`` on the same SCALE-Sim topology and config (a subprocess, so interpreter
start-up and imports count), and reports the compute cycles per layer; with ``with_scalesim=True`` it also
runs the real SCALE-Sim (its own environment, see ``ristretto_sim.hw.scalesim_run``) and compares cycles and
time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ristretto_sim.hw import AcceleratorConfig, BufferConfig, ConvShape, GemmShape, preset, simulate
from ristretto_sim.hw.scalesim_cfg import write_scalesim_cfg
from ristretto_sim.hw.topology import read_topology, write_topology

#: SCALE-Sim's topologies/conv_nets/alexnet.csv (scalesim-project/scale-sim-v2), as SCALE-Sim reads it
ALEXNET_CONV = (
    ("Conv1", 224, 224, 11, 11, 3, 96, 4),
    ("Conv2", 27, 27, 5, 5, 96, 256, 1),
    ("Conv3", 13, 13, 3, 3, 256, 384, 1),
    ("Conv4", 13, 13, 3, 3, 384, 384, 1),
    ("Conv5", 13, 13, 3, 3, 384, 256, 1),
)


def alexnet_conv_layers() -> list[ConvShape]:
    """AlexNet's five conv layers exactly as SCALE-Sim takes them (no padding, ceil output size)."""
    return [
        ConvShape(n, h, w, c, k, kernel=(fh, fw), stride=s, ceil_mode=True)
        for n, h, w, fh, fw, c, k, s in ALEXNET_CONV
    ]


def resnet18_layers(batch: int = 1) -> list:
    """The convolutions and the classifier of ResNet-18 on 224x224 inputs (He et al., CVPR 2016, table 1)."""
    layers: list = [ConvShape("conv1", 224, 224, 3, 64, kernel=7, stride=2, padding=3, batch=batch)]
    size, ch = 56, 64
    for stage, out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if (stage > 1 and block == 0) else 1
            name = f"layer{stage}.{block}"
            layers.append(
                ConvShape(
                    f"{name}.conv1", size, size, ch, out, kernel=3, stride=stride, padding=1, batch=batch
                )
            )
            if stride == 2 or ch != out:
                layers.append(
                    ConvShape(f"{name}.downsample", size, size, ch, out, kernel=1, stride=stride, batch=batch)
                )
            size //= stride
            layers.append(ConvShape(f"{name}.conv2", size, size, out, out, kernel=3, padding=1, batch=batch))
            ch = out
    layers.append(GemmShape("fc", batch, 1000, 512))
    return layers


def scalesim_like_config(dataflow: str = "os") -> AcceleratorConfig:
    """32x32, 64 KB per operand, unlimited bandwidth: SCALE-Sim's configs/scale.cfg in CALC mode."""
    return AcceleratorConfig(
        32,
        32,
        dataflow,
        ifmap=BufferConfig(65536),
        filter=BufferConfig(65536),
        ofmap=BufferConfig(65536),
        name="scale_32x32_os_calc",
    )


def _time(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(*, with_scalesim: bool = False, scalesim_python: str | Path | None = None) -> dict:
    """Run the benchmark and return its figures (seconds, cycles) as a JSON-able dict."""
    out: dict = {"name": "simulate"}
    config = scalesim_like_config("os")
    layers = alexnet_conv_layers()
    t_lib, report = _time(lambda: simulate(layers, None, config, scalesim_compatible=True))
    cycles = {x.name: x.compute_cycles for x in report.layers}
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        topo, cfg = Path(tmp) / "alexnet.csv", Path(tmp) / "scale.cfg"
        write_topology(layers, topo)
        write_scalesim_cfg(config, cfg, run_name="alexnet")
        assert read_topology(topo, mode="scalesim") == layers
        cmd = [
            sys.executable,
            "-m",
            "ristretto_sim.cli",
            "simulate",
            "--topology",
            str(topo),
            "--arch",
            str(cfg),
            "--scalesim-compatible",
            "--json",
        ]

        def cli():
            return subprocess.run(cmd, capture_output=True, text=True, check=True)

        t_cli, _ = _time(cli)
    out["alexnet_conv_32x32_os"] = {
        "layers": len(layers),
        "compute_cycles": cycles,
        "total_compute_cycles": sum(cycles.values()),
        "library_wall_s": t_lib,
        "cli_wall_s": t_cli,
    }
    for df in ("ws", "is"):
        r = simulate(layers, None, config.replace(dataflow=df), scalesim_compatible=True)
        out["alexnet_conv_32x32_os"][f"total_compute_cycles_{df}"] = r.total.compute_cycles

    resnet = resnet18_layers()
    edge = preset("edge-32x32-int8")
    t_resnet, rr = _time(lambda: simulate(resnet, None, edge))
    out["resnet18_edge_32x32"] = {
        "layers": len(resnet),
        "macs": rr.total.macs,
        "wall_s": t_resnet,
        "target_s": 2.0,
        "total_cycles": rr.total.total_cycles,
        "compute_cycles": rr.total.compute_cycles,
        "stall_cycles": rr.total.stall_cycles,
        "dram_bytes": rr.total.dram_read_bytes + rr.total.dram_write_bytes,
        "energy_uj": rr.total.energy.total_pj / 1e6,
    }
    if with_scalesim:
        from ristretto_sim.hw.scalesim_run import run_scalesim

        rows, t_ss = run_scalesim(layers, config, python=Path(scalesim_python) if scalesim_python else None)
        theirs = {x.name: r.compute_cycles for x, r in zip(layers, rows, strict=True)}
        out["alexnet_conv_32x32_os"].update(
            scalesim_compute_cycles=theirs,
            scalesim_wall_s=t_ss,
            cycles_identical=theirs == cycles,
            speedup_vs_cli=t_ss / t_cli,
            dram={
                x.name: {
                    "ours_ifmap_filter_ofmap_bytes": [
                        y.dram_ifmap_bytes,
                        y.dram_filter_bytes,
                        y.dram_ofmap_bytes + y.dram_psum_write_bytes,
                    ],
                    "scalesim_ifmap_filter_ofmap_words": [
                        r.dram_ifmap_reads,
                        r.dram_filter_reads,
                        r.dram_ofmap_writes,
                    ],
                }
                for x, y, r in zip(layers, report.layers, rows, strict=True)
            },
        )
    return out
