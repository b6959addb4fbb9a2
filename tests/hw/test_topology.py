"""SCALE-Sim topology CSVs and .cfg files."""

import pytest

from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.enums import Dataflow
from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.scalesim_cfg import read_scalesim_cfg, write_scalesim_cfg
from ristretto_sim.hw.topology import read_topology, write_topology

CONV = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
conv1, 28, 28, 5, 5, 1, 20, 1,

conv2, 12, 12, 5, 5, 20, 50, 1,
fc1, 4, 4, 4, 4, 50, 500, 1
"""


def test_conv_form(tmp_path):
    path = tmp_path / "lenet.csv"
    path.write_text(CONV)
    layers = read_topology(path)
    assert [x.name for x in layers] == ["conv1", "conv2", "fc1"]
    assert layers[0] == ConvShape("conv1", 28, 28, 1, 20, kernel=5)
    assert layers[0].problem().m == 24 * 24


def test_gemm_form_by_header_or_flag(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("Layer Name, M, N, K,\nfc1, 1, 500, 800,\n")
    assert read_topology(path) == [GemmShape("fc1", 1, 500, 800)]
    path.write_text("whatever\nfc1, 1, 500, 800,\n")
    assert read_topology(path, gemm=True) == [GemmShape("fc1", 1, 500, 800)]
    assert read_topology(path) == [GemmShape("fc1", 1, 500, 800)]  # four fields: GEMM


def test_modes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        "Strides,\nc, 9, 9, 2, 2, 3, 4, 2,\nDP1, 8, 8, 3, 3, 3, 1, 1,\n"
    )
    valid = read_topology(path)
    assert valid[0].out_h == 4 and valid[1].groups == 3 and valid[1].n == 3
    same = read_topology(path, mode="same")
    assert same[1].padding == (1, 1, 1, 1) and same[1].out_h == 8
    ss = read_topology(path, mode="scalesim")
    assert ss[0].out_h == 5
    assert [x.name for x in ss[1:]] == ["DP1Channel_0", "DP1Channel_1", "DP1Channel_2"]
    # the grouped reading and SCALE-Sim's expansion are the same GEMMs
    p = valid[1].problem()
    assert (p.m, p.n, p.k, p.groups) == (36, 1, 9, 3)
    assert all((q.m, q.n, q.k) == (36, 1, 9) for q in (x.problem() for x in ss[1:]))


@pytest.mark.parametrize(
    "row, match",
    [
        ("c, 5, 5, 7, 3, 1, 1, 1,", r":2: Filter Height=7 is larger than the input \(IFMAP Height=5\)"),
        ("c, 5, 5, 3, 6, 1, 1, 1,", r"Filter Width=6 is larger than the input \(IFMAP Width=5\)"),
        ("c, 5, 5, x, 3, 1, 1, 1,", r"Filter Height='x' is not an integer"),
        ("c, 5, 5, 3, 3, 0, 1, 1,", r"Channels=0 must be >= 1"),
        ("c, 5, 5, 3,", r"expected 8 fields"),
        ("c, 5, 5, 3, 3, 1, 1, 1, 2:4,", r"sparsity ratio '2:4' is not supported"),
    ],
)
def test_bad_rows(tmp_path, row, match):
    path = tmp_path / "bad.csv"
    path.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        f"Strides,\n{row}\n"
    )
    with pytest.raises(ConfigError, match=match):
        read_topology(path)


def test_empty_and_duplicate(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("Layer Name, M, N, K,\n")
    with pytest.raises(ConfigError, match="no layers"):
        read_topology(path)
    path.write_text("Layer Name, M, N, K,\na, 1, 2, 3,\na, 1, 2, 3,\n")
    with pytest.raises(ConfigError, match="appears twice"):
        read_topology(path)


def test_topology_round_trip(tmp_path):
    layers = [ConvShape("a", 10, 12, 3, 4, kernel=(3, 2), stride=2), ConvShape("b", 5, 5, 4, 4, kernel=1)]
    write_topology(layers, tmp_path / "t.csv")
    assert read_topology(tmp_path / "t.csv") == layers
    with pytest.raises(ValueError, match="cannot be written"):
        write_topology([ConvShape("p", 5, 5, 1, 1, kernel=3, padding=1)], tmp_path / "x.csv")


CFG = """[general]
run_name = lenet_ws

[architecture_presets]
ArrayHeight:    16
ArrayWidth:     8
IfmapSramSzkB:    32
FilterSramSzkB:   64
OfmapSramSzkB:    16
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10, 20
Dataflow : ws
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 6
IfmapSRAMBankNum: 2
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 4
FilterSRAMBankNum: 2
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""


def test_cfg_calc_and_user(tmp_path):
    path = tmp_path / "a.cfg"
    path.write_text(CFG.format(mode="CALC"))
    cfg = read_scalesim_cfg(path)
    assert (cfg.rows, cfg.cols, cfg.dataflow) == (16, 8, Dataflow.WS)
    assert (cfg.ifmap.capacity_bytes, cfg.filter.capacity_bytes, cfg.ofmap.capacity_bytes) == (
        32768,
        65536,
        16384,
    )
    assert cfg.dram.unlimited and cfg.name == "lenet_ws"
    path.write_text(CFG.format(mode="USER"))
    user = read_scalesim_cfg(path)
    assert (
        user.dram.bandwidth_bytes_per_cycle == 6 + 4 + 10
    )  # ifmap + filter reads + ofmap writes (Bandwidth[0])
    assert user.dram.latency_cycles == 1


def test_cfg_errors(tmp_path):
    path = tmp_path / "b.cfg"
    path.write_text(CFG.format(mode="CALC").replace("ArrayHeight:    16\n", ""))
    with pytest.raises(ConfigError, match=r"missing \[architecture_presets\] ArrayHeight"):
        read_scalesim_cfg(path)
    path.write_text(CFG.format(mode="CALC").replace("ArrayHeight:    16", "ArrayHeight: 0"))
    with pytest.raises(ConfigError, match=r"ArrayHeight=0 must be >= 1"):
        read_scalesim_cfg(path)
    path.write_text(CFG.format(mode="SOMETIMES"))
    with pytest.raises(ConfigError, match="InterfaceBandwidth='SOMETIMES'"):
        read_scalesim_cfg(path)
    path.write_text(CFG.format(mode="CALC").replace("SparsitySupport : false", "SparsitySupport : true"))
    with pytest.raises(ConfigError, match="SparsitySupport"):
        read_scalesim_cfg(path)


def test_cfg_round_trip(tmp_path):
    path = tmp_path / "a.cfg"
    path.write_text(CFG.format(mode="CALC"))
    cfg = read_scalesim_cfg(path)
    write_scalesim_cfg(cfg, tmp_path / "b.cfg", run_name="lenet_ws")
    again = read_scalesim_cfg(tmp_path / "b.cfg")
    assert again.replace(source="") == cfg.replace(source="")
