"""Train the bundled ``cifar10_full_lrn`` model: cifar10_full layer sizes, 2 LRN layers, on Fashion-MNIST.

Architecture (Caffe ``examples/cifar10/cifar10_full_train_test.prototxt`` layer sizes, on a 1x28x28 input):
conv1 32@5x5 pad 2 -> max-pool 3x3/2 (Caffe ceil mode) -> ReLU -> LRN -> conv2 32@5x5 pad 2 -> ReLU ->
ave-pool 3x3/2 (ceil) -> LRN -> conv3 64@5x5 pad 2 -> ReLU -> ave-pool 3x3/2 (ceil) -> ip1 10. Shapes 28 -> 14
-> 7 -> 3.

Documented deviation: Caffe's cifar10_full uses WITHIN_CHANNEL LRN; ONNX's LRN is across channels, so both LRN
layers here are ACROSS_CHANNELS with local_size 3, alpha 5e-5, beta 0.75, k 1 (PyTorch ``LocalResponseNorm``,
the same formula as ONNX ``LRN``). PyTorch exports LocalResponseNorm as a composite, so the ONNX graph is
written here with onnx.helper from the trained weights (opset 13, 2 real ``LRN`` nodes, ``ceil_mode=1`` pools;
the average pools use ``count_include_pad=0``, which equals Caffe's divisor when the padding is 0).

Data: Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``):
the 60,000 training images (random horizontal flips), scored on the 10,000 test images. Preprocessing ``x =
(pixel - 73) / 80`` (the training-set mean, rounded; Caffe's ``mean_value: 73``, ``scale: 0.0125``).

Recipe: Adam (lr 1e-3, cosine decay to 0), weight decay 1e-4, batch 64, ``EPOCHS`` epochs, seed 0, one CPU
thread. Writes ``cifar10_full_lrn.onnx`` and ``metrics.json``. Run from the repository root:
``.venv/bin/python models/cifar10_full_lrn/train.py`` (needs the ``train`` extra: torch).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from ristretto_sim.data import load_fashion_mnist

HERE = Path(__file__).resolve().parent
MEAN = 73.0
SCALE = 0.0125
SEED = 0
EPOCHS = 4
BATCH = 64
LRN = dict(size=3, alpha=5e-5, beta=0.75, k=1.0)


class Cifar10FullLRN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.norm = nn.LocalResponseNorm(LRN["size"], LRN["alpha"], LRN["beta"], LRN["k"])
        self.ip1 = nn.Linear(64 * 3 * 3, 10)

    def forward(self, x):
        x = self.norm(F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True)))
        x = self.norm(F.avg_pool2d(F.relu(self.conv2(x)), 3, 2, ceil_mode=True))
        x = F.avg_pool2d(F.relu(self.conv3(x)), 3, 2, ceil_mode=True)
        return self.ip1(x.flatten(1))


def preprocess(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((images.astype(np.float32) - np.float32(MEAN)) * np.float32(SCALE))


def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(preprocess(images[i:i + 1000])) for i in range(0, len(images), 1000)]).numpy()


def to_onnx(model: Cifar10FullLRN, path: Path) -> onnx.ModelProto:
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [numpy_helper.from_array(sd[k], k) for k in sorted(sd)]
    lrn = dict(size=LRN["size"], alpha=LRN["alpha"], beta=LRN["beta"], bias=LRN["k"])
    pool = dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    n = helper.make_node
    nodes = [
        n("Conv", ["data", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1", kernel_shape=[5, 5],
          pads=[2, 2, 2, 2]),
        n("MaxPool", ["conv1"], ["pool1"], name="pool1", **pool),
        n("Relu", ["pool1"], ["relu1"], name="relu1"),
        n("LRN", ["relu1"], ["norm1"], name="norm1", **lrn),
        n("Conv", ["norm1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2", kernel_shape=[5, 5],
          pads=[2, 2, 2, 2]),
        n("Relu", ["conv2"], ["relu2"], name="relu2"),
        n("AveragePool", ["relu2"], ["pool2"], name="pool2", count_include_pad=0, **pool),
        n("LRN", ["pool2"], ["norm2"], name="norm2", **lrn),
        n("Conv", ["norm2", "conv3.weight", "conv3.bias"], ["conv3"], name="conv3", kernel_shape=[5, 5],
          pads=[2, 2, 2, 2]),
        n("Relu", ["conv3"], ["relu3"], name="relu3"),
        n("AveragePool", ["relu3"], ["pool3"], name="pool3", count_include_pad=0, **pool),
        n("Flatten", ["pool3"], ["flat"], name="flatten", axis=1),
        n("Gemm", ["flat", "ip1.weight", "ip1.bias"], ["ip1"], name="ip1", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cifar10_full_lrn",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("ip1", TensorProto.FLOAT, ["N", 10])], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ristretto-sim",
                          doc_string="Caffe cifar10_full layer sizes with across-channel LRN, trained on "
                                     "Fashion-MNIST; see README.md")
    helper.set_model_props(m, {"preprocessing.scale": repr(SCALE), "preprocessing.mean": repr(MEAN),
                               "preprocessing.layout": "NCHW", "dataset": "fashion-mnist"})
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    x_train, y_train = preprocess(train.images), torch.from_numpy(train.labels.copy())
    model = Cifar10FullLRN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    total_steps = EPOCHS * math.ceil(len(train) / BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        running = 0.0
        for i in range(0, len(train), BATCH):
            idx = perm[i:i + BATCH]
            xb = x_train[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach()) * len(idx)
        acc = float((predict(model, test.images).argmax(1) == test.labels).mean())
        print(f"epoch {epoch + 1}  loss {running / len(train):.4f}  test {acc:.4f}  "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    train_s = time.perf_counter() - t0
    logits = predict(model, test.images)
    m = to_onnx(model, HERE / "cifar10_full_lrn.onnx")
    metrics = {"train_seconds": round(train_s, 1), "epochs": EPOCHS, "threads": 1, "torch": torch.__version__,
               "test_top1": float((logits.argmax(1) == test.labels).mean()), "test_images": len(test),
               "lrn_nodes": sum(node.op_type == "LRN" for node in m.graph.node)}
    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(HERE / "cifar10_full_lrn.onnx"), providers=["CPUExecutionProvider"])
        ort_out = sess.run(None, {"data": preprocess(test.images[:1000]).numpy()})[0]
        metrics["max_abs_diff_torch_vs_onnxruntime"] = float(np.abs(ort_out - logits[:1000]).max())
    except ImportError:
        pass
    (HERE / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
