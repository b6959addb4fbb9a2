"""Layer shapes from the graph package's ``Network``: the layers that run on the PE array.

Convolutions become ``ConvShape`` (ONNX pads kept as (top, left, bottom, right)), transposed
convolutions ``ConvTransposeShape`` (symmetric pads only), fully connected layers ``GemmShape`` (M = batch).
Every other layer (pooling, activations, element-wise, reshapes) does no MACs on the array and is not
simulated; ``skipped`` lists them so a report can say so.
"""

from __future__ import annotations

from ristretto_sim.errors import ModelError
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape


def layers_from_network(network, *, batch: int = 1) -> tuple[list, list[str]]:
    """The array layers of ``network`` in execution order, and the names of the layers left out.

    Raises
    ------
    ModelError
        For a transposed convolution with asymmetric padding (not modelled), naming the layer.
    """
    from ristretto_sim.graph import Conv, ConvTranspose, Dense

    out: list = []
    skipped: list[str] = []
    for layer in network.layers:
        if isinstance(layer, Conv):
            c, h, w = network.input_shapes(layer)[0]
            t, left, b, r = layer.pads
            out.append(
                ConvShape(
                    layer.name,
                    h,
                    w,
                    c,
                    layer.out_channels,
                    kernel=layer.kernel,
                    stride=layer.stride,
                    padding=(t, left, b, r),
                    dilation=layer.dilation,
                    groups=layer.groups,
                    batch=batch,
                )
            )
        elif isinstance(layer, ConvTranspose):
            c, h, w = network.input_shapes(layer)[0]
            t, left, b, r = layer.pads
            if (t, left) != (b, r):
                raise ModelError(
                    f"layer {layer.name!r}: transposed convolution with asymmetric pads "
                    f"{layer.pads} is not modelled by the hardware simulator"
                )
            out.append(
                ConvTransposeShape(
                    layer.name,
                    h,
                    w,
                    c,
                    layer.out_channels,
                    kernel=layer.kernel,
                    stride=layer.stride,
                    padding=(t, left),
                    output_padding=layer.output_padding,
                    dilation=layer.dilation,
                    groups=layer.groups,
                    batch=batch,
                )
            )
        elif isinstance(layer, Dense):
            out.append(GemmShape(layer.name, batch, layer.out_features, layer.in_features))
        else:
            skipped.append(layer.name)
    if not out:
        raise ModelError(f"network {network.name!r} has no convolution or fully connected layer to simulate")
    return out, skipped
