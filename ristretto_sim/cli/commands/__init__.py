"""Subcommands of ``ristretto-sim``; every public module here is one command (see ``ristretto_sim.cli``)."""
