"""Tests of ristretto_sim.rtl.synth."""
