"""Copy the top-level ``models/`` and ``hdl/`` folders into the installed package as ``ristretto_sim/_assets``.

All metadata lives in ``pyproject.toml``; this file only adds the asset copy to ``build_py``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithAssets(build_py):
    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        for folder in ("models", "hdl"):
            src = here / folder
            if src.is_dir():
                dst = Path(self.build_lib) / "ristretto_sim" / "_assets" / folder
                shutil.copytree(src, dst, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithAssets})
