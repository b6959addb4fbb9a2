"""Saving finished evaluations so an interrupted search resumes where it stopped, and never mixes runs.

``ScoreStore`` maps a plan's key (its canonical YAML, hashed) to the ``Evaluation`` measured for it, and rewrites
its JSON file atomically after every new evaluation. The file also records the run's key: what every score in it
depends on besides the plan (``fingerprint.run_key``: network, weights, data, preprocessing, options, tool
version), part by part. A store opened with another key, an older file format or an unreadable file starts empty
(and overwrites the file at its first evaluation), and says why in ``ResumeState``: which parts of the key differ.
``ScoreStore(None)`` keeps results in memory only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.search.evaluate import Evaluation
from ristretto_sim.search.fingerprint import STATE_FORMAT, digest


def plan_key(plan, *extra) -> str:
    """A stable key for ``plan`` (None: float) and any extra setup values."""
    text = "float" if plan is None else plan.to_yaml()
    h = hashlib.sha256()
    h.update(text.encode())
    for e in extra:
        h.update(b"\0" + str(e).encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class ResumeState:
    """What became of a state file when a run opened it.

    Attributes
    ----------
    path : str or None
        The state file (None: memory only).
    saved : int
        Finished scores found under the run's key (0 when the file was absent or discarded).
    reused : int
        How many of them the run used instead of rescoring.
    discarded : int
        Scores in the file that were not used because it was written for another run.
    changed : tuple of str
        The key's parts that differ from the file's (e.g. ``("weights",)``), in the key's order.
    reason : str
        Why the file was not used ("" when it was used or absent): ``"weights changed"``, ``"written in state
        format 1 (this version writes 2)"``, ``"unreadable (...)"``.
    """

    path: str | None = None
    saved: int = 0
    reused: int = 0
    discarded: int = 0
    changed: tuple[str, ...] = ()
    reason: str = ""

    @property
    def started_afresh(self) -> bool:
        """A state file existed but was not used."""
        return bool(self.reason)


def _key_parts(key: Mapping | None) -> dict[str, str]:
    """``{part: digest}``; string values are taken as digests (or short descriptions), others are hashed."""
    return {str(k): v if isinstance(v, str) else digest(v) for k, v in dict(key or {}).items()}


def _evaluation(v: Mapping) -> Evaluation:
    return Evaluation(v["accuracy"], v.get("overflows", {}), v.get("saturations", {}), v.get("seconds", 0.0))


class ScoreStore:
    """Finished evaluations, optionally persisted to ``path``.

    Parameters
    ----------
    path : str or os.PathLike or None
        The state file (JSON). None: memory only.
    key : mapping of str to str or JSON-able, optional
        The run's key by part (``fingerprint.run_key``); results saved under another key are discarded.
    """

    def __init__(self, path=None, key: Mapping | None = None):
        self.path = None if path is None else Path(path)
        self.key = _key_parts(key)
        self.results: dict[str, Evaluation] = {}
        self._discarded, self._changed, self._reason = 0, (), ""
        if self.path is not None and self.path.is_file():
            self._load()
        self._saved = frozenset(self.results)
        self._reused: set[str] = set()
        self.resumed = len(self.results)

    @property
    def reused(self) -> int:
        """Saved scores used so far (each counted once)."""
        return len(self._reused)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self._reason = f"is unreadable ({exc})"
            return
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict):
            self._reason = "is not a quantize state file"
            return
        if data.get("version") != STATE_FORMAT or not isinstance(data.get("key"), dict):
            self._discarded = len(results)
            self._reason = f"was written in state format {data.get('version')} (this version writes {STATE_FORMAT})"
            return
        saved = data["key"]
        changed = tuple(p for p in dict.fromkeys([*self.key, *saved]) if saved.get(p) != self.key.get(p))
        if changed:
            self._discarded, self._changed = len(results), changed
            self._reason = ", ".join(changed) + " changed"
            return
        try:
            self.results = {str(k): _evaluation(v) for k, v in results.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.results = {}
            self._reason = f"holds a malformed score ({type(exc).__name__}: {exc})"

    def state(self) -> ResumeState:
        """What became of the state file so far (``ResumeState``)."""
        return ResumeState(None if self.path is None else str(self.path), self.resumed, self.reused,
                           self._discarded, self._changed, self._reason)

    def __contains__(self, key: str) -> bool:
        return key in self.results

    def get(self, key: str) -> Evaluation | None:
        return self.results.get(key)

    def reuse(self, key: str) -> Evaluation | None:
        """The evaluation of ``key`` (saved, or recorded earlier in this run), or None; a saved one counts as
        reused (``ResumeState.reused``)."""
        if key in self._saved:
            self._reused.add(key)
        return self.results.get(key)

    def put(self, key: str, evaluation: Evaluation) -> None:
        """Record ``evaluation`` and rewrite the state file."""
        self.results[key] = evaluation
        if self.path is None:
            return
        data = {
            "version": STATE_FORMAT,
            "key": self.key,
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
