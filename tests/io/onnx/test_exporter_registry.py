"""The exporter table of to_onnx: every layer spec of graph.layers has an exporter; subclasses inherit theirs."""

import dataclasses

from ristretto_sim.graph import layers
from ristretto_sim.io.onnx.exporter import exporter_for


def layer_specs():
    return sorted(
        (
            c
            for c in vars(layers).values()
            if isinstance(c, type) and issubclass(c, layers.Layer) and c is not layers.Layer
        ),
        key=lambda c: c.__name__,
    )


def test_every_layer_spec_has_an_exporter():
    specs = layer_specs()
    assert len(specs) >= 15  # the 15 specs of today; a new one must be exportable too
    assert [c.__name__ for c in specs if exporter_for(c) is None] == []


def test_a_subclass_uses_its_base_exporter_and_a_foreign_layer_has_none():
    sub = dataclasses.dataclass(frozen=True)(type("MyRelu", (layers.Activation,), {}))
    assert exporter_for(sub) is exporter_for(layers.Activation)
    assert exporter_for(layers.Conv) is exporter_for(layers.ConvTranspose)
    foreign = dataclasses.dataclass(frozen=True)(type("Foreign", (layers.Layer,), {}))
    assert exporter_for(foreign) is None
