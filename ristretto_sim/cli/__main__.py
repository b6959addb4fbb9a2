"""``python -m ristretto_sim.cli``."""

from ristretto_sim.cli import entry

entry()
