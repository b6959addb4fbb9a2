"""The ``ristretto-sim simulate`` command (cli/commands/simulate.py), tested with the hw model."""

import json
from pathlib import Path

import pytest

from ristretto_sim.cli import main
from ristretto_sim.hw import preset, write_scalesim_cfg

TOPO = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
conv1, 28, 28, 5, 5, 1, 20, 1,
conv2, 12, 12, 5, 5, 20, 50, 1,
"""


@pytest.fixture
def topo(tmp_path):
    path = tmp_path / "lenet.csv"
    path.write_text(TOPO)
    return path


def test_table_and_files(topo, tmp_path, capsys):
    code = main(
        [
            "simulate",
            "--topology",
            str(topo),
            "--arch",
            "edge-32x32-int8",
            "--csv",
            str(tmp_path / "o.csv"),
            "--plot",
            str(tmp_path / "o.png"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "conv1" in out and "total" in out and "leakage " in out
    assert (tmp_path / "o.csv").read_text().count("\n") == 4
    assert (tmp_path / "o.png").exists()


def test_json_scalesim_compatible_with_cfg(topo, tmp_path, capsys):
    cfg = tmp_path / "a.cfg"
    write_scalesim_cfg(preset("edge-32x32-int8").replace(dataflow="ws"), cfg)
    assert main(["simulate", "-t", str(topo), "--arch", str(cfg), "--scalesim-compatible", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # conv1: M = 24*24, N = 20, K = 25 on 32x32 ws: 1 fold of 2*32 + 32 + 576 - 2, minus 1
    assert data["layers"][0]["compute_cycles"] == 2 * 32 + 32 + 576 - 2 - 1
    assert data["layers"][0]["stall_cycles"] == 0  # InterfaceBandwidth: CALC is unlimited
    assert set(data["layers"][0]["energy_pj"]) >= {"total", "dram", "sram", "arithmetic"}
    assert data["scalesim_compatible"] is True


def test_formats_and_yaml_arch(topo, tmp_path, capsys):
    arch = tmp_path / "arch.yaml"
    preset("edge-32x32-int8").to_yaml(arch)
    assert (
        main(["simulate", "-t", str(topo), "-a", str(arch), "--json", "--formats", "int8,int4,int8,int32"])
        == 0
    )
    four = json.loads(capsys.readouterr().out)
    assert main(["simulate", "-t", str(topo), "-a", str(arch), "--json"]) == 0
    eight = json.loads(capsys.readouterr().out)
    assert four["layers"][1]["dram_filter_bytes"] * 2 == eight["layers"][1]["dram_filter_bytes"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["model.txt", "--arch", "edge-32x32-int8"], "not a file, and not a bundled model"),
        (["--arch", "edge-32x32-int8"], "give the network either as MODEL"),
        (["-t", "TOPO", "--arch", "edge-32x32-int8", "--plan", "p.yaml"], "--plan needs MODEL"),
        (["-t", "TOPO", "--arch", "nope"], "neither a preset"),
        (["-t", "TOPO", "--arch", "edge-32x32-int8", "--bandwidth", "-1"], "bandwidth_bytes_per_cycle=-1"),
        (["-t", "TOPO", "--arch", "edge-32x32-int8", "--formats", "int8,int8"], "needs four formats"),
        (["-t", "TOPO", "--arch", "edge-32x32-int8", "--formats", "int8,int16,int8,int32"], "does not fit"),
        (["-t", "missing.csv", "--arch", "edge-32x32-int8"], "missing.csv"),
    ],
)
def test_user_errors_are_one_line_exit_2(topo, capsys, argv, message):
    argv = [str(topo) if a == "TOPO" else a for a in argv]
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


LENET = Path(__file__).resolve().parents[2] / "models" / "lenet" / "lenet.onnx"


def test_model_with_plan(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nlayers:\n  ip1: {inputs: fixed8.0, weights: fixed4.3, outputs: fixed8.0}\n")
    assert main(["simulate", str(LENET), "--arch", "edge-32x32-int8", "--json"]) == 0
    base = {x["name"]: x for x in json.loads(capsys.readouterr().out)["layers"]}
    assert main(["simulate", str(LENET), "--arch", "edge-32x32-int8", "--plan", str(plan), "--json"]) == 0
    planned = {x["name"]: x for x in json.loads(capsys.readouterr().out)["layers"]}
    assert list(base) == ["conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2"]
    assert base["pool1"]["fused_into"] == "conv1" and base["conv1"]["dram_ofmap_bytes"] == 20 * 12 * 12
    assert planned["ip1"]["dram_filter_bytes"] * 2 == base["ip1"]["dram_filter_bytes"] == 800 * 500
    assert planned["conv1"] == base["conv1"]
    assert main(["simulate", str(LENET), "--arch", "edge-32x32-int8"]) == 0
    assert "views, no data moved: flatten" in capsys.readouterr().out


def test_side_by_side_of_several_accelerators(topo, tmp_path, capsys):
    out_csv = tmp_path / "cmp.csv"
    argv = ["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "-a", "eyeriss-12x14-ws", "--csv", str(out_csv)]
    assert main([*argv, "--plot", str(tmp_path / "cmp.png")]) == 0
    out = capsys.readouterr().out
    head, *rows = out.splitlines()
    assert "edge-32x32-int8" in head and "eyeriss-12x14-ws" in head
    for metric in ("total cycles", "utilisation %", "energy uJ", "SRAM uJ", "leakage uJ", "area mm^2", "latency ms"):
        assert any(r.strip().startswith(metric) for r in rows), metric
    table = out_csv.read_text().splitlines()
    assert table[0] == "metric,edge-32x32-int8,eyeriss-12x14-ws"
    assert (tmp_path / "cmp.png").exists()
    assert main(["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "-a", "edge-32x32-int8", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"edge-32x32-int8#1", "edge-32x32-int8#2"}


def test_sweep_writes_a_table_and_a_plot(topo, tmp_path, capsys):
    out_csv, out_png = tmp_path / "s.csv", tmp_path / "s.png"
    argv = ["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "--sweep", "rows=8,16,32"]
    argv += ["--sweep", "dataflow=os,ws"]
    assert main([*argv, "--csv", str(out_csv), "--plot", str(out_png)]) == 0
    out = capsys.readouterr().out
    lines = out_csv.read_text().splitlines()
    assert lines[0].startswith("rows,dataflow,total cycles") and len(lines) == 1 + 3 * 2
    assert out_png.exists() and "wrote" in out
    # more rows never hurt the compute of these conv layers on os
    cycles = {tuple(r.split(",")[:2]): int(r.split(",")[3]) for r in lines[1:]}
    assert cycles[("8", "os")] >= cycles[("16", "os")] >= cycles[("32", "os")]


def test_a_long_axis_name_keeps_its_column_apart(topo, tmp_path, capsys):
    argv = ["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "--sweep", "latency=0,100", "--sweep",
            "prefetch_depth=1,16", "--csv", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "s.png")]
    assert main(argv) == 0
    head = capsys.readouterr().out.splitlines()[0].split()
    assert head[:4] == ["latency", "prefetch_depth", "total", "cycles"]


@pytest.mark.parametrize(
    "sweep, message",
    [("rows", "must read NAME=V1,V2"), ("depth=1,2", "is not a sweep axis"), ("rows=a,b", "is not an integer")],
)
def test_sweep_errors_are_one_line(topo, capsys, sweep, message):
    assert main(["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "--sweep", sweep]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_long_layer_names_print_unique_readable_labels(tmp_path, capsys):
    from ristretto_sim.hw import simulate
    from ristretto_sim.hw.layers import ConvShape
    from ristretto_sim.hw.plots import plot_report, plot_roofline

    stem = "TFLITE2ONNX_FAF_StatefulPartitionedCall/model/"
    tail = "/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd/ReadVariableOp;Conv2D"
    layers = [ConvShape(f"{stem}conv2d_{i}{tail}", 8, 8, 8, 8, kernel=3, padding=1) for i in range(20)]
    report = simulate(layers, None, preset("edge-32x32-int8"))
    labels = [x.label for x in report.layers]
    assert len(set(labels)) == 20 and all(len(label) <= 24 for label in labels)
    assert all(f"conv2d_{i}" in label for i, label in enumerate(labels))
    assert [x["name"] for x in report.to_dict()["layers"]] == [x.name for x in layers]  # full names kept
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no matplotlib layout warning on a 20-layer network
        plot_report(report, tmp_path / "p.png")
        plot_roofline(report, tmp_path / "r.png")


def test_an_interrupted_sweep_resumes_from_its_table(topo, tmp_path, capsys):
    out_csv = tmp_path / "s.csv"
    argv = ["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "--csv", str(out_csv)]
    argv += ["--plot", str(tmp_path / "s.png")]
    assert main([*argv, "--sweep", "rows=8,16,32"]) == 0
    full = out_csv.read_text().splitlines()
    out_csv.write_text("\n".join(full[:3]) + "\n")  # as if stopped after two points
    capsys.readouterr()
    assert main([*argv, "--sweep", "rows=8,16,32"]) == 0
    assert "(2 of 3 points read back from the earlier run)" in capsys.readouterr().out
    assert out_csv.read_text().splitlines() == full
    assert main([*argv, "--sweep", "cols=8,16"]) == 0  # another sweep: a fresh table
    assert "read back" not in capsys.readouterr().out


def test_a_sweep_table_of_another_network_or_accelerator_is_not_read_back(topo, tmp_path, capsys):
    out_csv = tmp_path / "s.csv"
    files = ["--csv", str(out_csv), "--plot", str(tmp_path / "s.png"), "--sweep", "rows=8,16"]
    assert main(["simulate", "-t", str(topo), "-a", "edge-32x32-int8", *files]) == 0
    first = out_csv.read_text()
    capsys.readouterr()
    for argv in (["simulate", "lenet", "-a", "edge-32x32-int8"],  # another network
                 ["simulate", "-t", str(topo), "-a", "eyeriss-12x14-ws"],  # another accelerator
                 ["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "--bandwidth", "2"]):
        assert main([*argv, *files]) == 0
        assert "read back" not in capsys.readouterr().out
        assert out_csv.read_text() != first


def test_every_output_carries_the_roofline_bound(topo, tmp_path, capsys):
    """JSON, CSV, the table's /bound column and the side-by-side table: bound_cycles = max(compute, ceil(DRAM
    bytes / bandwidth)) and cycles / bound per layer; the network's bound is the sum of its layers'."""
    import csv
    import math

    argv = ["simulate", "-t", str(topo), "--arch", "edge-32x32-int8"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    bw = data["config"]["dram"]["bandwidth_bytes_per_cycle"]
    for x in data["layers"]:
        moved = x["dram_read_bytes"] + x["dram_write_bytes"]
        assert x["bound_cycles"] == max(x["compute_cycles"], math.ceil(moved / bw))
        assert x["roofline_attainment"] == x["total_cycles"] / x["bound_cycles"] >= 1
    assert data["total"]["bound_cycles"] == sum(x["bound_cycles"] for x in data["layers"])
    assert main([*argv, "--csv", str(tmp_path / "o.csv")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "/bound" in table[0]
    conv1 = next(line for line in table if line.startswith("conv1"))
    assert f"{data['layers'][0]['roofline_attainment']:.2f}" in conv1.split()
    rows = list(csv.DictReader((tmp_path / "o.csv").open()))
    assert [int(r["bound_cycles"]) for r in rows] == [x["bound_cycles"] for x in data["layers"]] + [
        data["total"]["bound_cycles"]]
    assert main(["simulate", "-t", str(topo), "-a", "edge-32x32-int8", "-a", "eyeriss-12x14-ws"]) == 0
    rows = capsys.readouterr().out.splitlines()
    bound_row = next(r for r in rows if r.startswith("bound cycles"))
    assert str(data["total"]["bound_cycles"]) in bound_row.split()
    assert any(r.startswith("cycles / bound") for r in rows)


def test_write_policy_in_the_yaml_is_validated_and_used(tmp_path, capsys):
    arch = tmp_path / "arch.yaml"
    text = preset("eyeriss-12x14-ws").to_yaml()
    assert "write_policy: reads_first" in text
    arch.write_text(text.replace("write_policy: reads_first", "write_policy: lifo"))
    assert main(["simulate", "ae_deconv", "--arch", str(arch)]) == 2
    err = capsys.readouterr().err
    assert "dram.write_policy" in err and "fifo, reads_first" in err and len(err.strip().splitlines()) == 1
    cycles = {}
    for policy in ("fifo", "reads_first"):
        arch.write_text(text.replace("write_policy: reads_first", f"write_policy: {policy}"))
        assert main(["simulate", "ae_deconv", "--arch", str(arch), "--json"]) == 0
        layers = {x["name"]: x for x in json.loads(capsys.readouterr().out)["layers"]}
        cycles[policy] = layers["conv2"]["total_cycles"]
    # the posted ofmap writes no longer hold back conv2's later reads
    assert cycles == {"fifo": 2856, "reads_first": 2813}


def test_the_roofline_plot_marks_each_layer_against_its_bound(tmp_path):
    from ristretto_sim import load_model
    from ristretto_sim.hw import simulate
    from ristretto_sim.hw.network import layers_from_network
    from ristretto_sim.hw.plots import plot_roofline, roofline_points

    report = simulate(layers_from_network(load_model("lenet"))[0], None, preset("eyeriss-12x14-ws"))
    points = roofline_points(report)
    array = [x for x in report.layers if x.macs]
    assert [p[0] for p in points] == [x.label for x in array]
    for (_, intensity, attained, at_bound), x in zip(points, array, strict=True):
        assert intensity == x.macs / (x.dram_read_bytes + x.dram_write_bytes)
        assert attained == x.macs / x.total_cycles <= at_bound == x.macs / x.bound_cycles
    plot_roofline(report, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_the_fused_column_names_the_producer_by_its_short_label():
    from ristretto_sim.cli.commands.simulate import _table
    from ristretto_sim.hw import simulate
    from ristretto_sim.hw.layers import ConvShape
    from ristretto_sim.hw.vector import VectorShape

    conv = "model/activation_7/Relu;model/batch_normalization_7/FusedBatchNormV3;model/conv2d_7/Conv2D"
    out = 12 * 12 * 16
    layers = [ConvShape(conv, 12, 12, 8, 16, kernel=3, padding=1),
              VectorShape(conv + "#act", "relu", (out,), out, sources=(conv,), fusable=True)]
    report = simulate(layers, None, preset("edge-32x32-int8"))
    assert report.layers[1].fused_into == conv  # the report keeps the full name
    row = _table(report).splitlines()[2]
    assert row.endswith(f"into {report.layers[0].label}") and conv not in row


def test_the_roofline_tags_layers_on_one_point_once_and_lists_every_label(tmp_path, monkeypatch):
    """20 equal convolutions land on one point: one tag "0,1,...,19", not 20 labels printed over each other;
    the list beside the plot names each layer."""
    import matplotlib.figure

    from ristretto_sim.hw import simulate
    from ristretto_sim.hw.layers import ConvShape
    from ristretto_sim.hw.plots import plot_roofline

    layers = [ConvShape(f"conv{i}", 8, 8, 8, 8, kernel=3, padding=1) for i in range(20)]
    report = simulate(layers, None, preset("edge-32x32-int8"))
    texts = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, path, **kw: texts.extend(t.get_text() for ax in fig.axes for t in ax.texts))
    plot_roofline(report, tmp_path / "r.png")
    tags = [t for t in texts if not t.startswith("layer")]
    assert tags == [",".join(map(str, range(20)))]
    listing = next(t for t in texts if t.startswith("layer"))
    assert all(f"conv{i}" in listing for i in range(20))
