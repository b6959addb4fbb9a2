"""The SimPy model of one layer: a shared DRAM channel, double-buffered operand buffers and the PE array.

Time advances per tile transfer and per fold (never per cycle):

* the **DRAM channel** is one FIFO bandwidth resource shared by every operand: a request issued at time t
  starts when the channel has finished the requests issued before it, occupies the channel for
  ``ceil(bytes / bandwidth)`` cycles, and its data is usable ``latency`` cycles after its transfer ends; the
  next request may start meanwhile (requests are pipelined);
* the **array** process walks the steps in order. The tiles of the first steps are requested at time 0, one
  per input-buffer half (two halves when the ifmap and filter buffers are double-buffered, so the next tile
  fills while the current one is computed; one otherwise). For each step the array waits for its tiles, claims
  an ofmap half if the step produces output (waiting for the oldest drain to finish when both are busy),
  computes for the step's cycles, then frees its input half (the tile two steps ahead is requested at once)
  and drains its output through the channel; the ofmap half is free when that write completes.

With unlimited bandwidth and no latency the layer takes exactly its compute cycles. Stalls are the time the
array waits, so they come only from bandwidth, latency and buffer capacity.
"""

from __future__ import annotations

import math
from collections import deque
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


class DRAMChannel:
    """The shared DRAM channel: FIFO in issue order, ``ceil(bytes / bandwidth)`` cycles a request, pipelined
    latency (module docstring). ``request`` books a transfer at the current simulation time and returns the
    time its data is usable."""

    def __init__(self, env: simpy.Environment, bandwidth_bytes_per_cycle: float | None, latency_cycles: int):
        self.env = env
        self.bandwidth = bandwidth_bytes_per_cycle
        self.latency = latency_cycles
        self.free_at = 0
        self.busy_cycles = 0

    def transfer_cycles(self, nbytes: int) -> int:
        if self.bandwidth is None or nbytes == 0:
            return 0
        return math.ceil(nbytes / self.bandwidth)

    def request(self, nbytes: int) -> int:
        cycles = self.transfer_cycles(nbytes)
        start = max(self.env.now, self.free_at)
        self.free_at = start + cycles
        self.busy_cycles += cycles
        return self.free_at + self.latency


def run_layer(
    compute_cycles: np.ndarray, read_bits: np.ndarray, write_bits: np.ndarray, config: AcceleratorConfig
) -> LayerTiming:
    """Replay one layer's steps (``mapping.Schedule`` arrays) in SimPy and return its timing."""
    steps = len(compute_cycles)
    compute = compute_cycles.tolist()
    reads = (-((-np.asarray(read_bits, dtype=np.int64)) // 8)).tolist()
    writes = (-((-np.asarray(write_bits, dtype=np.int64)) // 8)).tolist()
    total_compute = int(sum(compute))
    if config.dram.bandwidth_bytes_per_cycle is None and config.dram.latency_cycles == 0:
        return LayerTiming(total_compute, total_compute, 0)

    env = simpy.Environment()
    channel = DRAMChannel(env, config.dram.bandwidth_bytes_per_cycle, config.dram.latency_cycles)
    in_depth = 2 if (config.ifmap.double_buffered and config.filter.double_buffered) else 1
    out_depth = 2 if config.ofmap.double_buffered else 1
    ready_at = [0] * steps
    last_write = [0]

    def fetch(s: int) -> None:
        ready_at[s] = channel.request(reads[s]) if reads[s] else env.now

    def array():
        for s in range(min(in_depth, steps)):
            fetch(s)
        draining: deque[int] = deque()  # completion times of the writes occupying ofmap halves
        for s in range(steps):
            if ready_at[s] > env.now:
                yield env.timeout(ready_at[s] - env.now)
            if writes[s]:
                while draining and draining[0] <= env.now:
                    draining.popleft()
                if len(draining) == out_depth:
                    yield env.timeout(draining.popleft() - env.now)
            if compute[s]:
                yield env.timeout(compute[s])
            if s + in_depth < steps:
                fetch(s + in_depth)
            if writes[s]:
                done = channel.request(writes[s])
                draining.append(done)
                last_write[0] = max(last_write[0], done)

    env.process(array())
    env.run()
    total = max(int(env.now), int(last_write[0]), total_compute)
    return LayerTiming(total, total_compute, channel.busy_cycles)
