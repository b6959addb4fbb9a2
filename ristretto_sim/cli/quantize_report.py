"""The text ``quantize`` prints (and ``demo`` repeats): the arithmetic and data lines, each layer's integer lengths,
then Ristretto's accuracy analysis and the extensions, each named."""

from __future__ import annotations

import json


def header_lines(result) -> list[str]:
    """The arithmetic the search ran (mode, accumulators, bias) and the data line."""
    if result.mode.value == "ristretto":
        sem = "Ristretto's CPU code (ties away from zero and the CPU quirks)" if result.cpu_compat else \
            "Ristretto's GPU semantics (rint: ties to even)"
        arith = f"mode ristretto: fake-quantized float32 arithmetic, {sem}"
    else:
        acc = f"declared {result.acc_bits}-bit accumulators" if result.acc_bits else \
            ("accumulators that cannot overflow (in.bits + w.bits + ceil(log2 K) + 1, up to 128 bits; wider than 62 "
             "bits through the emulator's limb path)")
        bias = "bias at accumulator precision [extension]" if result.bias_at_accumulator else \
            "bias in the weights' format (as Ristretto)"
        arith = f"mode exact: integer arithmetic, {acc}, outputs requantized nearest-even with saturation, {bias}"
    return [arith, data_line(result)]


def data_line(result) -> str:
    """Where the scored and the statistics-pass images came from, and their transforms."""
    scored_on = f" of {result.scored_on}" if result.scored_on else ""
    calibrated_on = f" of {result.calibrated_on}" if result.calibrated_on else ""
    note = result.transforms.get("scored", "")
    calib_note = result.transforms.get("calibration", "")
    return (f"scored on {result.images} images{scored_on} ({result.batch_size} per batch"
            f"{'; ' + note if note else ''}); statistics pass on {result.calibration_images} images{calibrated_on}"
            f"{' (' + calib_note + ')' if calib_note else ''}")


def analysis_lines(result) -> list[str]:
    """The summary Ristretto printed (reference §4 step 6), then the extensions, each named."""
    out = ["------------------------------", "Network accuracy analysis for", "Convolutional (CONV) and fully",
           "connected (FC) layers.", f"Baseline 32bit float: {result.baseline:.4f}"]
    tm = result.trimming_mode.value

    def listing(sweep):
        return [f"{bits}bit: \t{acc:.4f}" for bits, acc in sweep.tried.items()]

    if tm == "dynamic_fixed_point":
        for key, (a, b) in (("conv", ("Dynamic fixed point CONV", "weights: ")),
                            ("fc", ("Dynamic fixed point FC", "weights: ")),
                            ("activations", ("Dynamic fixed point layer", "activations:"))):
            out += [a, b] + listing(result.sweeps[key])
        c = result.chosen
        out += ["Results for dynamic fixed point:",
                f"CONV weights: {c['conv']}bit, FC weights: {c['fc']}bit, layer activations: {c['activations']}bit",
                f"Accuracy: {result.accuracy:.4f}"]
    elif tm == "minifloat":
        out += [f"Minifloat exponent bits: {result.exp_bits}", "Minifloat net:"] + listing(result.sweeps["minifloat"])
        c = result.chosen
        out.append(f"Chosen: {c['bits']}bit (exp_bits {c['exp_bits']}, mant_bits {c['mant_bits']})"
                   + ("" if result.accuracy is not None else " (32-bit fallback, not scored, as in Ristretto)"))
    else:
        out += ["Integer power of 2 weights, 8bit dynamic fixed point activations:"] + listing(result.sweeps["pow2"])
    ok = result.within_margin
    if ok is False or (ok is None and tm == "minifloat"):
        out.append("Please fine-tune.")
    for ext in result.extensions:
        out.append(f"[extension] {ext.name}:")
        for s in ext.steps:
            if s.accuracy is None:
                out.append(f"  {s.description}")
                continue
            mark = "" if s.accepted else "  (rejected)"
            out.append(f"  {s.description}: {s.accuracy:.4f}{mark}")
        if ext.note:
            out.append(f"  {ext.note}")
        if ext.accuracy is not None:
            out.append(f"  result: accuracy {ext.accuracy:.4f}, chosen {json.dumps(dict(ext.chosen))}")
    if result.mode.value == "exact":
        over = {k: v for k, v in result.overflows.items() if v}
        if result.acc_bits or over:
            out.append("accumulator overflows per layer: " + ", ".join(f"{k}={v}" for k, v in result.overflows.items()))
    return out


def report_lines(result) -> list[str]:
    """What ``quantize`` prints: the arithmetic and data lines, each layer's integer lengths (not for minifloat),
    then Ristretto's analysis."""
    lengths = [] if result.trimming_mode.value == "minifloat" else [
        f"Layer {name}, integer length input={il_in}, output={il_out}, parameters={il_w}"
        for name, (il_in, il_out, il_w) in result.integer_lengths().items()]
    return header_lines(result) + lengths + analysis_lines(result)
