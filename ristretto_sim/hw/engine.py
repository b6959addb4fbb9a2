"""The SimPy model of one layer: a pipelined DRAM channel, double-buffered operand buffers and the PE array.

Time advances per tile transfer and per fold (never per cycle):

* the **DRAM channel** is one bandwidth resource shared by every operand. A read issued at t starts when the channel
  has finished the requests booked before it and occupies it for ``ceil(bytes / bandwidth)`` cycles. Its data arrives
  in order at the bandwidth's rate: the first ``x`` bytes are usable ``latency`` cycles after ``ceil(x / bandwidth)``
  cycles of the transfer; the next request may start meanwhile (requests are pipelined). Writes are posted: their
  ofmap half is free when the transfer ends. ``dram.write_policy`` says when a write is served: ``fifo`` books it at
  once, behind every request issued before it, so it delays a read issued after it; ``reads_first`` (the default) is a
  memory controller's read priority with a write queue (DRAMSim's and Ramulator's read-priority FR-FCFS schedulers;
  Stuecheli et al., "The Virtual Write Queue", ISCA 2010): a queued write starts only when the channel has had no read
  to serve since the write was posted (every read is booked when it is issued, so a write is booked once the channel
  has been idle from its start: closed form, no per-cycle loop; a write started in the idle time is not pre-empted).
  The write queue is the ofmap's drain half: when its queued bytes pass the high watermark (80 %) the oldest writes
  go, in order and before later reads, down to the low watermark (20 %), and when the array finds its drain half full
  it sends the writes it waits for first and stalls as with ``fifo``. A single-buffered ofmap has no queue (every
  write is booked at once, as ``fifo``);
* the **DMA** process requests the steps' input tiles in order, ahead of the array: at most
  ``dram.prefetch_depth`` reads outstanding (issued, data not yet all usable), and, with double-buffered ifmap
  and filter buffers, only as many steps ahead of the one computing as fit the prefetch halves (their free
  capacity, ``ifmap.active_bits + filter.active_bits``); the next step's tile is always allowed once the step
  before it is running. Without double buffering a tile is requested only when the array has finished the
  step before it. So with enough outstanding requests latency is paid once per pipeline fill, not per fold;
* a step's read is its stationary part (a ws/is stationary tile, partial sums read back, the biases), which
  must be on chip before the step starts, then its streamed operands in slices along T (``mapping.Steps``: one
  vector per operand per time step, in the order the array consumes them). A systolic array reads a streamed
  operand from its SRAM one vector per cycle, so a real DMA need not land the whole tile first: Gemmini, for
  one, moves a tile as a sequence of row-block loads and its reorder buffer lets a compute instruction issue
  once the loads it reads have completed (Genc et al., "Gemmini", DAC 2021). Here a step starts when its
  stationary part and its first slice are usable and then runs no faster than its slices arrive: it consumes
  them evenly over its compute cycles, so it ends at ``max(start + compute, last slice usable + compute /
  slices)`` (the two ends of a linear arrival against a linear consumption). Slices of one vector are the
  finest grain; a DMA moving blocks of b vectors would add up to b - 1 vectors' transfer at a fill and b - 1
  vectors' compute after a bandwidth-bound step's last block. A step without streamed bits waits for its
  whole tile;
* the **array** process walks the steps in order: it waits for a step's first slice; if the step produces
  output it waits until the outputs still draining fit the ofmap's drain half (double-buffered; with a single
  buffer until all have drained), computes (stalling on slices not yet arrived, above), then releases its
  input tile (the DMA may run further ahead) and drains its output through the channel.

With unlimited bandwidth and no latency the layer takes exactly its compute cycles. Stalls are the time the
array waits, so they come only from bandwidth, latency, outstanding requests and buffer capacity.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from ristretto_sim.hw.config import AcceleratorConfig
from ristretto_sim.hw.enums import WritePolicy


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


#: the write queue's watermarks, % of its capacity (the ofmap's drain half): past the high one the channel switches to
#: writes, back to reads at the low one (Ramulator 2.0's GenericDDR controller defaults, ``wr_high_watermark = 0.8``,
#: ``wr_low_watermark = 0.2``, CMU-SAFARI/ramulator2, ``src/dram_controller/impl/generic_dram_controller.cpp``)
WRITE_HIGH_WATERMARK = 80
WRITE_LOW_WATERMARK = 20


class DRAMChannel:
    """The shared DRAM channel: ``ceil(bytes / bandwidth)`` cycles a request, pipelined latency, writes served as
    the write policy says (module docstring). ``read`` books a read at the current simulation time and returns the
    time its data is usable; ``write`` posts a write and returns its id, ``end_of(id)`` the time its data has left
    the chip once it is booked (``fifo``: at once; ``reads_first``: ``settle``, the watermarks or ``flush``)."""

    def __init__(
        self,
        env: simpy.Environment,
        bandwidth_bytes_per_cycle: float | None,
        latency_cycles: int,
        write_policy: WritePolicy = WritePolicy.FIFO,
        write_buffer_bytes: int = 0,
    ):
        self.env = env
        self.bandwidth = bandwidth_bytes_per_cycle
        self.latency = latency_cycles
        self.reads_first = WritePolicy(write_policy) is WritePolicy.READS_FIRST
        self.free_at = 0
        self.busy_cycles = 0
        # the write mode's watermarks: past the high one the oldest queued writes go until the low one is reached
        self.high_water = write_buffer_bytes * WRITE_HIGH_WATERMARK // 100
        self.low_water = write_buffer_bytes * WRITE_LOW_WATERMARK // 100
        self.queued: deque[tuple[int, int, int]] = deque()  # (write id, issue time, bytes) not yet booked
        self.queued_bytes = 0
        self.ends: list[int | None] = []  # write id -> the time it has left the chip (None: still queued)

    def transfer_cycles(self, nbytes: int) -> int:
        if self.bandwidth is None or nbytes == 0:
            return 0
        return math.ceil(nbytes / self.bandwidth)

    def transfer(self, nbytes: int) -> int:
        """Book ``nbytes`` on the channel now; the time the transfer ends."""
        return self.book(nbytes)[1]

    def book(self, nbytes: int, at: int | None = None) -> tuple[int, int]:
        """Book ``nbytes`` on the channel at ``at`` (default now); the times the transfer starts and ends."""
        cycles = self.transfer_cycles(nbytes)
        start = max(self.env.now if at is None else at, self.free_at)
        self.free_at = start + cycles
        self.busy_cycles += cycles
        return start, self.free_at

    def settle(self, now: int) -> None:
        """Book the queued writes that started before ``now``: the channel was idle from their issue (or the end
        of the transfer before them) until then, since every read is booked when it is issued. A write that could
        start exactly at ``now`` waits: a read issued at ``now`` goes first."""
        while self.queued and max(self.free_at, self.queued[0][1]) < now:
            self._book_queued()

    def flush(self, upto: int | None = None) -> None:
        """Book the queued writes now, in issue order, up to write ``upto`` (default all): the array waits for
        them to leave its drain half, so they go before the reads issued after them."""
        while self.queued and (upto is None or self.queued[0][0] <= upto):
            self._book_queued()

    def _book_queued(self) -> None:
        wid, issued, nbytes = self.queued.popleft()
        self.queued_bytes -= nbytes
        self.ends[wid] = self.book(nbytes, at=issued)[1]

    def end_of(self, wid: int) -> int | None:
        return self.ends[wid]

    def read(self, nbytes: int) -> int:
        self.settle(self.env.now)
        return self.transfer(nbytes) + self.latency

    def read_streamed(self, nbytes: int, first_bytes: int) -> tuple[int, int]:
        """Book a read of ``nbytes`` now; the times its first ``first_bytes`` and all of it are usable."""
        self.settle(self.env.now)
        start, end = self.book(nbytes)
        return min(end, start + self.transfer_cycles(first_bytes)) + self.latency, end + self.latency

    def write(self, nbytes: int) -> int:
        """Post a write of ``nbytes`` now; its id (``end_of`` gives the time it has left the chip)."""
        wid = len(self.ends)
        if self.reads_first:
            self.settle(self.env.now)
            self.ends.append(None)
            self.queued.append((wid, int(self.env.now), nbytes))
            self.queued_bytes += nbytes
            if self.queued_bytes > self.high_water:  # the write queue is full: its oldest go now
                while self.queued and self.queued_bytes > self.low_water:
                    self._book_queued()
        else:
            self.ends.append(self.transfer(nbytes))
        return wid


def prefetch_window_bytes(config: AcceleratorConfig) -> int:
    """Bytes of input tiles that may wait on chip ahead of the computing step: the prefetch halves of the
    ifmap and filter buffers when both are double-buffered, else 0 (no tile is fetched ahead)."""
    if not (config.ifmap.double_buffered and config.filter.double_buffered):
        return 0
    return (config.ifmap.active_bits + config.filter.active_bits) // 8


def _bytes(bits) -> np.ndarray:
    return -((-np.asarray(bits, dtype=np.int64)) // 8)


def run_layer(
    compute_cycles: np.ndarray,
    read_bits: np.ndarray,
    write_bits: np.ndarray,
    config: AcceleratorConfig,
    stream_bits: np.ndarray | None = None,
    slices: np.ndarray | None = None,
) -> LayerTiming:
    """Replay one layer's steps (``mapping.Schedule`` arrays) in SimPy and return its timing. Without
    ``stream_bits`` and ``slices`` every step waits for its whole tile."""
    if (stream_bits is None) != (slices is None):
        raise ValueError("run_layer needs both stream_bits and slices, or neither")
    steps = len(compute_cycles)
    comp = np.asarray(compute_cycles, dtype=np.int64)
    read_bits = np.asarray(read_bits, dtype=np.int64)
    compute, reads, writes = comp.tolist(), _bytes(read_bits).tolist(), _bytes(write_bits).tolist()
    if stream_bits is None:
        first, tail = reads, compute
    else:
        n, streamed = np.asarray(slices, dtype=np.int64), np.asarray(stream_bits, dtype=np.int64)
        # bytes usable before the step starts (its stationary part and first slice), compute after its last slice
        first = np.where(streamed > 0, _bytes(read_bits - streamed + -(-streamed // n)), _bytes(read_bits)).tolist()
        tail = np.where(streamed > 0, -(-comp // n), comp).tolist()
    total_compute = int(sum(compute))
    if config.dram.bandwidth_bytes_per_cycle is None and config.dram.latency_cycles == 0:
        return LayerTiming(total_compute, total_compute, 0)

    env = simpy.Environment()
    drain_window = config.ofmap.active_bits // 8 if config.ofmap.double_buffered else 0
    channel = DRAMChannel(
        env, config.dram.bandwidth_bytes_per_cycle, config.dram.latency_cycles, config.dram.write_policy, drain_window
    )
    depth = config.dram.prefetch_depth
    window = prefetch_window_bytes(config)
    ahead = np.concatenate(([0], np.cumsum(reads))).tolist()  # ahead[i]: bytes of steps before i
    ready_at = [0] * steps  # the step may start: its stationary part and first slice are usable
    done_at = [0] * steps  # all of its reads are usable
    state = {"issued": 0, "current": 0}
    wake = {"dma": env.event(), "array": env.event()}

    def signal(who: str) -> None:
        if not wake[who].triggered:
            wake[who].succeed()

    def wait(who: str):
        wake[who] = env.event()
        return wake[who]

    def may_fetch(s: int) -> bool:
        cur = state["current"]
        return s <= cur or (s == cur + 1 and window > 0) or ahead[s + 1] - ahead[cur + 1] <= window

    def dma():
        outstanding: deque[int] = deque()  # usable times of the reads in flight
        for s in range(steps):
            while not may_fetch(s):
                yield wait("dma")
            if reads[s]:
                while outstanding and outstanding[0] <= env.now:
                    outstanding.popleft()
                if len(outstanding) >= depth:
                    yield env.timeout(outstanding.popleft() - env.now)
                ready_at[s], done_at[s] = channel.read_streamed(reads[s], first[s])
                outstanding.append(done_at[s])
            else:
                ready_at[s] = done_at[s] = env.now
            state["issued"] = s + 1
            signal("array")

    def array():
        draining: deque[tuple[int, int]] = deque()  # (write id, bytes) of the writes not yet drained
        pending = [0]  # bytes of those writes

        def drained() -> None:
            channel.settle(env.now)
            while draining and (end := channel.end_of(draining[0][0])) is not None and end <= env.now:
                pending[0] -= draining.popleft()[1]

        for s in range(steps):
            while state["issued"] <= s:
                yield wait("array")
            if ready_at[s] > env.now:
                yield env.timeout(ready_at[s] - env.now)
            if writes[s]:
                drained()
                while draining and pending[0] > drain_window:
                    wid, nbytes = draining.popleft()
                    pending[0] -= nbytes
                    channel.flush(wid)  # the drain half is full: the writes it waits for go before further reads
                    done = channel.end_of(wid)
                    if done > env.now:
                        yield env.timeout(done - env.now)
            state["current"] = s  # the step holds the active halves: the DMA may fill the prefetch halves
            signal("dma")
            busy = max(compute[s], done_at[s] + tail[s] - env.now)  # no faster than the slices arrive
            if busy > 0:
                yield env.timeout(busy)
            state["current"] = s + 1
            signal("dma")
            if writes[s]:
                draining.append((channel.write(writes[s]), writes[s]))
                pending[0] += writes[s]

    env.process(dma())
    env.process(array())
    env.run()
    channel.flush()  # the writes still queued when the array has finished drain in issue order
    last_write = max((end for end in channel.ends), default=0)
    total = max(int(env.now), int(last_write), total_compute)
    return LayerTiming(total, total_compute, channel.busy_cycles)
