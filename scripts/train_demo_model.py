#!/usr/bin/python3
"""Trains the bundled demo model, models/mnist_cryptonets.onnx: the CryptoNets network
(Conv2d(1,5,5,stride=2,padding=1) -> x*x -> Flatten -> Linear(845,100) -> x*x -> Linear(100,10),
the same class as tests/fixtures/onnx/cryptonets.onnx) trained longer on the 10,000 MNIST
training digits, exported with torch.onnx.export (opset 13). This is the model `henn demo` runs
encrypted.

Install (Debian 12) and run, from the repository root:

    apt-get install -y python3-torch python3-onnx python3-numpy
    /usr/bin/python3 scripts/train_demo_model.py ../shared/data [--out models/mnist_cryptonets.onnx]

Fixed seeds, CPU only. Inputs are pixel / 255 in [0, 1] (henn's MNIST loader), no normalization.
Training: Adam (lr 1e-3, cosine decay to 0), batch 64, cross-entropy, each batch shifted by up to
2 pixels at random (the 10,000 digits are a sixth of MNIST's training set; shifts make up for
part of it). Prints the test accuracy on the 10,000 MNIST test images, in float32 and float64.
"""

import argparse
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_onnx_fixtures import CryptoNets, load_mnist, to_input  # noqa: E402

SEED = 20240612


def shift_batch(x, generator, max_shift):
    """Each image moved by (dy, dx) in [-max_shift, max_shift], zeros shifted in."""
    n = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4)
    shifts = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for i in range(n):
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        out[i] = padded[i, :, dy:dy + 28, dx:dx + 28]
    return out


def accuracy(model, x, y):
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(dim=1) for i in range(0, len(x), 1000)])
    return int((pred == y).sum()), len(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="data directory with mnist/ (see ../shared/data/README.md)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                      "models", "mnist_cryptonets.onnx"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-shift", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)

    train_images, train_labels, test_images, test_labels = load_mnist(args.data_dir)
    x = to_input(train_images, flat=False)
    y = torch.from_numpy(train_labels.astype(np.int64))
    xt = to_input(test_images, flat=False)
    yt = torch.from_numpy(test_labels.astype(np.int64))

    model = CryptoNets()
    batch = 64
    steps = args.epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb = shift_batch(x[idx], generator, args.max_shift) if args.max_shift else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * len(idx)
        model.eval()
        correct, n = accuracy(model, xt, yt)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(x):.4f}, test {100.0 * correct / n:.2f}%",
              flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), args.out, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      do_constant_folding=True)
    onnx.checker.check_model(onnx.load(args.out))
    correct32, n = accuracy(model, xt, yt)
    correct64, _ = accuracy(model.double(), xt.double(), yt)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    print(f"test accuracy on {n} MNIST test images: float32 {100.0 * correct32 / n:.2f}% "
          f"({correct32}), float64 {100.0 * correct64 / n:.2f}% ({correct64})")


if __name__ == "__main__":
    main()
