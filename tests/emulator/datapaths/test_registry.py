"""The datapath registry held against the emulator, the cost model and the PE description: every registered
datapath is emulated, costed and describable by a PE, and a layer's arithmetic is chosen nowhere else."""

import re
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.emulator import LayerFormats, emulate_layer
from ristretto_sim.emulator.datapaths import Datapath, datapath_class, names, select
from ristretto_sim.formats import FixedPoint
from ristretto_sim.hw import AcceleratorConfig, GemmShape, datapath_for, simulate
from ristretto_sim.hw.energy import default_table, mac_energy, pe_area_um2

# one layer's formats per registered exact datapath: a datapath added without a sample here fails the test below
SAMPLES = {
    "fixed": LayerFormats("fixed8.5", "fixed8.7", outputs="fixed8.4"),
    "shift": LayerFormats("fixed8.5", "pow2[-6,0]", outputs="fixed8.4", shifter_bits=12),
    "minifloat-kulisch": LayerFormats("e4m3", "e4m3", outputs="e4m3"),
    "minifloat-float": LayerFormats("e4m3", "e4m3", outputs="e4m3", accumulator="fp16"),
    "affine": LayerFormats("affine8[s=0.05,z=-3]", "affine8[s=0.01,z=0]", outputs="affine8[s=0.1,z=4]"),
}
# datapaths the cost model has no PE kind for yet (emulated and given widths; hw.PEKind lists the PE kinds)
NO_PE_YET: dict[str, str] = {}
K, N, M = 24, 6, 5


def _operands():
    rng = np.random.default_rng(7)
    return rng.normal(size=(M, K)), rng.normal(size=(N, K)) * 0.3, rng.normal(size=N) * 0.1


def test_every_registered_datapath_has_a_sample():
    assert set(SAMPLES) == set(names("exact"))
    assert names("ristretto") == ("ristretto-float32",)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_selected_emulated_costed_and_described_by_a_pe(name):
    formats = SAMPLES[name]
    dp = select(formats)
    assert isinstance(dp, datapath_class(name)) and dp.name == name and formats.datapath == name
    x, w, b = _operands()
    res = emulate_layer("linear", x, w, b, formats)
    assert res.stats.datapath == name and res.values.shape == (M, N)
    # the cost model's widths come from the same object
    acc = dp.accumulator_for(K, N)
    assert dp.accumulator_bits(K, N) == acc.bits and dp.output_format(K, N) == formats.outputs
    units = dp.units(K, N)
    assert units and all(u.bits for u in units)
    if name in NO_PE_YET:
        pytest.skip(NO_PE_YET[name])
    # a PE described by this datapath: built from the layer's resolved formats, it is the same kind
    pe = datapath_for([formats.resolved(K, N)])
    assert pe.datapath.name == name
    assert pe.datapath.accepts(dp, K, N) is None
    table = default_table()
    assert mac_energy(pe, AcceleratorConfig(4, 4).dataflow, table).arithmetic_pj > 0
    assert pe_area_um2(pe, table) > 0
    report = simulate([GemmShape("g", M, N, K)], formats, AcceleratorConfig(4, 4, pe=pe))
    assert report.layers[0].macs == M * N * K and report.total.energy.total_pj > 0


def test_a_missing_accumulator_is_the_datapath_default_everywhere():
    for name, formats in SAMPLES.items():
        if formats.accumulator is not None:
            continue
        acc = select(formats).accumulator_for(K, N)
        assert formats.resolved(K, N).accumulator == acc, name
        x, w, b = _operands()
        # the emulator runs the same accumulator (its text form is in the statistics)
        stats = emulate_layer("linear", x, w, b, formats).stats
        assert stats.accumulator in (str(acc), f"kulisch{acc.bits}"), name


def test_kulisch_contents_are_integers_and_a_declared_register_is_the_same_arithmetic():
    f = SAMPLES["minifloat-kulisch"]
    reg = select(f).accumulator_for(K, N)
    assert isinstance(reg, FixedPoint) and reg.frac_bits == 18  # e4m3: quantum 2**-9 per operand
    x, w, b = _operands()
    declared = LayerFormats("e4m3", "e4m3", outputs="e4m3", accumulator=reg.with_bits(reg.bits + 8))
    a, d = emulate_layer("linear", x, w, b, f), emulate_layer("linear", x, w, b, declared)
    assert np.array_equal(a.codes, d.codes) and d.stats.accumulator == f"kulisch{reg.bits + 8}"
    with pytest.raises(ValueError, match="Kulisch register"):
        emulate_layer("linear", x, w, b, LayerFormats("e4m3", "e4m3", accumulator=reg.with_bits(10)))


def test_datapath_subclass_protocol_is_documented():
    doc = Datapath.__module__
    import importlib

    text = importlib.import_module(doc).__doc__
    for hook in ("accumulate", "prepare_weights", "readout", "fast_run", "accumulator_for", "units", "accepts"):
        assert hook in text


# No module outside formats/, io/ and emulator/datapaths/ tests a value against a format class (70 such checks in
# 21 modules before the datapath object; 0 now): a new one is a layer arithmetic decided without the datapath.
_ISINSTANCE = re.compile(r"isinstance\([^)]*(FixedPoint|Minifloat|PowerOfTwo)")
_EXEMPT = re.compile(r"^ristretto_sim/(formats|io|emulator/datapaths)/")


def test_no_new_isinstance_checks_against_format_classes():
    root = Path(__file__).resolve().parents[3]
    found = {}
    for path in sorted((root / "ristretto_sim").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if _EXEMPT.match(rel):
            continue
        n = len(_ISINSTANCE.findall(path.read_text()))
        if n:
            found[rel] = n
    assert not found, found


@pytest.mark.parametrize("kind", ["linear", "conv2d", "conv_transpose2d"])
def test_kulisch_register_contents_are_the_exact_sums(kind):
    """The integer contents equal a Fraction reference of bias + sum of products, in the register's units."""
    from fractions import Fraction

    from ristretto_sim.emulator import ConvGeometry, PreparedLayer
    from ristretto_sim.formats import parse_format

    fmt = parse_format("e4m3")
    rng = np.random.default_rng(11)
    if kind == "linear":
        x, w, geom = fmt.quantize(rng.normal(size=(3, 7)) * 4), fmt.quantize(rng.normal(size=(4, 7))), None
    elif kind == "conv2d":
        x, w, geom = fmt.quantize(rng.normal(size=(2, 3, 5, 5))), fmt.quantize(rng.normal(size=(4, 3, 3, 3))), \
            ConvGeometry(padding=1)
    else:
        x, w, geom = fmt.quantize(rng.normal(size=(1, 2, 3, 3))), fmt.quantize(rng.normal(size=(2, 3, 2, 2))), \
            ConvGeometry(stride=2)
    b = fmt.quantize(rng.normal(size=4 if kind != "conv_transpose2d" else 3))
    f = LayerFormats(fmt, fmt, outputs=fmt)
    prep = PreparedLayer(kind, w, b, f, geom)
    res = prep(x, accumulator=True)
    acc = res.accumulator
    reg = select(f).accumulator_for(prep.op.k)
    codes = np.asarray(acc.codes.to_python(), dtype=object)
    assert acc.name == f"kulisch{reg.bits}" and codes.shape == res.values.shape
    # reference: the float result is exact for these tiny sums (every product fits float64 exactly)
    ref = emulate_layer(kind, x, w, b, LayerFormats(fmt, fmt), geom).values  # no output format: the exact sum
    unit = Fraction(2) ** -reg.frac_bits
    for c, v in zip(codes.reshape(-1), ref.reshape(-1), strict=True):
        assert Fraction(int(c)) * unit == Fraction(float(v))
    # the readout of those contents is the layer's output
    assert np.array_equal(fmt.quantize(np.vectorize(float)(codes.astype(object)) * float(unit)), res.values)


def test_output_saturations_mean_the_same_in_both_modes():
    """Bit-identical outputs, the same count: an output is saturated when its rounded value is clamped."""
    x, w = np.array([[3.9375, 4.0, 0.0625]]), np.array([[1.0, 1.0, 0.25]])  # 7.953125: rounds onto max 7.9375
    f = LayerFormats("fixed8.4", "fixed8.4", outputs="fixed8.4")
    runs = [emulate_layer("linear", x, w, None, f, mode=m) for m in ("exact", "ristretto")]
    assert np.array_equal(runs[0].values, runs[1].values) and runs[0].values[0, 0] == 7.9375
    assert [r.stats.output_saturations for r in runs] == [0, 0]
    x2 = np.array([[3.9375, 4.0, 0.125]])  # 7.96875: a tie that rounds to 8.0, clamped to 7.9375
    w2 = np.array([[1.0, 1.0, 0.5]])
    assert [emulate_layer("linear", x2, w2, None, f, mode=m).stats.output_saturations
            for m in ("exact", "ristretto")] == [1, 1]
    # a minifloat MAC read out into fixed point counts the same way
    fm = LayerFormats("e4m3", "e4m3", outputs="fixed8.4")
    assert emulate_layer("linear", np.array([[4.0, 4.0]]), np.array([[1.0, -0.0625 / 4]]), None, fm).stats \
        .output_saturations == 0
