"""Running a network: float32, ``exact`` and ``ristretto`` modes, scoring, mode comparison, calibration.

``executor`` (``Executor``, the one executor: every mode, per-layer records, the prefix cache; ``run_network``,
``run``, ``run_float``), ``float_ops`` (the float arithmetic of every layer type, registered by type), ``exact_ops``
(exact mode's integer average pooling, Add and Concat), ``records`` (``LayerRecord``, ``RunResult``),
``lifetimes`` (when a tensor can be dropped), ``prefix_cache`` (the bounded snapshot store), ``scoring``
(top-1/top-5/PSNR), ``compare`` (float vs ristretto vs exact per layer), ``calibrate`` (a first dynamic fixed
point plan). Nothing here reads or writes model files (that is ``io``).
"""
