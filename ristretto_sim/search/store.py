"""Saving finished evaluations so an interrupted search resumes where it stopped.

``ScoreStore`` maps a plan's key (its canonical YAML, the arithmetic and the scoring setup, hashed) to the
``Evaluation`` measured for it, and rewrites its JSON file atomically after every new evaluation. The file also
records the search configuration; a store opened with a different configuration starts empty (and overwrites the
file), so a resumed run never mixes results of different setups. ``ScoreStore(None)`` keeps results in memory only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ristretto_sim.search.evaluate import Evaluation

STATE_VERSION = 1


def plan_key(plan, *extra) -> str:
    """A stable key for ``plan`` (None: float) and any extra setup values."""
    text = "float" if plan is None else plan.to_yaml()
    h = hashlib.sha256()
    h.update(text.encode())
    for e in extra:
        h.update(b"\0" + str(e).encode())
    return h.hexdigest()[:32]


class ScoreStore:
    """Finished evaluations, optionally persisted to ``path``.

    Parameters
    ----------
    path : str or os.PathLike or None
        The state file (JSON). None: memory only.
    config : dict
        JSON-able description of the search; results saved under another configuration are discarded.
    """

    def __init__(self, path=None, config: dict | None = None):
        self.path = None if path is None else Path(path)
        self.config = json.loads(json.dumps(config or {}, sort_keys=True))
        self.results: dict[str, Evaluation] = {}
        self.resumed = 0
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("version") == STATE_VERSION and data.get("config") == self.config:
                for key, v in data.get("results", {}).items():
                    self.results[key] = Evaluation(v["accuracy"], v.get("overflows", {}), v.get("saturations", {}),
                                                   v.get("seconds", 0.0))
                self.resumed = len(self.results)

    def __contains__(self, key: str) -> bool:
        return key in self.results

    def get(self, key: str) -> Evaluation | None:
        return self.results.get(key)

    def put(self, key: str, evaluation: Evaluation) -> None:
        """Record ``evaluation`` and rewrite the state file."""
        self.results[key] = evaluation
        if self.path is None:
            return
        data = {
            "version": STATE_VERSION,
            "config": self.config,
            "results": {
                k: {"accuracy": e.accuracy, "overflows": dict(e.overflows), "saturations": dict(e.saturations),
                    "seconds": e.seconds}
                for k, e in self.results.items()
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """Delete the state file (after a finished run)."""
        if self.path is not None and self.path.is_file():
            self.path.unlink()
