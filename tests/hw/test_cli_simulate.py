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
    assert base["pool1"]["fused_into"] == "conv1" and base["conv1"]["dram_ofmap_bytes"] == 0
    assert planned["ip1"]["dram_filter_bytes"] * 2 == base["ip1"]["dram_filter_bytes"] == 800 * 500
    assert planned["conv1"] == base["conv1"]
    assert main(["simulate", str(LENET), "--arch", "edge-32x32-int8"]) == 0
    assert "views, no data moved: flatten" in capsys.readouterr().out
