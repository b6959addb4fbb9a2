"""Short, unique, readable layer labels for tables and plots; reports keep the full names (CSV, JSON).

A name of at most ``width`` characters is its own label. A longer one (a converted model's 200-character
TFLite name) becomes ``<index>:<kind>:<part>``: its position in the network, its kind (``conv``, ``gemm``,
``max_pool``, ...) and the part of the name that tells it from the others: the name split at ``/ ; : . _ -``
and spaces, the tokens fewest other long names share first (none that all share), as many as fit, in
their order in the name (a bare number with the word before it).
The index makes every label unique, so no two rows ever print the same.
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[/;:._\-\s]+")


def _tokens(name: str) -> list[str]:
    return [t for t in _SPLIT.split(name) if t]


def short_labels(names, kinds, width: int = 24) -> list[str]:
    """One label per layer (module docstring); ``names`` and ``kinds`` in network order."""
    names, kinds = list(names), list(kinds)
    if len(names) != len(kinds):
        raise ValueError(f"names ({len(names)}) and kinds ({len(kinds)}) must have equal lengths")
    long = [i for i, n in enumerate(names) if len(n) > width]
    tokens = {i: list(dict.fromkeys(_tokens(names[i]))) for i in long}
    freq: dict[str, int] = {}
    for i in long:
        for t in tokens[i]:
            freq[t] = freq.get(t, 0) + 1
    labels = list(names)
    for i in long:
        head = f"{i}:{kinds[i]}:"
        room = max(4, width - len(head))
        order = {t: p for p, t in enumerate(tokens[i])}
        shared = len(long) if len(long) > 1 else len(long) + 1  # with one long name every token tells it apart
        candidates = sorted((t for t in tokens[i] if freq[t] < shared), key=lambda t: (freq[t], order[t]))
        chosen: list[str] = []
        for t in candidates or tokens[i]:
            # a bare number reads better with the word before it ("conv2d_3", not "3")
            group = [tokens[i][order[t] - 1], t] if t.isdigit() and order[t] > 0 else [t]
            group = [g for g in group if g not in chosen]
            if chosen and sum(len(c) + 1 for c in chosen + group) - 1 > room:
                continue
            chosen.extend(g[:room] for g in group)
        labels[i] = head + "_".join(sorted(chosen, key=order.get))
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if label in seen:  # a short name equal to another's label: the index tells them apart
            labels[i] = f"{i}:{label}"
        seen.add(labels[i])
    return labels
