"""A tqdm progress bar on stderr as a ``progress(done, total)`` callback (score, compare)."""

from __future__ import annotations

import sys


def progress_bar(enabled: bool, label: str):
    """``(progress, close)``: a ``progress(done, total)`` callback drawing a tqdm bar labelled ``label`` on stderr
    and the function that closes it; ``(None, a no-op)`` when not ``enabled``."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = None

    def update(done, total):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="img", file=sys.stderr, leave=False)
        bar.update(done - bar.n)

    return update, (lambda: bar.close() if bar is not None else None)
