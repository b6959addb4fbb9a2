"""Ristretto's LRNRistretto (strict minifloat LRN, reference ``ristretto.md`` §5) in plans, runners and prototxts."""

import numpy as np
import pytest

from ristretto_sim.emulator import ristretto_lrn
from ristretto_sim.errors import PlanError
from ristretto_sim.formats import Minifloat
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.io.caffe.exporter import edit_prototxt, ristretto_view, write_ristretto_prototxt
from ristretto_sim.io.caffe.importer import load_caffe_model
from ristretto_sim.runtime.executor import Executor, run_network

MF = Minifloat(4, 3, subnormals=False, specials="none")


def prototxt(region="ACROSS_CHANNELS", quant="precision: MINIFLOAT mant_bits: 3 exp_bits: 4"):
    return f"""name: "lrn_net"
layer {{ name: "in" type: "Input" top: "data" input_param {{ shape {{ dim: 2 dim: 6 dim: 4 dim: 4 }} }} }}
layer {{ name: "pool" type: "Pooling" bottom: "data" top: "pool"
         pooling_param {{ pool: MAX kernel_size: 2 stride: 1 }} }}
layer {{ name: "norm1" type: "LRNRistretto" bottom: "pool" top: "norm1"
         lrn_param {{ local_size: 5 alpha: 0.7 beta: 0.75 k: 2 norm_region: {region} }}
         quantization_param {{ {quant} }} }}
layer {{ name: "relu" type: "ReLU" bottom: "norm1" top: "out" }}
"""


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(prototxt())
    return load_caffe_model(path, structure_only=True)


def images(n=3):
    return (np.random.default_rng(5).normal(size=(n, 6, 4, 4)) * 3).astype(np.float32)


def test_lrnristretto_becomes_a_plan_entry_with_internal(model):
    plan = model.quant_plan()
    assert plan.layers["norm1"] == LayerPlan(MF, None, None, MF, rounding="nearest_even", internal=MF)
    assert "internal: e4m3[nosub,specials=none]" in plan.to_yaml()
    assert QuantPlan.from_yaml(plan.to_yaml(), model.network) == plan
    assert QuantPlan.from_yaml(plan.to_yaml()).to_yaml() == plan.to_yaml()


@pytest.mark.parametrize("mode", ["ristretto", "exact"])
def test_run_equals_ristretto_lrn_on_the_layer_input(model, mode):
    net, x = model.network, images()
    layer = net.layer("norm1")
    plan = model.quant_plan().with_mode(mode)
    res = run_network(net, x, plan, keep=["*"], batch_size=2)
    lrn_in = res.tensors[layer.inputs[0]]
    want = ristretto_lrn(np.asarray(lrn_in, np.float32), 5, 0.7, 0.75, 2.0, 4, 3)
    got = res.tensors[layer.output]
    assert want.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got, np.float32), want)
    assert np.array_equal(np.asarray(got, np.float64), want.astype(np.float64))  # bit-identical
    # the strict arithmetic differs from quantize-in/float LRN/quantize-out (the previous treatment)
    plain = QuantPlan({"norm1": LayerPlan(MF, outputs=MF)}, mode=mode)
    assert not np.array_equal(run_network(net, x, plain).output, res.output)
    # the trimming search's executor computes the same values
    out = Executor(net, x, batch_size=2).run(plan=plan, keep=[layer.output]).tensor(layer.output)
    np.testing.assert_array_equal(np.asarray(out, np.float32), want)
    assert out.dtype == (np.float64 if mode == "exact" else np.float32)


def test_prototxt_round_trip(model, tmp_path):
    plan = model.quant_plan()
    out = write_ristretto_prototxt(plan, tmp_path / "q.prototxt", source=model.network.source)
    text = out.read_text()
    assert "LRNRistretto" in text and "precision: MINIFLOAT" in text
    assert "mant_bits: 3" in text and "exp_bits: 4" in text
    assert load_caffe_model(out, structure_only=True).quant_plan() == plan == ristretto_view(plan)
    assert edit_prototxt(text, plan) == text
    # a minifloat LRN entry without 'internal' is written as LRNRistretto too, and reads back strict
    loose = QuantPlan({"norm1": LayerPlan(MF, outputs=MF)}, mode="ristretto")
    again = write_ristretto_prototxt(loose, tmp_path / "l.prototxt", source=model.network.source)
    assert load_caffe_model(again, structure_only=True).quant_plan() == ristretto_view(loose) == plan


def test_within_channel_is_a_plan_error_naming_the_layer(tmp_path):
    path = tmp_path / "w.prototxt"
    path.write_text(prototxt(region="WITHIN_CHANNEL"))
    model = load_caffe_model(path, structure_only=True)
    with pytest.raises(PlanError, match=r"'norm1'.*ACROSS_CHANNELS only"):
        model.quant_plan()
    plan = QuantPlan({"norm1": LayerPlan(internal=MF)}, mode="ristretto")
    with pytest.raises(PlanError, match=r"'norm1'.*ACROSS_CHANNELS only"):
        run_network(model.network, images(1), plan)
    with pytest.raises(PlanError, match=r"'norm1'.*ACROSS_CHANNELS only"):
        Executor(model.network, images(1)).run(plan=plan)
    # without 'internal' the layer keeps the plain treatment (inputs/outputs quantized around a float LRN)
    run_network(model.network, images(1), QuantPlan({"norm1": LayerPlan(MF, outputs=MF)}, mode="ristretto"))


def test_internal_is_checked(model):
    with pytest.raises(PlanError, match=r"'relu'.*LRN layers only"):
        QuantPlan({"relu": LayerPlan(internal=MF)}).check(model.network)
    with pytest.raises(PlanError, match=r"'norm1' outputs format .* must equal"):
        QuantPlan({"norm1": LayerPlan(outputs=Minifloat(5, 2), internal=MF)}).check(model.network)
    with pytest.raises(PlanError, match="minifloat"):
        QuantPlan.from_yaml("version: 1\nlayers:\n  norm1: {internal: fixed8.4}\n")
