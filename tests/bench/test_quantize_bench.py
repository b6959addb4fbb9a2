"""The trimming-search benchmark runs end to end on a small subset (no timing assertions)."""

from ristretto_sim.bench.quantize import run


def test_quantize_bench_small():
    out = run(limit=200, modes=("ristretto",))
    assert out["images"] == 200 and out["iterations"] == 2
    r = out["ristretto"]
    assert r["seconds"] > 0 and 0 <= r["accuracy"] <= 1 and set(r["chosen"]) == {"conv", "fc", "activations"}
    assert isinstance(out["target_met"], bool)
