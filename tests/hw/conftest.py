"""Shared helpers of the hw tests: small accelerator configs."""

from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig, DRAMConfig


def make_config(rows=8, cols=8, dataflow="os", bandwidth=None, latency=0, kb=64, **kw):
    return AcceleratorConfig(
        rows,
        cols,
        dataflow,
        ifmap=BufferConfig(kb * 1024),
        filter=BufferConfig(kb * 1024),
        ofmap=BufferConfig(kb * 1024),
        dram=DRAMConfig(bandwidth, latency),
        **kw,
    )
