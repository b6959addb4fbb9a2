"""Tensor lifetimes: after which layer each tensor of a network is no longer read, computed once per network.

The executor keeps a tensor until its last reader has run, then drops it, unless it is wanted (an output, a
tensor the caller keeps, or every tensor with ``"*"``)."""

from __future__ import annotations

from ristretto_sim.graph.network import Network


class Lifetimes:
    """The last reader of every tensor of ``network``.

    Parameters
    ----------
    network : Network
    """

    def __init__(self, network: Network):
        last: dict[str, int] = {}
        for i, layer in enumerate(network.layers):
            for t in layer.inputs:
                last[t] = i
        self.last_use = last
        dead: dict[int, list[str]] = {}
        for t, i in last.items():
            dead.setdefault(i, []).append(t)
        self._dead = {i: tuple(ts) for i, ts in dead.items()}

    def released_after(self, index: int, wanted: frozenset[str] | None) -> tuple[str, ...]:
        """The tensors to drop once layer ``index`` has run (none when ``wanted`` is None: every tensor is kept)."""
        if wanted is None:
            return ()
        return tuple(t for t in self._dead.get(index, ()) if t not in wanted)
