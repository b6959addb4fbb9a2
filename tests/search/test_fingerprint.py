"""The resume key's digests: stable for the same content, different for any change a score depends on."""

from dataclasses import replace

import numpy as np
import pytest

from ristretto_sim import load_model
from ristretto_sim.data import Preprocessing
from ristretto_sim.graph.layers import Pool
from ristretto_sim.search.fingerprint import (
    PARTS,
    array_digest,
    digest,
    images_digest,
    preprocess_digest,
    run_key,
    structure_digest,
    weights_digest,
)


@pytest.mark.parametrize("name", ["lenet", "cifar10_full_lrn", "ae_deconv"])
def test_every_bundled_model_has_a_stable_key(name):
    a, b = load_model(name), load_model(name)
    assert a is not b
    assert structure_digest(a) == structure_digest(b) and weights_digest(a) == weights_digest(b)
    assert len(structure_digest(a)) == 64 and structure_digest(a) != weights_digest(a)


def test_one_changed_weight_bit_changes_the_weights_only():
    net = load_model("lenet")
    w = np.array(net.params["ip2"]["weight"])
    w.view(np.uint32)[3, 7] ^= 1  # the last mantissa bit of one weight
    changed = replace(net, params={**{k: dict(v) for k, v in net.params.items()}, "ip2": {**net.params["ip2"],
                                                                                        "weight": w}})
    assert weights_digest(changed) != weights_digest(net)
    assert structure_digest(changed) == structure_digest(net)


def test_a_changed_layer_changes_the_structure_not_a_renamed_network():
    net = load_model("lenet")
    layers = tuple(replace(layer, kind="avg") if isinstance(layer, Pool) and layer.name == "pool2" else layer
                   for layer in net.layers)
    assert structure_digest(replace(net, layers=layers)) != structure_digest(net)
    assert structure_digest(replace(net, name="other", source="elsewhere.onnx")) == structure_digest(net)


def test_arrays_are_hashed_with_dtype_and_shape():
    a = np.arange(6, dtype=np.uint8)
    assert array_digest(a) == array_digest(a.copy()) == array_digest(np.arange(6, dtype=np.uint8)[::1])
    assert array_digest(a) != array_digest(a.reshape(2, 3)) != array_digest(a.astype(np.int8))
    assert array_digest(np.asfortranarray(a.reshape(2, 3))) == array_digest(a.reshape(2, 3))  # values, not layout


def test_images_digest_covers_pixels_labels_and_count():
    images = np.zeros((4, 1, 2, 2), np.uint8)
    labels = np.arange(4)
    base = images_digest(images, labels, 4)
    other = images.copy()
    other[2, 0, 1, 1] = 1
    assert images_digest(other, labels, 4) != base
    assert images_digest(images, labels[::-1].copy(), 4) != base
    assert images_digest(images, labels, 8) != base  # the same images read twice: other batches


def test_preprocessing_digest_sees_every_field_and_the_mean_image_bytes():
    mean = np.zeros((3, 32, 32), np.float32)  # more than 1000 values: repr() elides the middle
    pre = Preprocessing(scale=1 / 256, mean_image=mean)
    other = mean.copy()
    other[1, 16, 16] = 1e-3
    assert repr(Preprocessing(scale=1 / 256, mean_image=other)) == repr(pre)
    assert preprocess_digest(Preprocessing(scale=1 / 256, mean_image=other), "TEST") != preprocess_digest(pre, "TEST")
    assert preprocess_digest(pre, "TRAIN") != preprocess_digest(pre, "TEST")
    for changed in (replace(pre, scale=1 / 255), replace(pre, crop_size=24), replace(pre, mirror=True)):
        assert preprocess_digest(changed, "TEST") != preprocess_digest(pre, "TEST")


def test_run_key_parts():
    net = load_model("lenet")
    key = run_key(network=net, stats_network=net, inplace=(), data={"scored": "d"}, preprocessing={"s": "p"},
                  options={"mode": "ristretto"})
    assert tuple(key) == PARTS
    assert key["tool version"].startswith("ristretto-sim ")
    again = run_key(network=load_model("lenet"), stats_network=net, inplace=(), data={"scored": "d"},
                    preprocessing={"s": "p"}, options={"mode": "ristretto"})
    # a distinct statistics net object with equal content: the same structure and weights are hashed twice
    assert {k: v for k, v in again.items() if k not in ("network", "weights")} == {
        k: v for k, v in key.items() if k not in ("network", "weights")}


def test_floats_are_exact_and_unknown_objects_are_refused():
    assert digest(np.float64(0.1)) == digest(0.1) and digest(0.1) != digest(np.nextafter(0.1, 1.0))
    with pytest.raises(TypeError, match="cannot fingerprint object"):
        digest(object())
