"""Amaranth RTL: the hardware side of each emulator datapath, its Verilog export, simulation and synthesis."""
