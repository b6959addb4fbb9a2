"""From the graph package's Network and QuantPlan to the hardware model's layers and formats."""

from types import SimpleNamespace

import numpy as np
import pytest

from ristretto_sim.errors import ModelError
from ristretto_sim.graph import Conv, ConvTranspose, Dense, Flatten, Network, TensorSpec
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.hw import ConvShape, ConvTransposeShape, GemmShape, LayerFormats, simulate
from ristretto_sim.hw.network import layers_from_network

from .conftest import make_config


def _net(layers, shape=(3, 16, 16)):
    rng = np.random.default_rng(0)
    params = {}
    for layer in layers:
        if isinstance(layer, Conv):
            params[layer.name] = {
                "weight": rng.standard_normal(
                    (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel)
                ).astype(np.float32)
            }
        elif isinstance(layer, ConvTranspose):
            params[layer.name] = {
                "weight": rng.standard_normal(
                    (layer.in_channels, layer.out_channels // layer.groups, *layer.kernel)
                ).astype(np.float32)
            }
        elif isinstance(layer, Dense):
            params[layer.name] = {
                "weight": rng.standard_normal((layer.out_features, layer.in_features)).astype(np.float32)
            }
    return Network(
        name="t",
        inputs=(TensorSpec("data", shape),),
        layers=tuple(layers),
        outputs=(layers[-1].outputs[0],),
        params=params,
    )


def test_layers_from_network():
    net = _net(
        [
            Conv(
                name="c1",
                inputs=("data",),
                outputs=("c1",),
                in_channels=3,
                out_channels=8,
                kernel=(3, 3),
                stride=(2, 2),
                pads=(1, 1, 0, 0),
                bias=False,
            ),
            ConvTranspose(
                name="up",
                inputs=("c1",),
                outputs=("up",),
                in_channels=8,
                out_channels=4,
                kernel=(2, 2),
                stride=(2, 2),
                bias=False,
            ),
            Flatten(name="flat", inputs=("up",), outputs=("flat",)),
            Dense(
                name="fc",
                inputs=("flat",),
                outputs=("fc",),
                in_features=4 * 16 * 16,
                out_features=10,
                bias=False,
            ),
        ]
    )
    layers, skipped = layers_from_network(net, batch=2)
    assert skipped == ["flat"]
    c1, up, fc = layers
    assert c1 == ConvShape("c1", 16, 16, 3, 8, kernel=3, stride=2, padding=(1, 1, 0, 0), batch=2)
    assert c1.out_h == net.shape("c1")[1] == 8
    assert isinstance(up, ConvTransposeShape) and (up.out_h, up.out_w) == net.shape("up")[1:]
    assert fc == GemmShape("fc", 2, 10, 4 * 16 * 16)
    report = simulate(layers, None, make_config(kb=256))
    assert report.layer("c1").macs == 2 * 8 * 8 * 8 * 27


def test_asymmetric_transposed_pads_are_refused():
    net = _net(
        [
            ConvTranspose(
                name="up",
                inputs=("data",),
                outputs=("up",),
                in_channels=3,
                out_channels=4,
                kernel=(3, 3),
                stride=(2, 2),
                pads=(1, 1, 0, 0),
                bias=False,
            )
        ]
    )
    with pytest.raises(ModelError, match="'up'.*asymmetric"):
        layers_from_network(net)


def test_quant_plan_drives_formats():
    net = _net(
        [
            Conv(
                name="c1",
                inputs=("data",),
                outputs=("c1",),
                in_channels=3,
                out_channels=8,
                kernel=(3, 3),
                bias=False,
            )
        ]
    )
    plan = QuantPlan.from_yaml("version: 1\nlayers:\n  c1: {inputs: fixed8.0, weights: fixed4.2}\n", net)
    layers, _ = layers_from_network(net)
    row = simulate(layers, plan, make_config(kb=256)).layers[0]
    assert row.dram_filter_bytes == 8 * 27 * 4 // 8
    # outputs unset: they leave the array at the accumulator's width; the accumulator unset is the datapath's
    # default, as in the emulator: no overflow for K = 27, 8 + 4 + 5 + 1 = 18 bits
    assert row.dram_ofmap_bytes == 14 * 14 * 8 * 18 // 8
    assert "weights=fixed4.2" in row.formats


def test_plan_view_reads_a_quant_plan_as_the_emulator_does():
    from ristretto_sim.hw.plan import PlanView

    default = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")
    plan = QuantPlan({"c": {"inputs": "fixed8.0", "weights": "fixed4.0"}})
    view = PlanView(plan, default)
    assert view.formats("other") == default  # layers the plan does not name run in the PE's formats
    got = view.formats("c")
    assert got == plan.layer_formats("c")  # the plan's own LayerFormats, nothing filled from the PE
    # a missing accumulator is the datapath's default (no overflow: 8 + 4 + ceil(log2 27) + 1 bits), as in the
    # emulator, and missing outputs leave the array at its width
    r = got.resolved(27)
    assert (str(r.accumulator), str(r.outputs)) == ("fixed18.0", "fixed18.0")
    with pytest.raises(TypeError, match="must be None, a LayerFormats"):
        PlanView(SimpleNamespace(layer_formats=lambda name: default), default)
