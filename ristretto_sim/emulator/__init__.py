"""Bit-accurate tensor arithmetic given formats: what fixed-point, minifloat and shift-and-add hardware
computes."""
