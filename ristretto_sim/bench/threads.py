"""BLAS thread control for the benchmarks: both sides of a ratio run with the same number of BLAS threads."""

from __future__ import annotations

import contextlib


def blas_limit(threads: int):
    """``(context, info)``: a context limiting BLAS to ``threads`` threads (threadpoolctl) and threadpoolctl's
    ``threadpool_info``; ``(nullcontext, None)`` when threadpoolctl is missing (the caller notes it)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), None
    return threadpool_limits(limits=threads, user_api="blas"), threadpool_info


def blas_libraries(info) -> list[dict] | None:
    """The BLAS libraries in use and their thread counts (call inside the limiting context)."""
    if info is None:
        return None
    return [{"library": d.get("internal_api"), "num_threads": d.get("num_threads")}
            for d in info() if d.get("user_api") == "blas"]
