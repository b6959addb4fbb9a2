"""The named steps of ``mapping.schedule`` on their own: which folds fetch a tile, the DRAM bits each fold reads,
and how folds are cut into steps. Expected values are worked out by hand in the comments."""

import numpy as np

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig
from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.mapping import Fetch, LayerMapping, Outputs, Steps, first_uses, refetches

INT8 = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")


def os_mapping(layer, ifmap_bytes, *, double_buffered=False, filter_bytes=1 << 20):
    config = AcceleratorConfig(
        8,
        4,
        "os",
        ifmap=BufferConfig(ifmap_bytes, double_buffered=double_buffered),
        filter=BufferConfig(filter_bytes),
        ofmap=BufferConfig(1 << 20),
    )
    return LayerMapping.of(layer.problem(), INT8, config, layer=layer.name)


def fetches_of(mapping):
    return {t.name: mapping.fetch(t) for t in mapping.operand_tiles(mapping.walk())}


def test_first_uses_and_refetches():
    assert first_uses(np.array([0, 1, 0, 2, 1])).tolist() == [True, True, False, True, False]
    tile = np.array([0, 0, 1, 1, 0])
    assert refetches(tile, np.zeros(5, dtype=bool)).tolist() == [True, False, True, False, True]
    # a chunked fold refetches its tile, and the fold after it cannot reuse the buffer either
    chunked = np.array([False, True, False, False, False])
    assert refetches(tile, chunked).tolist() == [True, True, True, False, True]


def test_fetch_of_each_fold_resident_or_refetched():
    # GEMM 20x10 @ 10x6 on 8x4, os: 3 row folds (8, 8, 4 rows) inner, 2 column folds (4, 2 columns) outer
    layer = GemmShape("g", 20, 6, 10)
    # ifmap: 1600 bits > an 800-bit buffer, so each fold fetches its 8 (or 4) input rows of 10 bytes again;
    # filter: 480 bits fits, so each column fold's tile (10 x 4, then 10 x 2 bytes) is read once
    f = fetches_of(os_mapping(layer, 100))
    assert f["ifmap"].bits.tolist() == [640, 640, 320, 640, 640, 320]  # twice the tensor: once per column fold
    assert f["filter"].bits.tolist() == [320, 0, 0, 160, 0, 0]  # the tensor, once
    assert f["ifmap"].chunks.tolist() == f["filter"].chunks.tolist() == [1] * 6
    # the ifmap fits a 200-byte buffer: fetched at its first use only, the tensor once
    assert fetches_of(os_mapping(layer, 200))["ifmap"].bits.tolist() == [640, 640, 320, 0, 0, 0]


def test_streamed_tile_over_its_buffer_half_is_cut_into_chunks():
    # a 60-byte double-buffered ifmap offers 240 bits a tile: 640-bit tiles take 3 chunks, 320-bit ones 2
    f = fetches_of(os_mapping(GemmShape("g", 20, 6, 10), 60, double_buffered=True))["ifmap"]
    assert f.chunks.tolist() == [3, 3, 2, 3, 3, 2]
    assert f.bits.tolist() == [640, 640, 320, 640, 640, 320]


def test_im2col_inputs_are_rounded_once_over_the_whole_pass():
    # 5x5 input, 3x3 kernel: M = 9 output pixels, K = 9, 25 distinct inputs; row folds of 8 and 1 pixels read
    # 72 and 9 im2col entries, 72 * 8 * 25 / 81 = 177.8 and 9 * 8 * 25 / 81 = 22.2 bits of distinct inputs.
    # Rounded per tile that is 178 + 23 = 201 bits; rounded once over the pass, 178 + 22 = 200 = 25 bytes.
    mapping = os_mapping(ConvShape("c", 5, 5, 1, 4, kernel=3), 1 << 20)
    ifmap = fetches_of(mapping)["ifmap"]
    assert ifmap.bits.tolist() == [178, 22]
    assert int(ifmap.bits.sum()) == 25 * 8


def test_folds_cut_into_steps():
    # fold 0: 10 cycles and 9 streamed bits in 3 chunks (3 + 3 + 4 cycles, 3 bits each), its 5 stationary and 1
    # partial-sum bits before the first chunk, its 2 written bits after the last; fold 1 is one step
    fetches = [
        Fetch("ifmap", True, np.array([9, 4]), np.array([3, 1])),
        Fetch("filter", False, np.array([5, 6]), np.array([1, 1])),
    ]
    outputs = Outputs(writes=np.array([2, 3]), reads=np.array([1, 0]), ofmap_bits=5, psum_write_bits=0,
                      psum_read_bits=1)
    steps = Steps.of_folds(np.array([10, 7]), fetches, outputs)
    assert steps.compute_cycles.tolist() == [3, 3, 4, 7]
    assert steps.read_bits.tolist() == [9, 3, 3, 10]
    assert steps.write_bits.tolist() == [0, 0, 2, 3]
    assert steps.stream_bits.tolist() == [0, 0, 0, 0] and steps.slices.tolist() == [1, 1, 1, 1]  # whole tiles
    twice = steps.repeated(2)
    assert twice.compute_cycles.tolist() == [3, 3, 4, 7] * 2
    assert twice.write_bits.tolist() == [0, 0, 2, 3] * 2
    # with the folds' stream vectors (7 and 5 slices) the streamed bits and the slices are shared out too
    sliced = Steps.of_folds(np.array([10, 7]), fetches, outputs, np.array([7, 5]))
    assert sliced.read_bits.tolist() == steps.read_bits.tolist()
    assert sliced.stream_bits.tolist() == [3, 3, 3, 4]
    assert sliced.slices.tolist() == [2, 2, 3, 5]
