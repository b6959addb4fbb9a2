"""SCALE-Sim ``.cfg`` files, read into an ``AcceleratorConfig`` (``reference/systolic-timing.md`` §3.1).

SCALE-Sim's word is one byte, so ``*SramSzkB`` KB are ``1024 * KB`` bytes here, and its bandwidths (words per
cycle) are bytes per cycle. ``InterfaceBandwidth: CALC`` means unlimited bandwidth (SCALE-Sim never stalls in
CALC mode and reports the bandwidth it would need). ``USER`` reads the per-stream DRAM bandwidths where
SCALE-Sim reads them: ``[layout] IfmapSRAMBankBandwidth`` and ``FilterSRAMBankBandwidth`` for reads and
``[architecture_presets] Bandwidth`` (first entry) for ofmap writes. Our DRAM is one shared channel, so its
bandwidth is the sum of the three (SCALE-Sim gives each stream its own), with SCALE-Sim's DRAM latency of 1
cycle. Keys SCALE-Sim requires but that do not affect compute (offsets, request buffers, layouts, Ramulator)
are accepted and ignored; sparsity must be off.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig, DRAMConfig, PEConfig


def _get(cp: configparser.ConfigParser, section: str, key: str, where: str, default=None) -> str:
    if cp.has_option(section, key):
        return cp.get(section, key).strip().strip('"').strip()
    if default is not None:
        return default
    raise ConfigError(f"{where}: missing [{section}] {key}")


def _int(cp, section, key, where, default=None, minimum=1) -> int:
    text = _get(cp, section, key, where, None if default is None else str(default))
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{where}: [{section}] {key}={text!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{where}: [{section}] {key}={value} must be >= {minimum}")
    return value


def read_scalesim_cfg(path: str | Path, *, word_bits: int = 64) -> AcceleratorConfig:
    """Read a SCALE-Sim ``.cfg`` file into an ``AcceleratorConfig`` (int8 PE, 32-bit accumulator, 1 GHz).

    Parameters
    ----------
    path : str or Path
        The ``.cfg`` file (``key: value`` or ``key = value``).
    word_bits : int
        SRAM port width given to the three buffers (SCALE-Sim has none; it only matters for energy).

    Raises
    ------
    ConfigError
        Naming the file and the missing or malformed key.
    """
    path = Path(path)
    where = str(path)
    cp = configparser.ConfigParser()
    try:
        cp.read_string(path.read_text(), source=where)
    except configparser.Error as exc:
        raise ConfigError(f"{where}: not a valid SCALE-Sim config: {str(exc).splitlines()[0]}") from None
    arch = "architecture_presets"
    if not cp.has_section(arch):
        raise ConfigError(f"{where}: missing section [{arch}]")
    rows = _int(cp, arch, "ArrayHeight", where)
    cols = _int(cp, arch, "ArrayWidth", where)
    dataflow = _get(cp, arch, "Dataflow", where).lower()
    if dataflow not in ("os", "ws", "is"):
        raise ConfigError(f"{where}: [{arch}] Dataflow={dataflow!r} must be os, ws or is")
    sizes = {b: _int(cp, arch, f"{b}SramSzkB", where) * 1024 for b in ("Ifmap", "Filter", "Ofmap")}
    mode = _get(cp, "run_presets", "InterfaceBandwidth", where, "CALC").upper()
    if mode == "CALC":
        dram = DRAMConfig(None, 0)
    elif mode == "USER":
        ifmap_bw = _int(cp, "layout", "IfmapSRAMBankBandwidth", where)
        filter_bw = _int(cp, "layout", "FilterSRAMBankBandwidth", where)
        text = _get(cp, arch, "Bandwidth", where)
        try:
            ofmap_bw = int(text.split(",")[0])
        except ValueError:
            raise ConfigError(
                f"{where}: [{arch}] Bandwidth={text!r} must be a comma list of integers"
            ) from None
        if ofmap_bw < 1:
            raise ConfigError(f"{where}: [{arch}] Bandwidth={ofmap_bw} must be >= 1")
        dram = DRAMConfig(float(ifmap_bw + filter_bw + ofmap_bw), 1)
    else:
        raise ConfigError(f"{where}: [run_presets] InterfaceBandwidth={mode!r} must be CALC or USER")
    if _get(cp, "sparsity", "SparsitySupport", where, "false").lower() == "true":
        raise ConfigError(f"{where}: [sparsity] SparsitySupport=true is not supported (dense layers only)")
    name = _get(cp, "general", "run_name", where, path.stem)
    return AcceleratorConfig(
        rows,
        cols,
        dataflow,
        clock_mhz=1000.0,
        pe=PEConfig("fixed_mac", "int8", "int8", "int32"),
        ifmap=BufferConfig(sizes["Ifmap"], word_bits),
        filter=BufferConfig(sizes["Filter"], word_bits),
        ofmap=BufferConfig(sizes["Ofmap"], word_bits),
        dram=dram,
        name=name,
        source=f"SCALE-Sim config {path.name} ({mode} bandwidth)",
    )


def write_scalesim_cfg(config: AcceleratorConfig, path: str | Path, *, run_name: str = "ristretto") -> None:
    """Write ``config`` as a SCALE-Sim 3.0 ``.cfg`` (CALC mode; sizes in KB of 1-byte words)."""

    def kb(buf: BufferConfig) -> int:
        if buf.capacity_bytes % 1024:
            raise ValueError(f"capacity_bytes={buf.capacity_bytes} is not a whole number of KB for SCALE-Sim")
        return buf.capacity_bytes // 1024

    text = f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {config.rows}
ArrayWidth:     {config.cols}
IfmapSramSzkB:    {kb(config.ifmap)}
FilterSramSzkB:   {kb(config.filter)}
OfmapSramSzkB:    {kb(config.ofmap)}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {config.dataflow.value}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""
    Path(path).write_text(text)
