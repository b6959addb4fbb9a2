"""A fake evaluator whose accuracies are set exactly from the widths in a plan, for testing the search logic."""

from __future__ import annotations

from ristretto_sim import load_model
from ristretto_sim.emulator import Mode
from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo
from ristretto_sim.search.evaluate import Evaluation
from ristretto_sim.search.statistics import LayerRange, RangeStatistics

CONV = ("conv1", "conv2")
FC = ("ip1", "ip2")


def lenet():
    return load_model("lenet")


def lenet_stats() -> RangeStatistics:
    ranges = {
        "conv1": LayerRange("conv1", 1.0, 3.5, 0.9),
        "conv2": LayerRange("conv2", 3.0, 11.0, 0.4),
        "ip1": LayerRange("ip1", 12.0, 9.0, 0.1),
        "ip2": LayerRange("ip2", 9.0, 20.0, 0.6),
    }
    return RangeStatistics(ranges, images=640, batch_size=64, inplace_quirks=True)


class FakeEvaluator:
    """``accuracy(widths)`` decides the score; ``widths`` maps group -> bits (None: untouched / Q16.16).

    The plan is decoded back to group widths: conv/fc weight widths (16 for Q16.16-default 32-bit weights of a
    layer that is in the plan is reported as None), activation widths from the inputs format."""

    def __init__(self, accuracy, *, baseline=0.99, mode=Mode.RISTRETTO, images=1000, batch_size=100):
        self.accuracy = accuracy
        self.baseline = baseline
        self.mode = Mode.coerce(mode, "mode")
        self.cpu_compat = False
        self.images = images
        self.batch_size = batch_size
        self.calls = []

    @staticmethod
    def decode(plan):
        if plan is None:
            return None
        out = {}
        for name, e in plan.layers.items():
            w, i = e.weights, e.inputs
            if isinstance(w, FixedPoint):
                wb = None if (w.bits, w.frac_bits) == (32, 16) else w.bits
            elif isinstance(w, PowerOfTwo):
                wb = f"pow2[{w.exp_min},{w.exp_max}]"
            elif isinstance(w, Minifloat):
                wb = f"e{w.exp_bits}m{w.man_bits}"
            else:
                wb = None
            ab = None if isinstance(i, FixedPoint) and (i.bits, i.frac_bits) == (32, 16) else (
                i.bits if isinstance(i, FixedPoint) else None)
            out[name] = (wb, ab)
        return out

    def evaluate(self, plan):
        widths = self.decode(plan)
        self.calls.append(widths)
        acc = self.baseline if widths is None else self.accuracy(widths)
        return Evaluation(acc, {n: 0 for n in (plan.layers if plan else {})})
