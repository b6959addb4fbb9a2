"""SCALE-Sim topology CSV files, read into layer shapes (``reference/systolic-timing.md`` §3.2, §3.3).

Conv form: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,
Strides,``; GEMM form: ``Layer Name, M, N, K,``. The form is recognised from the header (or forced with
``gemm=``). As in SCALE-Sim the first line is a header, blank lines are skipped, one stride serves both axes,
there is no padding and the batch is 1; a trailing comma is optional here. A layer whose name contains ``DP``
is depthwise: SCALE-Sim runs it as ``Channels`` separate single-channel layers with ``Num Filter`` filters
each; we read it as one grouped convolution with the same GEMMs (``groups = Channels``), or, in
``"scalesim"`` mode, as SCALE-Sim's separate layers named ``<name>Channel_<i>``. SCALE-Sim sizes outputs as
``E = ceil((H - F + s) / s)``, one more than a valid convolution when ``s`` does not divide ``H - F``;
``"scalesim"`` mode does the same (``ConvShape.ceil_mode``). A GEMM row ``M, N, K`` is a ``GemmShape``;
SCALE-Sim runs it as a conv of H = M, W = K, a 1 x K filter, C = 1, which gives the same operand matrices.
"""

from __future__ import annotations

from pathlib import Path

from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.layers import ConvShape, GemmShape

_CONV_FIELDS = (
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
_GEMM_FIELDS = ("M", "N", "K")


def _fields(line: str) -> list[str]:
    parts = [p.strip() for p in line.strip().split(",")]
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _is_gemm_header(header: list[str]) -> bool | None:
    names = [h.lower().replace(" ", "") for h in header]
    if names[1:4] == ["m", "n", "k"]:
        return True
    if any("ifmap" in n or "filter" in n for n in names):
        return False
    return None


def read_topology(path: str | Path, *, gemm: bool | None = None, mode: str = "valid") -> list:
    """Read a SCALE-Sim topology CSV into a list of ``ConvShape`` / ``GemmShape``.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    gemm : bool, optional
        Force the GEMM (True) or conv (False) form; by default the header decides.
    mode : {"valid", "same", "scalesim"}
        ``"valid"``: no padding, output size rounded down (a true convolution); ``"same"``: pads
        ``(filter - 1) // 2`` on each side, the usual intent of CNN topologies whose sizes were written for
        padded layers; ``"scalesim"``: exactly as SCALE-Sim takes the rows (no padding, output size rounded
        up, ``DP`` layers expanded).

    Raises
    ------
    ConfigError
        Naming the file, line and field of a malformed row (missing or non-integer field, a filter larger
        than its input, an unsupported sparsity ratio).
    """
    path = Path(path)
    if mode not in ("valid", "same", "scalesim"):
        raise ValueError(f"mode={mode!r} must be 'valid', 'same' or 'scalesim'")
    lines = path.read_text().splitlines()
    if not lines:
        raise ConfigError(f"{path}: empty topology file (expected a header line and one row per layer)")
    header = _fields(lines[0])
    form = gemm if gemm is not None else _is_gemm_header(header)
    layers: list = []
    for lineno, line in enumerate(lines[1:], start=2):
        row = _fields(line)
        if not row:
            continue
        where = f"{path}:{lineno}"
        if form is None:
            form = len(row) <= 5
        names = _GEMM_FIELDS if form else _CONV_FIELDS
        if len(row) < 1 + len(names):
            raise ConfigError(
                f"{where}: expected {1 + len(names)} fields (Layer name, {', '.join(names)}), "
                f"got {len(row)}: {line.strip()!r}"
            )
        values = []
        for name, text in zip(names, row[1 : 1 + len(names)], strict=True):
            try:
                v = int(text)
            except ValueError:
                raise ConfigError(f"{where}: {name}={text!r} is not an integer") from None
            if v < 1:
                raise ConfigError(f"{where}: {name}={v} must be >= 1")
            values.append(v)
        extra = row[1 + len(names) :]
        if extra and extra[0].replace(" ", "") not in ("1:1", ""):
            raise ConfigError(
                f"{where}: sparsity ratio {extra[0]!r} is not supported (only dense layers, 1:1)"
            )
        name = row[0] or f"layer{len(layers)}"
        if form:
            m, n, k = values
            layers.append(GemmShape(name, m, n, k))
            continue
        h, w, fh, fw, c, n, s = values
        for field, f_size, size in (("Filter Height", fh, h), ("Filter Width", fw, w)):
            if mode != "same" and f_size > size:
                raise ConfigError(
                    f"{where}: {field}={f_size} is larger than the input "
                    f"({'IFMAP Height' if field == 'Filter Height' else 'IFMAP Width'}={size}) "
                    f"in layer {name!r}"
                )
        pad = ((fh - 1) // 2, (fw - 1) // 2) if mode == "same" else 0
        ceil = mode == "scalesim"
        kw = {"kernel": (fh, fw), "stride": s, "padding": pad, "ceil_mode": ceil}
        try:
            if "DP" in name and mode == "scalesim":
                layers.extend(ConvShape(f"{name}Channel_{i}", h, w, 1, n, **kw) for i in range(c))
            elif "DP" in name:
                layers.append(ConvShape(name, h, w, c, c * n, groups=c, **kw))
            else:
                layers.append(ConvShape(name, h, w, c, n, **kw))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if not layers:
        raise ConfigError(f"{path}: no layers (only a header line)")
    names_seen: set[str] = set()
    for layer in layers:
        if layer.name in names_seen:
            raise ConfigError(f"{path}: layer name {layer.name!r} appears twice; layer names must be unique")
        names_seen.add(layer.name)
    return layers


def write_topology(layers, path: str | Path) -> None:
    """Write ``ConvShape`` (unpadded, batch 1, equal strides, no groups) or ``GemmShape`` layers as a
    SCALE-Sim CSV.

    All layers must have the same form. Useful to run SCALE-Sim on the same workload.
    """
    layers = list(layers)
    if all(isinstance(x, GemmShape) for x in layers):
        rows = ["Layer Name, M, N, K,"] + [f"{x.name}, {x.m}, {x.n}, {x.k}," for x in layers]
    elif all(isinstance(x, ConvShape) for x in layers):
        rows = [
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
            "Strides,"
        ]
        for x in layers:
            if (
                x.padding != (0, 0, 0, 0)
                or x.batch != 1
                or x.groups != 1
                or x.stride[0] != x.stride[1]
                or x.dilation != (1, 1)
            ):
                raise ValueError(
                    f"layer {x.name!r} cannot be written as a SCALE-Sim row (padding, batch, groups, "
                    "dilation or unequal strides)"
                )
            rows.append(f"{x.name}, {x.h}, {x.w}, {x.kernel[0]}, {x.kernel[1]}, {x.c}, {x.n}, {x.stride[0]},")
    else:
        raise ValueError("write_topology needs all ConvShape or all GemmShape layers")
    Path(path).write_text("\n".join(rows) + "\n")
