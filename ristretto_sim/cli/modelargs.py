"""What several commands take from their arguments: the model (or its structure), the plan, the dataset and the
preprocessing mean."""

from __future__ import annotations


def parse_mean(text):
    """``"104,117,123"`` -> (104.0, 117.0, 123.0); None stays None."""
    if text is None:
        return None
    try:
        return tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--input-mean {text!r} must be a number or comma-separated numbers") from None


def data_spec(network, data):
    """``--data``, or when it is omitted the model's own dataset (as ``ristretto_sim.score`` picks it)."""
    from ristretto_sim.data import model_dataset

    return data or model_dataset(network.metadata.get("dataset"))


def load_plan_arg(plan_arg, model, weights, network):
    """``--plan PATH`` or ``--plan embedded`` (a Ristretto prototxt's own quantization, an int8 TFLite model's
    affine formats) as a ``QuantPlan``."""
    from pathlib import Path

    from ristretto_sim import load_plan

    if plan_arg != "embedded" or Path(plan_arg).exists():
        return load_plan(plan_arg, network)
    from ristretto_sim.graph.plan import embedded_plan

    found = embedded_plan(network)  # an int8 TFLite model's affine formats
    if found is not None:
        return found
    if Path(model).suffix.lower() not in (".prototxt", ".pbtxt"):
        raise ValueError("--plan embedded reads the quantization of a Ristretto prototxt or an int8 TFLite model; "
                         "the model is neither")
    from ristretto_sim.errors import PlanError
    from ristretto_sim.io.caffe.importer import load_caffe_model

    plan = load_caffe_model(model, weights).quant_plan()
    if not plan.layers:
        raise PlanError(
            f"{model}: no Ristretto layer (ConvolutionRistretto, FcRistretto, ...) carries a "
            "quantization_param; nothing is embedded"
        )
    return plan


def load_structure(model: str, weights):
    """The network, or for a Caffe prototxt without weights its structure (zero weights: shapes and MACs)."""
    from pathlib import Path

    from ristretto_sim import load_model

    path = Path(model)
    if weights is None and path.suffix.lower() in (".prototxt", ".pbtxt") and path.is_file():
        from ristretto_sim.io.caffe.importer import load_caffe_model

        return load_caffe_model(path, structure_only=True).network, True
    return load_model(model, weights), False


def layer_labels(network) -> dict[str, str]:
    """Each layer's name -> the label ``info`` prints (its own name up to 32 characters, else index:type:part)."""
    from ristretto_sim.hw.names import short_labels

    rows = network.summary()
    labels = short_labels([r.name for r in rows], [r.op_type.lower() for r in rows], width=32)
    return dict(zip((r.name for r in rows), labels, strict=True))


def resolve_layer(network, text: str, among) -> str:
    """The layer ``text`` names among ``among``: its full name, or its label as ``info`` prints it
    (``layer_labels``); ``ValueError`` listing the labels of ``among`` otherwise."""
    among = list(among)
    if text in among:
        return text
    labels = layer_labels(network)
    found = [name for name in among if labels.get(name) == text]
    if found:
        return found[0]
    shown = ", ".join(labels.get(name, name) for name in among) or "none"
    raise ValueError(f"--layer {text!r}: the plan's weighted layers are {shown} (full names or their labels, as "
                     "info prints them)")
