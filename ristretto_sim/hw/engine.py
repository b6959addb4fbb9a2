"""The SimPy model of one layer: a DRAM channel, double-buffered operand buffers and the PE array.

Time advances per tile transfer and per fold (never per cycle). Three processes share one DRAM channel:

* the **prefetcher** walks the steps in order; for each it waits for a free input-buffer half (two halves
  when the ifmap and filter buffers are double-buffered, so the next tile fills while the current one is
  computed; one otherwise), then asks the channel for the step's bytes;
* the **array** waits for a step's tiles, claims an ofmap half if the step produces output, computes for the
  step's cycles, frees the input half and hands the output to the drain;
* the **drain** writes each output tile back through the channel and then frees its ofmap half.

The channel is a FIFO resource: a request occupies it for ``ceil(bytes / bandwidth)`` cycles; its data arrives
``latency`` cycles after the transfer ends, and the next request may start meanwhile (pipelined). With
unlimited bandwidth and no latency the layer takes exactly its compute cycles. Stalls are whatever time the
array spends waiting, so they come only from bandwidth and buffer capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from ristretto_sim.hw.config import AcceleratorConfig


@dataclass(frozen=True)
class LayerTiming:
    """What the SimPy run of one layer measured, in cycles.

    Attributes
    ----------
    total_cycles : int
        From the layer's start to its last DRAM write (or last compute step).
    compute_cycles : int
        Cycles the array computes (sum of step compute cycles).
    dram_busy_cycles : int
        Cycles the DRAM channel transfers data.
    """

    total_cycles: int
    compute_cycles: int
    dram_busy_cycles: int

    @property
    def stall_cycles(self) -> int:
        return self.total_cycles - self.compute_cycles


def _transfer_cycles(nbytes: int, bandwidth: float | None) -> int:
    if bandwidth is None or nbytes == 0:
        return 0
    return math.ceil(nbytes / bandwidth)


def run_layer(
    compute_cycles: np.ndarray, read_bits: np.ndarray, write_bits: np.ndarray, config: AcceleratorConfig
) -> LayerTiming:
    """Replay one layer's steps (``mapping.Schedule`` arrays) in SimPy and return its timing."""
    steps = len(compute_cycles)
    compute = [int(c) for c in compute_cycles]
    reads = [-(-int(b) // 8) for b in read_bits]
    writes = [-(-int(b) // 8) for b in write_bits]
    bw = config.dram.bandwidth_bytes_per_cycle
    latency = config.dram.latency_cycles
    total_compute = sum(compute)
    if bw is None and latency == 0:
        return LayerTiming(total_compute, total_compute, 0)

    env = simpy.Environment()
    channel = simpy.Resource(env, capacity=1)
    in_depth = 2 if (config.ifmap.double_buffered and config.filter.double_buffered) else 1
    out_depth = 2 if config.ofmap.double_buffered else 1
    in_slots = simpy.Container(env, capacity=in_depth, init=in_depth)
    out_slots = simpy.Container(env, capacity=out_depth, init=out_depth)
    ready = [env.event() for _ in range(steps)]
    to_drain = simpy.Store(env)
    busy = [0]

    def transfer(nbytes):
        cycles = _transfer_cycles(nbytes, bw)
        with channel.request() as req:
            yield req
            if cycles:
                busy[0] += cycles
                yield env.timeout(cycles)
        if latency:
            yield env.timeout(latency)

    def deliver(index, nbytes):
        yield from transfer(nbytes)
        ready[index].succeed()

    def prefetcher():
        for s in range(steps):
            yield in_slots.get(1)
            if reads[s]:
                # the request joins the channel's queue now; the prefetcher moves on to the next step at once
                env.process(deliver(s, reads[s]))
            else:
                ready[s].succeed()

    def array():
        for s in range(steps):
            yield ready[s]
            if writes[s]:
                yield out_slots.get(1)
            if compute[s]:
                yield env.timeout(compute[s])
            yield in_slots.put(1)
            if writes[s]:
                yield to_drain.put(s)
        yield to_drain.put(None)

    def drain():
        while True:
            s = yield to_drain.get()
            if s is None:
                return
            yield from transfer(writes[s])
            yield out_slots.put(1)

    env.process(prefetcher())
    env.process(array())
    finished = env.process(drain())
    env.run(until=finished)
    return LayerTiming(int(max(env.now, total_compute)), total_compute, busy[0])
