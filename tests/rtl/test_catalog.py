"""The checked-in hdl/ catalogue: regenerating it gives the same files (the generator's version line aside), and
every checked-in testbench passes under Icarus Verilog from the checked-in files alone."""

from pathlib import Path

import pytest

from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.catalog import ENTRIES, write_catalog
from ristretto_sim.rtl.export import without_version

HDL = Path(__file__).resolve().parents[2] / "hdl"


def test_regenerated_catalogue_is_checked_in(tmp_path):
    written = write_catalog(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    on_disk = {p.relative_to(HDL).as_posix() for p in HDL.rglob("*") if p.is_file() and p.suffix in (".v", ".hex")}
    assert names == on_disk, "regenerate with: python -m ristretto_sim.rtl.catalog hdl"
    for rel in sorted(names):
        new, old = (tmp_path / rel).read_text(), (HDL / rel).read_text()
        assert without_version(new) == without_version(old), f"{rel} differs from the regenerated file"


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
@pytest.mark.parametrize("name", [e.name for e in ENTRIES])
def test_checked_in_testbench_passes(name, tmp_path):
    tb_dir = HDL / "tb" / name
    for p in tb_dir.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    r = cosim.run_icarus(tmp_path, tmp_path / "tb.v", [HDL / f"{name}.v"])
    assert r.passed, r.mismatches
