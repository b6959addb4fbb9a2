"""Ristretto's fine-tuning (reference ``ristretto.md`` §6): train the shadow weights through the quantized forward.

``finetune(network, plan, images, labels, config)`` runs ``config.iterations`` solver steps on mini-batches of
the (preprocessed) training images, each a TRAIN-phase forward of ``train.torch_net.QuantTrainNet`` (weights and
biases quantized with seeded stochastic rounding, activations float unless ``config.quantize_activations``),
straight-through gradients into the full-precision shadow weights, and a solver update (ADAM by default; the
original used ADAM with lr 1e-6, momentum 0.9/0.999, delta 1e-8 over 2000 iterations of 1024 images; the default
here is lr 1e-3 for short CPU runs). Classifiers are trained with softmax cross-entropy on the network's output
(on the Softmax's input when the network ends in one), autoencoders with the mean squared error against their input.
With ``transform`` the images are raw pixels and each batch goes through it as it is drawn (Caffe's TRAIN-phase
data transform: new random crops and mirrors every time an image comes round).

The result holds the network with its weights replaced by the trained shadow weights (what Ristretto's snapshots
held); evaluate it under the same plan with the emulator (``runtime.scoring.score_network``). ``fl`` values are
fixed by the plan and never re-estimated, as in Ristretto. The library never prints: pass ``progress(step,
iterations, loss)`` to follow the run. Torch runs on one CPU thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.emulator import Mode
from ristretto_sim.enums import NamedEnum
from ristretto_sim.graph.layers import Softmax
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan


class Solver(NamedEnum):
    """The optimiser updating the shadow weights: ``ADAM`` (Ristretto's demo solver) or ``SGD`` (with momentum)."""

    ADAM = "adam"
    SGD = "sgd"


def _positive(value, name: str, kind=float):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={value!r} must be a number")
    if kind is int and int(value) != value:
        raise TypeError(f"{name}={value!r} must be an integer")
    if value <= 0:
        raise ValueError(f"{name}={value!r} must be positive")
    return kind(value)


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a fine-tuning run (all keyword-only).

    Parameters
    ----------
    iterations : int
        Solver steps.
    batch_size : int
        Images per step.
    solver : Solver or str
        ``"adam"`` (default) or ``"sgd"``.
    lr : float
        Learning rate (Ristretto's SqueezeNet demo: 1e-6 over 2000 iterations of 1024 images).
    momentum, momentum2, delta : float
        ADAM's beta1, beta2 and epsilon (SGD uses ``momentum``).
    weight_decay : float
        L2 weight decay on the shadow weights (the demo used 2e-4).
    seed : int
        Seeds the batch order and the stochastic rounding keys.
    quantize_activations : bool
        The named extension: also quantize planned layers' inputs and outputs in the training forward.
    mode : emulator.Mode, str or None
        Whose quantizers (default: the plan's mode).
    """

    iterations: int = 200
    batch_size: int = 64
    solver: Solver = Solver.ADAM
    lr: float = 1e-3
    momentum: float = 0.9
    momentum2: float = 0.999
    delta: float = 1e-8
    weight_decay: float = 0.0
    seed: int = 0
    quantize_activations: bool = False
    mode: Mode | None = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "iterations", _positive(self.iterations, "iterations", int))
        object.__setattr__(self, "batch_size", _positive(self.batch_size, "batch_size", int))
        object.__setattr__(self, "solver", Solver.coerce(self.solver, "solver"))
        object.__setattr__(self, "lr", _positive(self.lr, "lr"))
        for name in ("momentum", "momentum2"):
            v = getattr(self, name)
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"{name}={v!r} must be in [0, 1)")
        object.__setattr__(self, "delta", _positive(self.delta, "delta"))
        if float(self.weight_decay) < 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} must be >= 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed={self.seed!r} must be an integer")
        if not isinstance(self.quantize_activations, bool):
            raise TypeError(f"quantize_activations={self.quantize_activations!r} must be True or False")
        if self.mode is not None:
            object.__setattr__(self, "mode", Mode.coerce(self.mode, "mode"))


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """A finished run: the network with the trained shadow weights, the loss of every step, the time taken."""

    network: Network
    losses: tuple[float, ...]
    config: FinetuneConfig
    seconds: float


def _loss_fn(network: Network):
    """``(loss(out, x, y), tensor)``: the loss and the tensor it reads (the logits: a final Softmax's input)."""
    import torch.nn.functional as F

    target = network.outputs[0]
    if network.task == "reconstruction":
        return (lambda out, x, y: F.mse_loss(out, x)), target
    last = network.producer(target)
    if isinstance(last, Softmax):
        target = last.inputs[0]
    return (lambda out, x, y: F.cross_entropy(out.reshape(out.shape[0], -1), y)), target


def finetune(
    network: Network,
    plan: QuantPlan,
    images,
    labels=None,
    config: FinetuneConfig | None = None,
    *,
    transform: Callable[..., np.ndarray] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> FinetuneResult:
    """Fine-tune ``network`` under ``plan`` (module docstring).

    Parameters
    ----------
    network : Network
    plan : QuantPlan
    images : array_like
        Training inputs, NCHW float32, preprocessing applied; with ``transform``, the raw pixels.
    labels : array_like of int, optional
        Class labels (classifiers); ignored for reconstruction models.
    config : FinetuneConfig, optional
    transform : callable, optional
        ``transform(pixels, start=i)`` -> float32 network inputs, applied to every batch as it is drawn, with
        ``start`` the batch's position in the stream of training samples (``step * batch_size``): Caffe's TRAIN
        transform, whose random crops and mirrors are drawn anew each time an image comes round
        (``data.Preprocessing`` with ``phase="TRAIN"``).
    progress : callable, optional
        ``progress(step, iterations, loss)`` after each step.

    Raises
    ------
    PlanError
        If the plan does not fit the network.
    ValueError
        If the data does not fit the network, or labels are missing for a classifier.
    """
    import torch

    from ristretto_sim.train.torch_net import QuantTrainNet

    config = FinetuneConfig() if config is None else config
    if not isinstance(config, FinetuneConfig):
        raise TypeError(f"config={config!r} must be a FinetuneConfig")
    torch.set_num_threads(1)
    if transform is None:
        x_all = np.ascontiguousarray(images, dtype=np.float32)

        def batch_of(idx, start):
            return x_all[idx]
    else:
        x_all = np.asarray(images)

        def batch_of(idx, start):
            return np.ascontiguousarray(transform(x_all[idx], start=start), dtype=np.float32)
    sample = batch_of(np.arange(min(1, len(x_all))), 0)
    if sample.shape[1:] != tuple(network.input.shape):
        raise ValueError(f"images have shape {sample.shape[1:]} per sample; the network takes {network.input.shape}")
    classify = network.task == "classification"
    if classify:
        if labels is None:
            raise ValueError("labels are required to fine-tune a classifier")
        y_all = np.asarray(labels, dtype=np.int64)
        if y_all.shape != (len(x_all),):
            raise ValueError(f"labels have shape {y_all.shape}; expected ({len(x_all)},)")
    loss_fn, target = _loss_fn(network)
    torch.manual_seed(config.seed)
    model = QuantTrainNet(network, plan, mode=config.mode, seed=config.seed,
                          quantize_activations=config.quantize_activations)
    params = list(model.parameters())
    if config.solver is Solver.ADAM:
        opt = torch.optim.Adam(params, lr=config.lr, betas=(config.momentum, config.momentum2), eps=config.delta,
                               weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(x_all))
    pos = 0
    losses = []
    start = time.perf_counter()
    for step in range(config.iterations):
        if pos + config.batch_size > len(order):
            order, pos = rng.permutation(len(x_all)), 0
        idx = order[pos : pos + config.batch_size]
        pos += config.batch_size
        xb = torch.from_numpy(batch_of(idx, step * config.batch_size))
        yb = torch.from_numpy(y_all[idx]) if classify else None
        opt.zero_grad()
        loss = loss_fn(model(xb, step=step, keep=True)[target], xb, yb)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, config.iterations, losses[-1])
    trained = network.replace(params=model.shadow_params())
    return FinetuneResult(trained, tuple(losses), config, time.perf_counter() - start)
