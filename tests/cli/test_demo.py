"""``ristretto-sim demo``: quantize the bundled LeNet, write plan/prototxt/plot, simulate on the edge array."""

import json

from ristretto_sim.cli import main
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.io.caffe.exporter import ristretto_view
from ristretto_sim.io.caffe.importer import load_caffe_model


def test_demo_small(tmp_path, capsys):
    assert main(["demo", "--iterations", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for text in ("Baseline 32bit float:", "Dynamic fixed point CONV", "Accuracy:", "[extension] margin back-off:",
                 "exact integer arithmetic", "on edge-32x32-int8", "Layer conv1, integer length input="):
        assert text in out
    plan = QuantPlan.load(tmp_path / "lenet_quantized.yaml")
    proto = load_caffe_model(tmp_path / "lenet_quantized.prototxt", structure_only=True)
    assert proto.quant_plan() == ristretto_view(plan)
    assert (tmp_path / "lenet_quantized.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["quantize"]["margin"] == 1.0 and summary["total_cycles"] > 0
