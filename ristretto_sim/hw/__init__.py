"""The accelerator model: ``AcceleratorConfig``, layer mapping, SimPy cycle model, energy and area."""
