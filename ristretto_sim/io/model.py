"""``load_model``: a network from a model file, chosen by its type (ONNX, TFLite, Caffe prototxt + caffemodel), a folder
holding one ONNX file, or the name of a bundled model (a folder of the repository's ``models/``)."""

from __future__ import annotations

from pathlib import Path

from ristretto_sim.assets import asset_path
from ristretto_sim.errors import ModelError


def bundled_model(name: str) -> Path | None:
    """The folder of the bundled model ``name`` (``"lenet"``, ...), or None when ``name`` is not one (a path-like
    name never is)."""
    if not name or any(c in name for c in "/\\.") or name.startswith("~"):
        return None
    try:
        return asset_path("models", name)
    except FileNotFoundError:
        return None


def bundled_model_names() -> list[str]:
    """The names of the bundled models, sorted (empty when none is installed)."""
    try:
        return sorted(d.name for d in asset_path("models").iterdir() if d.is_dir())
    except FileNotFoundError:
        return []


def load_model(path, weights=None):
    """Load a network: ONNX, Caffe prototxt (+ caffemodel), a folder holding one ONNX file, or a bundled name.

    Parameters
    ----------
    path : str or os.PathLike
        ``model.onnx``; ``net.prototxt`` (with ``weights``); a directory with one ``.onnx``; or the name of a
        bundled model (a folder of ``models/``), e.g. ``"lenet"``.
    weights : str or os.PathLike, optional
        The ``.caffemodel`` of a prototxt.

    Raises
    ------
    ModelError
        Missing file, unknown format, or anything the importers reject (the message names the file).
    """
    p = Path(path)
    if not p.exists():
        bundled = bundled_model(str(path))
        if bundled is None:
            raise ModelError(f"model {str(path)!r} not found: not a file, and not a bundled model "
                             f"({', '.join(bundled_model_names()) or 'none installed'})")
        p = bundled
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) != 1:
            raise ModelError(f"{p}: expected one .onnx file in the model folder, found {len(found)}")
        p = found[0]
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        if weights is not None:
            raise ValueError(f"weights={str(weights)!r}: an ONNX model carries its own weights")
        from ristretto_sim.io.onnx.importer import load_onnx

        return load_onnx(p)
    if suffix == ".tflite":
        if weights is not None:
            raise ValueError(f"weights={str(weights)!r}: a TFLite model carries its own weights")
        from ristretto_sim.io.tflite.importer import load_tflite

        return load_tflite(p)
    if suffix in (".prototxt", ".pbtxt"):
        from ristretto_sim.io.caffe.importer import load_caffe

        if weights is not None and not Path(weights).is_file():
            raise ModelError(f"Caffe weights {weights} do not exist")
        return load_caffe(p, weights)
    if suffix == ".caffemodel":
        raise ModelError(f"{p}: give the prototxt as the model and the .caffemodel as weights")
    raise ModelError(f"{p}: unknown model format {suffix or '(no extension)'!r}; expected .onnx, .tflite or "
                     ".prototxt (+ .caffemodel)")
