"""The Ristretto trimming search (reference ``ristretto.md`` §4) and its extensions, on prepared inputs.

``trim`` takes the network, an ``Evaluator`` (scoring images and arithmetic) and the ``RangeStatistics`` of the
statistics pass, and runs, for ``trimming_mode``:

* **dynamic_fixed_point**: three independent sweeps (conv weights, FC weights, layer activations) over 16, 8, 4,
  2, 1 bits with the stop-after-first-failure rule and the 32-bit fallback; the combined net scored once, whatever
  its accuracy (``plans`` builds each net exactly as Ristretto's edited prototxts define it).
* **minifloat**: Ristretto's exponent choice (4 bits, more for activations above 512; parameters ignored) and a
  mantissa sweep while ``bits - 1 - exp_bits > 0``; the chosen net is not re-scored.
* **integer_power_of_2_weights**: no search; weights in ``[-8, -1]``, 8-bit DFP activations, scored once as
  "4bit".

Extensions beyond the original (each returned as a named ``Extension``), all opt-in:

* ``backoff``: **margin back-off**: while the combined net misses the margin, raise the group with the lowest
  sweep accuracy at its chosen width (ties: the narrowest group) to its next width (4 -> 8 -> 16 -> 32) and
  rescore.
* ``granularity="layer"``: **per-layer widths**: start from the group widths, visit (layer, role) units by
  descending MACs x bits, halve each while the net passes; then the back-off (on units).
* ``minifloat_splits``: **minifloat split search**: every exponent/mantissa split per width, widths 16, 8, 4, ...
  until the best split of a width fails.
* ``pow2_range``: **power-of-two range search**: per-layer exponent windows ending at each layer's
  ``rint(log2 max|w|)`` with 16, 8, 4, 2 codes (5, 4, 3, 2 bits with the sign), stop after the first failure.
* ``PlanOptions.bias_at_accumulator`` (exact mode): **bias at accumulator precision**.

Every evaluation goes through a ``ScoreStore`` (resume) and is reported to ``progress`` (a ``Progress`` event);
nothing is printed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ristretto_sim.errors import PlanError
from ristretto_sim.formats import PowerOfTwo, ristretto_minifloat_exp_bits
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.search.evaluate import Evaluation, Evaluator
from ristretto_sim.search.modes import FALLBACK_BITS, RISTRETTO_WIDTHS, Granularity, Group, TrimmingMode
from ristretto_sim.search.plans import (
    PlanOptions,
    dfp_plan,
    group_widths,
    layer_groups,
    minifloat_plan,
    pow2_plan,
    ristretto_minifloat_format,
)
from ristretto_sim.search.result import Extension, QuantizeResult, Step
from ristretto_sim.search.statistics import RangeStatistics
from ristretto_sim.search.store import ScoreStore, plan_key
from ristretto_sim.search.sweep import SweepResult, passes, run_sweep

#: the widths the back-off climbs through
LADDER = (1, 2, 4, 8, 16, 32)

BACKOFF = "margin back-off"
PER_LAYER = "per-layer widths"
MINIFLOAT_SPLITS = "minifloat split search"
POW2_RANGE = "power-of-two range search"


@dataclass(frozen=True)
class Progress:
    """One finished evaluation: ``stage`` (``baseline``, ``sweep``, ``combined`` or an extension name),
    ``detail`` (e.g. ``"conv 8bit"``), the accuracy, and whether it was not rescored (it came from the state file,
    or the same plan was scored earlier in the run)."""

    stage: str
    detail: str
    accuracy: float
    resumed: bool = False


def next_width(bits: int) -> int:
    """The next wider width of the back-off ladder 1, 2, 4, 8, 16, 32 (32 stays 32)."""
    for b in LADDER:
        if b > bits:
            return b
    return FALLBACK_BITS


class _Scorer:
    def __init__(self, evaluator: Evaluator, store: ScoreStore, progress):
        self.evaluator, self.store, self.progress = evaluator, store, progress
        self.computed = 0

    def __call__(self, plan: QuantPlan | None, stage: str, detail: str) -> Evaluation:
        key = plan_key(plan)
        ev = self.store.reuse(key)
        resumed = ev is not None
        if ev is None:
            ev = self.evaluator.evaluate(plan)
            self.computed += 1
            self.store.put(key, ev)
        if self.progress is not None:
            self.progress(Progress(stage, detail, ev.accuracy, resumed))
        return ev


def trim(
    network: Network,
    evaluator: Evaluator,
    stats: RangeStatistics,
    *,
    trimming_mode="dynamic_fixed_point",
    margin: float = 2.0,
    options: PlanOptions | None = None,
    granularity="group",
    backoff: bool = False,
    minifloat_splits: bool = False,
    pow2_range: bool = False,
    widths=RISTRETTO_WIDTHS,
    store: ScoreStore | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> QuantizeResult:
    """Run the search (module docstring).

    Parameters
    ----------
    network : Network
        The TEST-phase network (the one scored).
    evaluator : Evaluator
    stats : RangeStatistics
    trimming_mode : TrimmingMode or str
    margin : float
        Allowed accuracy drop in percentage points (Ristretto's ``--error_margin``).
    options : PlanOptions
        Arithmetic and exact-mode options (default: the evaluator's mode).
    granularity : Granularity or str
    backoff, minifloat_splits, pow2_range : bool
        Extensions (module docstring).
    widths : sequence of int
        Widths tried (Ristretto: 16, 8, 4, 2, 1).
    store : ScoreStore, optional
        Finished evaluations (resume).
    progress : callable, optional
        Called with a ``Progress`` after each evaluation.
    """
    start = time.perf_counter()
    mode = TrimmingMode.coerce(trimming_mode, "trimming_mode")
    granularity = Granularity.coerce(granularity, "granularity")
    options = PlanOptions(mode=evaluator.mode) if options is None else options
    if options.mode is not evaluator.mode:
        raise ValueError(f"options.mode={options.mode.value} differs from the evaluator's {evaluator.mode.value}")
    margin = float(margin)
    if not (margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin={margin!r} must be a non-negative number of percentage points")
    if granularity is Granularity.LAYER and mode is not TrimmingMode.DYNAMIC_FIXED_POINT:
        raise ValueError("granularity='layer' applies to dynamic_fixed_point trimming only")
    if minifloat_splits and mode is not TrimmingMode.MINIFLOAT:
        raise ValueError("the minifloat split search needs trimming mode minifloat")
    if pow2_range and mode is not TrimmingMode.INTEGER_POWER_OF_2_WEIGHTS:
        raise ValueError("the power-of-two range search needs trimming mode integer_power_of_2_weights")
    widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"widths={widths!r} must be positive integers")
    store = ScoreStore(None) if store is None else store
    score = _Scorer(evaluator, store, progress)
    baseline = score(None, "baseline", "float32").accuracy
    common = dict(trimming_mode=mode, mode=options.mode, cpu_compat=evaluator.cpu_compat, baseline=baseline,
                  margin=margin, statistics=stats, images=evaluator.images, calibration_images=stats.images,
                  batch_size=evaluator.batch_size, acc_bits=options.acc_bits,
                  bias_at_accumulator=options.bias_at_accumulator, granularity=granularity)
    if mode is TrimmingMode.DYNAMIC_FIXED_POINT:
        fields = _dfp(network, stats, options, score, baseline, margin, widths, granularity, backoff)
    elif mode is TrimmingMode.MINIFLOAT:
        fields = _minifloat(network, stats, options, score, baseline, margin, widths, minifloat_splits)
    else:
        fields = _pow2(network, stats, options, score, baseline, margin, pow2_range)
    final = fields.get("final_plan") or fields["plan"]
    ev = score(final, "final", "plan")
    return QuantizeResult(**common, **fields, overflows=ev.overflows, saturations=ev.saturations,
                          seconds=time.perf_counter() - start, resumed=store.reused, evaluations=score.computed,
                          state=store.state())


# ------------------------------------------------------------------------------------------ dynamic fixed point
def _dfp(network, stats, options, score, baseline, margin, widths, granularity, backoff) -> dict:
    sweeps = {}
    for group in (Group.CONV, Group.FC, Group.ACTIVATIONS):
        def one(bits, group=group):
            plan = dfp_plan(network, stats, group_widths(network, **{group.value: bits}), options)
            return score(plan, "sweep", f"{group.value} {bits}bit").accuracy

        sweeps[group.value] = run_sweep(group.value, one, baseline, margin, widths)
    chosen = {g: sweeps[g].chosen for g in ("conv", "fc", "activations")}
    plan = dfp_plan(network, stats, group_widths(network, **chosen), options)
    accuracy = score(plan, "combined", "chosen widths").accuracy
    out = {"sweeps": sweeps, "chosen": chosen, "accuracy": accuracy, "plan": plan}
    extensions = []
    final_plan, final_acc = plan, accuracy
    if granularity is Granularity.LAYER:
        ext = _per_layer(network, stats, options, score, baseline, margin, sweeps, chosen, accuracy)
        extensions.append(ext)
        final_plan, final_acc = ext.plan, ext.accuracy
    elif backoff:
        ext = _group_backoff(network, stats, options, score, baseline, margin, sweeps, chosen, accuracy)
        extensions.append(ext)
        final_plan, final_acc = ext.plan, ext.accuracy
    out.update(extensions=tuple(extensions), final_plan=final_plan, final_accuracy=final_acc)
    return out


def _group_backoff(network, stats, options, score, baseline, margin, sweeps, chosen, accuracy) -> Extension:
    widths = dict(chosen)
    steps = []
    acc = accuracy
    while not passes(acc, baseline, margin):
        raisable = [g for g in widths if widths[g] < FALLBACK_BITS]
        if not raisable:
            break
        # lowest sweep accuracy at the current width (an untried width counts as the combined accuracy); on a tie
        # the narrowest group first: its trim is the most aggressive, and raising it costs the fewest bits
        g = min(raisable, key=lambda g: (sweeps[g].tried.get(widths[g], acc), widths[g]))
        old = widths[g]
        widths[g] = next_width(old)
        plan = dfp_plan(network, stats, group_widths(network, **widths), options)
        acc = score(plan, BACKOFF, f"{g} {old} -> {widths[g]}").accuracy
        steps.append(Step(f"{g} {old} -> {widths[g]}", acc))
    plan = dfp_plan(network, stats, group_widths(network, **widths), options)
    note = "" if steps else "the combined net already meets the margin"
    if not passes(acc, baseline, margin):
        note = "every group is at 32 bits and the margin still fails"
    return Extension(BACKOFF, steps, acc, widths, plan, note)


def _per_layer(network, stats, options, score, baseline, margin, sweeps, chosen, accuracy) -> Extension:
    groups = layer_groups(network)
    per = {}
    for name in groups[Group.ACTIVATIONS]:
        wb = chosen["conv"] if name in groups[Group.CONV] else chosen["fc"]
        per[name] = [wb, chosen["activations"]]
    # the accuracy each unit was accepted at (for the back-off): its group's sweep accuracy at the chosen width
    unit_acc = {}
    for name in per:
        wg = "conv" if name in groups[Group.CONV] else "fc"
        unit_acc[(name, 0)] = sweeps[wg].tried.get(per[name][0], accuracy)
        unit_acc[(name, 1)] = sweeps["activations"].tried.get(per[name][1], accuracy)

    def plan_of():
        return dfp_plan(network, stats, {n: (w[0], w[1]) for n, w in per.items()}, options)

    role = ("weights", "activations")
    steps = []
    acc = accuracy
    units = sorted(((name, r) for name in per for r in (0, 1)),
                   key=lambda u: -network.macs(u[0]) * per[u[0]][u[1]])
    for name, r in units:
        while per[name][r] > 1:
            old = per[name][r]
            per[name][r] = old // 2
            a = score(plan_of(), PER_LAYER, f"{name} {role[r]} {old} -> {old // 2}").accuracy
            ok = passes(a, baseline, margin)
            steps.append(Step(f"{name} {role[r]} {old} -> {old // 2}", a, ok))
            if not ok:
                per[name][r] = old
                break
            acc = a
            unit_acc[(name, r)] = a
    if not steps:
        acc = score(plan_of(), PER_LAYER, "group widths").accuracy
    while not passes(acc, baseline, margin):
        raisable = [u for u in unit_acc if per[u[0]][u[1]] < FALLBACK_BITS]
        if not raisable:
            break
        name, r = min(raisable, key=lambda u: (unit_acc[u], -network.macs(u[0])))
        old = per[name][r]
        per[name][r] = next_width(old)
        acc = score(plan_of(), BACKOFF, f"{name} {role[r]} {old} -> {per[name][r]}").accuracy
        unit_acc[(name, r)] = acc
        steps.append(Step(f"back-off: {name} {role[r]} {old} -> {per[name][r]}", acc))
    chosen_layers = {n: {"weights": w[0], "activations": w[1]} for n, w in per.items()}
    return Extension(PER_LAYER, steps, acc, chosen_layers, plan_of())


# ------------------------------------------------------------------------------------------ minifloat
def _minifloat(network, stats, options, score, baseline, margin, widths, splits) -> dict:
    maxima = [v for r in stats.layers.values() for v in (r.max_in, r.max_out)]
    exp_bits = ristretto_minifloat_exp_bits(maxima)
    # Ristretto's loop runs while bitwidth - 1 - exp_bits > 0: it stops at the first width that leaves no mantissa
    run = []
    for b in widths:
        if b - 1 - exp_bits <= 0:
            break
        run.append(b)

    def one(bits):
        fmt = ristretto_minifloat_format(bits, exp_bits)
        return score(minifloat_plan(network, fmt, options), "sweep", f"minifloat {bits}bit ({fmt})").accuracy

    sweep = run_sweep("minifloat", one, baseline, margin, run)
    bits = sweep.chosen
    fmt = ristretto_minifloat_format(bits, exp_bits)
    plan = minifloat_plan(network, fmt, options)
    out = {"sweeps": {"minifloat": sweep}, "exp_bits": exp_bits,
           "chosen": {"bits": bits, "exp_bits": exp_bits, "mant_bits": bits - exp_bits - 1},
           "accuracy": sweep.tried.get(bits), "plan": plan}
    if splits:
        ext = _minifloat_splits(network, options, score, baseline, margin, widths)
        out.update(extensions=(ext,), final_plan=ext.plan, final_accuracy=ext.accuracy)
    return out


def _minifloat_splits(network, options, score, baseline, margin, widths) -> Extension:
    steps = []
    best_pass = None
    for bits in widths:
        best = None
        for e in range(2, min(8, bits - 2) + 1):
            fmt = ristretto_minifloat_format(bits, e)
            try:
                a = score(minifloat_plan(network, fmt, options), MINIFLOAT_SPLITS, f"{bits}bit {fmt}").accuracy
            except (ValueError, PlanError) as exc:  # a format the exact datapath cannot take
                steps.append(Step(f"{bits}bit e{e}m{bits - 1 - e} skipped ({exc})", None, False))
                continue
            ok = passes(a, baseline, margin)
            steps.append(Step(f"{bits}bit e{e}m{bits - 1 - e}", a, ok))
            if best is None or a > best[1]:
                best = (e, a)
        if best is None or not passes(best[1], baseline, margin):
            break
        best_pass = (bits, best[0], best[1])
    if best_pass is None:
        return Extension(MINIFLOAT_SPLITS, steps, None, {}, None, "no split of any width meets the margin")
    bits, e, a = best_pass
    fmt = ristretto_minifloat_format(bits, e)
    return Extension(MINIFLOAT_SPLITS, steps, a, {"bits": bits, "exp_bits": e, "mant_bits": bits - 1 - e},
                     minifloat_plan(network, fmt, options))


# ------------------------------------------------------------------------------------------ power of two
def _pow2(network, stats, options, score, baseline, margin, search_range) -> dict:
    plan = pow2_plan(network, stats, options)
    acc = score(plan, "sweep", "pow2 4bit").accuracy
    out = {"sweeps": {"pow2": SweepResult("pow2", {4: acc}, 4)}, "accuracy": acc, "plan": plan,
           "chosen": {"weights": str(PowerOfTwo(-8, -1, has_zero=False)), "activations": 8}}
    if search_range:
        ext = _pow2_range(network, stats, options, score, baseline, margin)
        out.update(extensions=(ext,), final_plan=ext.plan or plan,
                   final_accuracy=ext.accuracy if ext.plan is not None else acc)
    return out


def _pow2_range_plan(network, options, base: QuantPlan, codes: int) -> tuple[QuantPlan, dict]:
    layers, windows = {}, {}
    for name, entry in base.layers.items():
        wmax = float(np.max(np.abs(network.params[name]["weight"])))
        top = int(np.rint(np.log2(wmax))) if wmax > 0 else -1
        w = PowerOfTwo(top - codes + 1, top, has_zero=False)
        windows[name] = str(w)
        layers[name] = LayerPlan(entry.inputs, w, entry.bias, entry.outputs, entry.accumulator,
                                 rounding=entry.rounding)
    return QuantPlan(layers, mode=options.mode), windows


def _pow2_range(network, stats, options, score, baseline, margin) -> Extension:
    base = pow2_plan(network, stats, options)
    steps, found = [], None
    for bits in (5, 4, 3, 2):
        codes = 1 << (bits - 1)
        plan, windows = _pow2_range_plan(network, options, base, codes)
        a = score(plan, POW2_RANGE, f"{bits}bit ({codes} exponents per layer)").accuracy
        ok = passes(a, baseline, margin)
        steps.append(Step(f"{bits}bit: {codes} exponents ending at rint(log2 max|w|)", a, ok))
        if not ok:
            break
        found = (bits, plan, a, windows)
    if found is None:
        return Extension(POW2_RANGE, steps, None, {}, None, "even 16 exponents per layer miss the margin")
    bits, plan, a, windows = found
    return Extension(POW2_RANGE, steps, a, {"bits": bits, "layers": windows}, plan)


__all__ = ["Progress", "next_width", "trim"]
