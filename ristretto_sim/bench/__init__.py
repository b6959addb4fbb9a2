"""Benchmarks run by ``ristretto-sim bench``: side-by-side timings written as JSON."""
