"""The joint search as an Optuna study: storage, resume, seeding, workers, and the trial objective.

* Storage: ``sqlite:///OUT/study.db`` by default, through ``optuna.storages.RDBStorage`` with heartbeats (a trial
  left RUNNING by a killed worker is failed once its heartbeat is ``GRACE_S`` old and retried,
  ``RetryFailedTrialCallback``); ``workers > 1`` without a storage URL uses Optuna's journal file
  (``OUT/study.journal``: SQLite is not meant for parallel writers); any RDB URL (``postgresql://...``) lets
  workers on several machines share one study.
* A study that exists already is an error unless ``resume``; a resumed study must have been made with the same
  space and objectives (stored in its user attributes).
* ``trials`` counts COMPLETE trials, those of earlier runs included (``MaxTrialsCallback``): a resumed run only
  adds what is missing. Points that build no candidate (``CandidateError``) end PRUNED with their reason and do
  not count.
* Results live in the storage: every trial carries the hash of what it scored (``SearchProblem.key``) and its
  ``Measurement`` as user attributes, so an equal candidate (e.g. two parameter sets that build the same plan and
  accelerator) is scored once; the test-split re-scores of front points are study attributes ``test:KEY``.
* The references, uniform 16-bit, uniform int8 (32-bit accumulators) and Ristretto's greedy result (with its
  margin back-off), are measured on both splits; those that are points of the space are the first trials (the
  initial population), enqueued when the study is created; one outside the space (e.g. a greedy result that fell
  back to 32-bit activations) is a reference only, and ``JointSearch.outside`` says why.

Nothing here prints: ``progress(SearchProgress)`` is called after every trial of this process.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ristretto_sim.errors import ConfigError, PlanError, RistrettoSimError
from ristretto_sim.search.joint.candidate import Candidate, CandidateError
from ristretto_sim.search.joint.objectives import DEFAULT_OBJECTIVES, Constraints, Measurement, Objective, objectives
from ristretto_sim.search.joint.pareto import hypervolume, non_dominated
from ristretto_sim.search.joint.problem import SearchProblem
from ristretto_sim.search.joint.space import SearchSpace

#: seconds between a running trial's heartbeats, and the age at which a silent trial is stale
HEARTBEAT_S = 10
GRACE_S = 30
#: a stale trial is retried this many times
MAX_RETRY = 2
#: finished trials of one process (any state) after which it stops, so that a space whose points are all
#: infeasible cannot loop for ever: this many times the trials asked for, plus a constant
RUNAWAY_FACTOR, RUNAWAY_EXTRA = 10, 100

SAMPLERS = ("nsga2", "tpe", "random", "grid")


class StudyError(ConfigError):
    """The study cannot be opened or continued as asked (exists without resume, another space, ...)."""


@dataclass(frozen=True)
class SearchSettings:
    """How the study runs.

    Parameters
    ----------
    out : path
        Output folder (the default storage lives there).
    trials : int, optional
        COMPLETE trials wanted in the study (default: the grid's size for ``grid``, else 200).
    storage : str, optional
        An Optuna storage URL (default: module docstring).
    study : str
        Study name.
    resume : bool
        Continue an existing study.
    workers : int
        Processes on this machine.
    seed : int
    sampler : {"nsga2", "tpe", "random", "grid"}
    population : int
        NSGA-II population size.
    objectives : tuple of Objective
        Default: ``DEFAULT_OBJECTIVES`` (accuracy, energy).
    constraints : Constraints
    verify_rtl : bool
        After the study, check every front point's layer PEs against the emulator in Amaranth simulation
        (``verification``); ``outputs.write_outputs`` does it and records the results.
    """

    out: Path
    trials: int | None = None
    storage: str | None = None
    study: str = "joint"
    resume: bool = False
    workers: int = 1
    seed: int = 0
    sampler: str = "nsga2"
    population: int = 20
    objectives: tuple[Objective, ...] = field(default_factory=lambda: objectives(DEFAULT_OBJECTIVES))
    constraints: Constraints = field(default_factory=Constraints)
    verify_rtl: bool = False

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"--sampler {self.sampler!r}: known samplers are {', '.join(SAMPLERS)}")
        for name in ("workers", "population"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive integer")
        if self.trials is not None and (isinstance(self.trials, bool) or not isinstance(self.trials, int)
                                        or self.trials < 1):
            raise ValueError(f"trials={self.trials!r} must be a positive integer")
        if not isinstance(self.verify_rtl, bool):
            raise ValueError(f"verify_rtl={self.verify_rtl!r} must be True or False")
        if len(self.objectives) < 2:
            raise ValueError("objectives: give two or more")


@dataclass(frozen=True)
class SearchProgress:
    """After a trial: COMPLETE trials in the study, the target, the feasible front's size and its hypervolume
    (normalised: module ``pareto``, reference point in ``JointSearch.reference_point``)."""

    complete: int
    target: int
    front_size: int
    hypervolume: float
    last: str = ""


class OneLineTrialFailures(logging.Filter):
    """Optuna's warning about a failed trial, in one line: without the traceback it attaches, and not at all for
    a Ctrl-C (the command says it was interrupted; the trial is FAIL in the study and ``--resume`` retries it)."""

    def __init__(self):
        super().__init__()
        self._interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            if record.exc_info[0] is not None and issubclass(record.exc_info[0], KeyboardInterrupt):
                self._interrupted = True
                return False
            record.exc_info, record.exc_text = None, None
        elif self._interrupted and "failed with value" in record.getMessage():
            self._interrupted = False
            return False
        return True


_TRIAL_LOGGER = "optuna.study._optimize"


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logger = logging.getLogger(_TRIAL_LOGGER)
    if not any(isinstance(f, OneLineTrialFailures) for f in logger.filters):
        logger.addFilter(OneLineTrialFailures())
    return optuna


def storage_url(settings: SearchSettings) -> str:
    """The storage the study lives in (module docstring); a journal file is ``journal:PATH``."""
    if settings.storage:
        return settings.storage
    if settings.workers > 1:
        return f"journal:{settings.out / 'study.journal'}"
    return f"sqlite:///{settings.out / 'study.db'}"


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy should read it: a ``postgresql://`` URL without a driver names psycopg2 when psycopg 3
    (SQLAlchemy 2.1's default PostgreSQL driver) is absent and psycopg2 (the ``distributed`` extra) is present;
    every other URL is used as given."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_storage(url: str):
    """An Optuna storage for ``url`` (``journal:PATH`` or an RDB URL, ``sqlalchemy_url``); ``StudyError`` in one
    line when it cannot be opened."""
    optuna = _optuna()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                sqlalchemy_url(url), heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
    except Exception as exc:  # SQLAlchemy's errors (bad URL, unreachable server, missing driver) are many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudyError(f"storage {url}: cannot be opened ({type(exc).__name__}: {first}); check the URL, that "
                         "the server is reachable and its driver installed (PostgreSQL: pip install "
                         "'ristretto-sim[distributed]')") from None


def study_names(storage) -> list[str]:
    return [s.study_name for s in _optuna().study.get_all_study_summaries(storage, include_best_trial=False)]


@dataclass(frozen=True)
class Reference:
    """A named reference candidate (uniform int8, uniform 16-bit, Ristretto greedy) and its figures."""

    name: str
    params: Mapping
    measurement: Measurement
    test_accuracy: float | None = None
    key: str = ""


class JointSearch:
    """The joint search of one problem over one space (module docstring).

    Parameters
    ----------
    problem : SearchProblem
    space : SearchSpace
    settings : SearchSettings
    greedy_margin : float
        Error margin (points) of the Ristretto greedy reference.
    """

    def __init__(self, problem: SearchProblem, space: SearchSpace, settings: SearchSettings, *,
                 greedy_margin: float = 1.0):
        self.problem = problem
        self.settings = settings
        self.types = problem.builder.types
        self.greedy_margin = float(greedy_margin)
        settings.out.mkdir(parents=True, exist_ok=True)
        # an accelerator that asks for synthesis-based area or FPGA resources gets every candidate's PE
        # synthesized on demand into the output folder's own results table
        problem.use_synthesis_table(settings.out / "synth_results.json")
        self.url = storage_url(settings)
        self._check_exists()
        self.greedy_result = problem.greedy(self.greedy_margin, settings.out / "ristretto_greedy.state.json")
        final = self.greedy_result.final_plan
        greedy_widths = {n: (final.layers[n].weights.bits, final.layers[n].inputs.bits) for n in self.types}
        common = {"kind": "fixed", "accumulator.overflow": "saturate", "array.rows": problem.base.rows,
                  "array.cols": problem.base.cols, "array.dataflow": problem.base.dataflow.value}
        seeds = {
            "uniform int8": ({n: (8, 8) for n in self.types}, {**common, "accumulator.bits": 32}),
            "uniform 16-bit": ({n: (16, 16) for n in self.types}, {**common, "accumulator.bits": "exact"}),
            "ristretto greedy": (greedy_widths, {**common, "accumulator.bits": "exact"}),
        }
        # every reference is measured; those that are points of the space also start the first population
        self.reference_params, self.seed_params, self.outside = {}, {}, {}
        for name, (widths, extra) in seeds.items():
            wide = space.with_values({k: v for k, v in extra.items()}, self.types)
            try:
                params = wide.point(widths, self.types, extra)
            except ConfigError as exc:  # the space groups layers the seed gives different widths
                self.outside[name] = str(exc)
                continue
            self.reference_params[name] = params
            missing = space.missing(params, self.types)
            if missing:
                self.outside[name] = f"not a point of the space ({missing})"
            else:
                self.seed_params[name] = params
        self.reference_space = space.with_values({}, self.types)
        for params in self.reference_params.values():
            self.reference_space = self.reference_space.with_values(params, self.types)
        self.space = space
        self.parameters = space.parameters(self.types)
        self._cache: dict[str, Measurement] = {}
        self._baseline = problem.baseline("validation")
        self.study = self._open()
        self.references = self._references()

    # ------------------------------------------------------------------ setup
    def _check_exists(self) -> None:
        """Before any work: the study must exist exactly when resuming."""
        exists = self.settings.study in study_names(open_storage(self.url))
        if exists and not self.settings.resume:
            raise StudyError(f"study {self.settings.study!r} already exists in {self.url}; pass --resume to continue "
                             "it, or choose another --out or --study (nothing was changed)")
        if not exists and self.settings.resume:
            raise StudyError(f"--resume: no study {self.settings.study!r} in {self.url} to continue")

    def _signature(self) -> dict:
        return {"space": self.space.to_dict(), "objectives": [o.name for o in self.settings.objectives],
                "constraints": self.settings.constraints.as_dict(), "model": self.problem.net_key,
                "data": self.problem.data_keys,
                # where the synthesis table lives is not what the study is (its rows are)
                "base": {k: v for k, v in self.problem.base.to_dict().items() if k != "synth_table"}}

    def _sampler(self, seed: int):
        optuna = _optuna()
        s = self.settings

        if s.sampler == "grid":
            return optuna.samplers.GridSampler({k: list(v) for k, v in self.parameters.items()}, seed=seed)
        if s.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if s.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True)
        return optuna.samplers.NSGAIISampler(population_size=s.population, seed=seed)

    def _open(self):
        optuna = _optuna()
        storage = open_storage(self.url)
        directions = ["maximize" if o.maximize else "minimize" for o in self.settings.objectives]
        signature = json.dumps(self._signature(), sort_keys=True)
        if self.settings.resume:
            study = optuna.load_study(study_name=self.settings.study, storage=storage,
                                      sampler=self._sampler(self.settings.seed))
            stored = study.user_attrs.get("signature")
            if stored != signature:
                old, new = json.loads(stored or "{}"), json.loads(signature)
                parts = sorted(k for k in new if old.get(k) != new.get(k))
                raise StudyError(f"study {self.settings.study!r} in {self.url} was made with another "
                                 f"{', '.join(parts)}; resume it with the same options, or start another --study")
            return study
        study = optuna.create_study(study_name=self.settings.study, storage=storage, directions=directions,
                                    sampler=self._sampler(self.settings.seed))
        study.set_user_attr("signature", signature)
        study.set_user_attr("space", self.space.to_yaml())
        if self.settings.sampler != "grid":  # a grid visits every point, the seeds among them, once
            for params in self.seed_params.values():
                study.enqueue_trial(dict(params), skip_if_exists=True)
        return study

    def _references(self) -> dict[str, Reference]:
        """The reference candidates, measured on both splits once and kept in the study's attributes."""
        out = {}
        for name, params in self.reference_params.items():
            attr = f"reference:{name}"
            stored = self.study.user_attrs.get(attr)
            if stored is None:
                cand = self.problem.builder.build(self.reference_space.resolve(params, self.types))
                m = self.problem.measure(cand, "validation")
                test = self.problem.accuracy(cand, "test")[0]
                stored = {"params": dict(params), "measurement": m.as_dict(), "test_accuracy": test,
                          "key": self.problem.key(cand)}
                self.study.set_user_attr(attr, stored)
            out[name] = Reference(name, stored["params"], Measurement.from_dict(stored["measurement"]),
                                  stored["test_accuracy"], stored["key"])
        if "baseline:test" not in self.study.user_attrs:
            self.study.set_user_attr("baseline:validation", self._baseline)
            self.study.set_user_attr("baseline:test", self.problem.baseline("test"))
        return out

    def baseline(self, split: str = "validation") -> float:
        return float(self.study.user_attrs.get(f"baseline:{split}", self._baseline))

    # ------------------------------------------------------------------ trials
    def candidate(self, params: Mapping) -> Candidate:
        return self.problem.builder.build(self.space.resolve(params, self.types))

    def _cached(self, key: str, study) -> Measurement | None:
        if key not in self._cache and self.settings.workers > 1:
            self._load_cache(study)
        return self._cache.get(key)

    def _load_cache(self, study) -> None:
        optuna = _optuna()
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if "key" in t.user_attrs and "measurement" in t.user_attrs:
                self._cache[t.user_attrs["key"]] = Measurement.from_dict(t.user_attrs["measurement"])

    def objective(self, trial) -> Sequence[float]:
        """The trial objective: suggest every parameter, build, score (or reuse an equal candidate's score)."""
        optuna = _optuna()
        params = {name: trial.suggest_categorical(name, list(values)) for name, values in self.parameters.items()}
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            cand = self.candidate(params)
            key = self.problem.key(cand)
            m = self._cached(key, trial.study)
            trial.set_user_attr("reused", m is not None)
            if m is None:
                m = self.problem.measure(cand, "validation")
                self._cache[key] = m
        except (CandidateError, PlanError) as exc:
            trial.set_user_attr("infeasible", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("key", key)
        trial.set_user_attr("measurement", m.as_dict())
        values = self.settings.constraints.values(m, self._baseline)
        trial.set_user_attr("constraints", values)
        for name, v in zip(("accuracy_drop", "area"), values, strict=True):
            trial.set_constraint(name, v)  # what the samplers read: feasible when every value is <= 0
        return [o.read(m) for o in self.settings.objectives]

    # ------------------------------------------------------------------ front
    def to_minimise(self, values: Sequence[float]) -> tuple[float, ...]:
        return tuple(-v if o.maximize else v for o, v in zip(self.settings.objectives, values, strict=True))

    def reference_point(self) -> tuple[float, ...]:
        """Hypervolume reference: accuracy 0, and for every cost twice the uniform int8 candidate's (costs
        normalised by it), so the figure compares across runs of one problem."""
        int8 = self.references.get("uniform int8")
        return tuple(0.0 if o.maximize else 2.0 * (o.read(int8.measurement) if int8 else 1.0)
                     for o in self.settings.objectives)

    def feasible_trials(self, study=None) -> list:
        optuna = _optuna()
        study = study or self.study
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return [t for t in done if all(c <= 0 for c in t.user_attrs.get("constraints", [0.0]))]

    def front(self, study=None) -> list:
        """The feasible COMPLETE trials no other one dominates (one per distinct objective vector)."""
        trials = self.feasible_trials(study)
        idx = non_dominated([self.to_minimise(t.values) for t in trials])
        return sorted((trials[i] for i in idx), key=lambda t: tuple(t.values))

    def front_hypervolume(self, front) -> float:
        ref = self.to_minimise(self.reference_point())
        return hypervolume([self.to_minimise(t.values) for t in front], ref)

    def test_accuracy(self, trial) -> float:
        """Top-1 of a trial's candidate on the held-out test split (stored as study attribute ``test:KEY``)."""
        key = trial.user_attrs["key"]
        attr = f"test:{key}"
        if attr not in self.study.user_attrs:
            acc = self.problem.accuracy(self.candidate(trial.params), "test")[0]
            self.study.set_user_attr(attr, acc)
            return acc
        return float(self.study.user_attrs[attr])

    def _no_front(self) -> str:
        """Why the study has no feasible COMPLETE trial, in one line: no point of the space builds a candidate
        (with the first reasons), or the constraints rule out every candidate."""
        optuna = _optuna()
        if self.complete() == 0:
            pruned = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))
            reasons = list(dict.fromkeys(t.user_attrs["infeasible"] for t in pruned if "infeasible" in t.user_attrs))
            why = "; ".join(reasons[:2]) + (f"; and {len(reasons) - 2} more reasons" if len(reasons) > 2 else "")
            return (f"no point of the space builds a candidate ({len(pruned)} trials tried"
                    f"{': ' + why if why else ''}); change the space")
        c = self.settings.constraints
        given = [f"--max-drop {c.max_drop_points:g} points" if c.max_drop_points is not None else "",
                 f"--area-budget {c.area_budget_um2:g} um^2" if c.area_budget_um2 is not None else ""]
        return (f"no candidate met the constraints ({', '.join(g for g in given if g)}) in {self.complete()} COMPLETE "
                "trials; relax them (a study keeps its constraints: start another --study or --out) or widen the "
                "space; the study is kept")

    # ------------------------------------------------------------------ running
    def target(self) -> int:
        if self.settings.trials is not None:
            return self.settings.trials
        if self.settings.sampler == "grid":
            return self.space.size(self.types)
        return 200

    def complete(self, study=None) -> int:
        optuna = _optuna()
        return len((study or self.study).get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    def _optimize(self, study, progress: Callable | None) -> None:
        optuna = _optuna()
        target = self.target()
        ran = [0]

        def after(study, trial):
            ran[0] += 1
            if ran[0] >= RUNAWAY_FACTOR * target + RUNAWAY_EXTRA:
                study.stop()
            if progress is not None:
                front = self.front(study)
                progress(SearchProgress(self.complete(study), target, len(front), self.front_hypervolume(front),
                                        trial.state.name))

        if self.complete(study) >= target:
            return
        study.optimize(self.objective, callbacks=[optuna.study.MaxTrialsCallback(target), after],
                       catch=(RistrettoSimError,), gc_after_trial=False)

    def _worker(self, index: int) -> None:  # pragma: no cover - runs in a forked process
        optuna = _optuna()
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        study = optuna.load_study(study_name=self.settings.study, storage=open_storage(self.url),
                                  sampler=self._sampler(self.settings.seed + index))
        self._optimize(study, None)

    def run(self, progress: Callable | None = None):
        """Run until the study holds ``target()`` COMPLETE trials; then re-score the front on the test split.

        Returns the front (Optuna ``FrozenTrial`` objects). ``StudyError`` when no candidate meets the
        constraints."""
        children = []
        if self.settings.workers > 1:
            ctx = multiprocessing.get_context("fork")
            for i in range(1, self.settings.workers):
                p = ctx.Process(target=self._worker, args=(i,), daemon=True)
                p.start()
                children.append(p)
        try:
            self._optimize(self.study, progress)
        finally:
            for p in children:
                p.join()
        front = self.front()
        if not front:
            raise StudyError(self._no_front())
        for t in front:
            self.test_accuracy(t)
        return front
