"""Running a network: float32, ``exact`` and ``ristretto`` modes, scoring, mode comparison, calibration.

``kernels`` (NumPy float kernels), ``float_runner`` (float32 execution), ``runner`` (``run_network``: float,
exact and ristretto modes with per-layer records), ``ristretto_exec`` (``PlanExecutor``, the search's executor with
its prefix cache), ``scoring`` (top-1/top-5/PSNR), ``compare`` (float vs ristretto vs exact per layer),
``calibrate`` (a first dynamic fixed point plan). Nothing here reads or writes model files (that is ``io``).
"""
