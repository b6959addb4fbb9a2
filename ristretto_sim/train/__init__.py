"""Fine-tuning with shadow weights (extra ``train``: needs torch), Ristretto's reference §6.

Modules: ``torch_net`` (``QuantTrainNet``: a ``Network`` as a torch module whose TRAIN-phase forward quantizes
weights and biases with seeded stochastic rounding, straight-through gradients into float shadow weights),
``finetuning`` (``finetune``, ``FinetuneConfig``, ``FinetuneResult``, ``Solver``: the training loop). torch is
imported only inside this package and only when these names are used: ``import ristretto_sim.train`` stays
light.
"""

_LAZY = {
    "QuantTrainNet": "ristretto_sim.train.torch_net",
    "finetune": "ristretto_sim.train.finetuning",
    "FinetuneConfig": "ristretto_sim.train.finetuning",
    "FinetuneResult": "ristretto_sim.train.finetuning",
    "Solver": "ristretto_sim.train.finetuning",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ristretto_sim.train' has no attribute {name!r}")


__all__ = sorted(_LAZY)
