"""The prefix cache: the live tensors before a layer, kept under a key naming everything that produced them.

The trimming search scores the same images under a dozen plans that differ in a few layers. The executor stores,
before each weighted layer, a snapshot of every batch's live tensors (and what the layers before recorded) under
a key made of the run's settings and the plan entries of every layer executed before that point; a later run
whose key agrees up to layer *i* starts at layer *i*. Results do not depend on the cache.

``PrefixCache(max_bytes)`` is bounded: storing beyond the bound drops the least recently used snapshots, and a
snapshot larger than the bound is refused. ``stats()`` says how full it is and how often it had to drop or refuse
(``CacheStats.full``: it ran out of room at least once, so some prefixes were recomputed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheStats:
    """The state of a ``PrefixCache``.

    Attributes
    ----------
    max_bytes, bytes : int
        The bound and the memory the stored snapshots take.
    entries, hits, misses : int
    evicted, refused : int
        Snapshots dropped to make room, and snapshots not stored because they alone exceed the bound.
    """

    max_bytes: int
    bytes: int
    entries: int
    hits: int
    misses: int
    evicted: int
    refused: int

    @property
    def full(self) -> bool:
        """The cache ran out of room at least once (prefixes were recomputed that a larger cache would keep)."""
        return self.evicted > 0 or self.refused > 0

    def as_dict(self) -> dict:
        return {**self.__dict__, "full": self.full}


class PrefixCache:
    """A byte-bounded, least-recently-used store of snapshots (module docstring).

    Parameters
    ----------
    max_bytes : int
        Memory bound (0 disables the cache).
    """

    def __init__(self, max_bytes: int):
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes={max_bytes!r} must be a non-negative integer")
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evicted = self._refused = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key):
        """The snapshot stored under ``key``, or None (counted as a hit or a miss)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return hit[0]

    def peek(self, key) -> bool:
        """Whether ``key`` is stored (not counted)."""
        with self._lock:
            return key in self._items

    def put(self, key, value, nbytes: int) -> bool:
        """Store ``value`` (taking ``nbytes``); False if it alone exceeds the bound or the cache is disabled."""
        with self._lock:
            if not self.enabled or key in self._items:
                return False
            if nbytes > self.max_bytes:
                self._refused += 1
                return False
            while self._bytes + nbytes > self.max_bytes and self._items:
                _, (_, old) = self._items.popitem(last=False)
                self._bytes -= old
                self._evicted += 1
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            return True

    def clear(self) -> None:
        """Forget every snapshot (the counters stay)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.max_bytes, self._bytes, len(self._items), self._hits, self._misses,
                              self._evicted, self._refused)
