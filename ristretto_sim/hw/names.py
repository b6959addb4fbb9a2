"""Short, unique, readable layer labels for tables and plots; reports keep the full names (CSV, JSON).

A name of at most ``width`` characters is its own label. A longer one (a converted model's 200-character
TFLite name) becomes ``<index>:<kind>:<part>``: its position in the network, its kind (``conv``, ``gemm``,
``max_pool``, ...) and the part of the name that tells it from the others. The part is chosen from the name's
path segments (split at ``/ ; : #`` and spaces, so ``conv2d_3`` and ``dense_1`` stay whole): of the segments
fewest other long names hold (none that all hold), as many as fit, in their order in the name. When no
segment tells the name apart, the finer tokens (split also at ``. _ -``) are tried the same way (a bare number
with the word before it).
The index makes every label unique, so no two rows ever print the same.
"""

from __future__ import annotations

import re

_SEGMENTS = re.compile(r"[/;:#\s]+")
_TOKENS = re.compile(r"[/;:#._\-\s]+")


def _split(pattern: re.Pattern, name: str) -> list[str]:
    return list(dict.fromkeys(t for t in pattern.split(name) if t))


def _distinguishing(tokens: dict[int, list[str]], i: int, n_long: int) -> list[str]:
    """The tokens of name ``i`` that the fewest long names hold (none that all hold), by position."""
    counts = {t: sum(t in tokens[j] for j in tokens) for t in tokens[i]}
    shared = n_long if n_long > 1 else n_long + 1  # with one long name every token tells it apart
    order = {t: p for p, t in enumerate(tokens[i])}
    rare = sorted((t for t in tokens[i] if counts[t] < shared), key=lambda t: (counts[t], order[t]))
    # only the rarest: a token more names hold ("Relu", "#act") is noise beside the one that tells the layer apart
    return [t for t in rare if counts[t] == counts[rare[0]]]


def _fit(tokens: list[str], candidates: list[str], room: int) -> str:
    """As many ``candidates`` as fit ``room`` characters joined by ``_``, in their order in ``tokens``."""
    order = {t: p for p, t in enumerate(tokens)}
    chosen: list[str] = []
    for t in candidates:
        # a bare number reads better with the word before it ("conv2d_3", not "3")
        group = [tokens[order[t] - 1], t] if t.isdigit() and order[t] > 0 else [t]
        group = [g for g in group if g not in chosen]
        if chosen and sum(len(c) + 1 for c in chosen + group) - 1 > room:
            continue
        chosen.extend(g[:room] for g in group)
    return "_".join(sorted(chosen, key=order.get))


def short_labels(names, kinds, width: int = 24) -> list[str]:
    """One label per layer (module docstring); ``names`` and ``kinds`` in network order."""
    names, kinds = list(names), list(kinds)
    if len(names) != len(kinds):
        raise ValueError(f"names ({len(names)}) and kinds ({len(kinds)}) must have equal lengths")
    long = [i for i, n in enumerate(names) if len(n) > width]
    segments = {i: _split(_SEGMENTS, names[i]) for i in long}
    tokens = {i: _split(_TOKENS, names[i]) for i in long}
    labels = list(names)
    for i in long:
        head = f"{i}:{kinds[i]}:"
        room = max(4, width - len(head))
        candidates = _distinguishing(segments, i, len(long))
        if candidates:
            labels[i] = head + _fit(segments[i], candidates, room)
        else:
            labels[i] = head + _fit(tokens[i], _distinguishing(tokens, i, len(long)) or tokens[i], room)
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if label in seen:  # a short name equal to another's label: the index tells them apart
            labels[i] = f"{i}:{label}"
        seen.add(labels[i])
    return labels
