"""Named accelerator presets, each with its source. ``preset(name)`` returns an ``AcceleratorConfig``.

Numbers marked [M] in a source are commonly cited but were not re-checked against the primary source here.
"""

from __future__ import annotations

from types import MappingProxyType

from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig, DRAMConfig, PEConfig, VectorConfig

_KB = 1024

_PRESETS = {
    "edge-32x32-int8": AcceleratorConfig(
        32,
        32,
        "os",
        clock_mhz=1000.0,
        pe=PEConfig("fixed_mac", "int8", "int8", "int32"),
        ifmap=BufferConfig(64 * _KB),
        filter=BufferConfig(64 * _KB),
        ofmap=BufferConfig(64 * _KB),
        dram=DRAMConfig(16.0, 100, prefetch_depth=16),
        vector=VectorConfig(lanes=32, pipeline_cycles=4, inputs="int8", accumulator="int32"),
        name="edge-32x32-int8",
        source=(
            "array, dataflow and SRAM sizes: SCALE-Sim's example configs/scale.cfg (32x32 os, 64 KB per "
            "operand, scalesim-project/scale-sim-v2); int8 x int8 -> int32 PE; DRAM 16 B/cycle = 16 GB/s at "
            "1 GHz, about one 32-bit LPDDR4-4266 channel (17 GB/s), and 100-cycle latency: assumptions; 16 "
            "outstanding tile reads: Gemmini's default DMA max_in_flight_mem_reqs = 16 (ucb-bar/gemmini, "
            "GemminiConfigs.scala); vector unit one output row (32 lanes) per cycle with int8 lanes and int32 "
            "sums, as Gemmini applies ReLU, scaling and pooling to rows of DIM outputs on their way out of the "
            "accumulator (Genc et al., 'Gemmini', DAC 2021); 4-stage pipeline: assumption"
        ),
    ),
    "tpu-mxu-128x128": AcceleratorConfig(
        128,
        128,
        "ws",
        clock_mhz=940.0,
        pe=PEConfig("minifloat", "bf16", "bf16", "fp32"),
        ifmap=BufferConfig(8 * 1024 * _KB, word_bits=2048),
        filter=BufferConfig(8 * 1024 * _KB, word_bits=2048),
        ofmap=BufferConfig(4 * 1024 * _KB, word_bits=2048),
        dram=DRAMConfig(478.0, 500, prefetch_depth=4),
        vector=VectorConfig(lanes=1024, pipeline_cycles=8, inputs="fp32", accumulator="fp32"),
        name="tpu-mxu-128x128",
        source=(
            "one 128x128 MXU of TPU v2/v3, bf16 multiply, fp32 accumulate, weight stationary, 940 MHz (v3): "
            "Jouppi et al., 'A Domain-Specific Supercomputer for Training Deep Neural Networks', CACM 63(7) "
            "2020; HBM 900 GB/s per v3 chip [M] shared by 2 MXUs of 1 core of 2 -> ~478 B/cycle per MXU "
            "(assumption); buffer sizes and 500-cycle latency are assumptions; 4 tiles prefetched: the TPU's "
            "weight FIFO is four tiles deep (Jouppi et al., 'In-Datacenter Performance Analysis of a Tensor "
            "Processing Unit', ISCA 2017, section 2); vector unit 128 lanes x 8 sublanes of fp32 ALUs (Norrie et al., "
            "'The Design Process for Google's Training Chips: TPUv2 and TPUv3', IEEE Micro 41(2) 2021) [M], "
            "8-stage pipeline: assumption"
        ),
    ),
    "eyeriss-12x14-ws": AcceleratorConfig(
        12,
        14,
        "ws",
        clock_mhz=200.0,
        pe=PEConfig("fixed_mac", "int16", "int16", "fixed32.0"),
        ifmap=BufferConfig(36 * _KB, word_bits=64),
        filter=BufferConfig(36 * _KB, word_bits=64),
        ofmap=BufferConfig(36 * _KB, word_bits=64),
        dram=DRAMConfig(8.0, 50, prefetch_depth=2),
        vector=VectorConfig(lanes=14, pipeline_cycles=2, inputs="int16", accumulator="fixed32.0"),
        name="eyeriss-12x14-ws",
        source=(
            "Eyeriss' PE count as a 12x14 array with 16-bit fixed-point PEs at 200 MHz (Chen et al., "
            "ISSCC 2016 / JSSC 2017); run weight-stationary with 36 KB per operand as in SCALE-Sim's "
            "configs/eyeriss.cfg (Eyeriss itself is row-stationary with a 108 KB global buffer); DRAM "
            "8 B/cycle and 50-cycle latency are assumptions; 2 outstanding reads: SCALE-Sim's double buffering "
            "(one active and one prefetch half, reference/systolic-timing.md section 6.1); vector unit one lane "
            "per array column with 16-bit lanes: Eyeriss applies ReLU before write-back (Chen et al., JSSC 2017), "
            "the other ops and the 2-stage pipeline are assumptions"
        ),
    ),
}

#: name -> AcceleratorConfig (read-only)
PRESETS = MappingProxyType(_PRESETS)


def preset(name: str) -> AcceleratorConfig:
    """The preset called ``name``; ``KeyError`` lists the names."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise KeyError(f"no accelerator preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
