"""Where bundled files (``models/``, ``hdl/``) live, for editable and regular installs alike.

A regular ``pip install .`` copies the repository's top-level ``models/`` and ``hdl/`` folders into
``ristretto_sim/_assets/`` (see ``setup.py``); an editable install reads them from the repository itself.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    """Return the path of a bundled file or folder, e.g. ``asset_path("models", "lenet")``.

    Raises
    ------
    FileNotFoundError
        If the asset is in neither the installed package nor the source checkout.
    """
    for root in (_PACKAGE / "_assets", _PACKAGE.parent):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"bundled file {'/'.join(parts)!r} not found in {_PACKAGE / '_assets'} or {_PACKAGE.parent}; "
        "reinstall ristretto-sim (pip install .) from a complete checkout"
    )
