"""Quantized weights as integer codes: ``quantized`` (each tensor's codes and format), ``packed`` (the
``RSWPACK1`` file), ``c_header`` (the same bitstreams as C arrays)."""
