#!/usr/bin/python3
"""Writes the ONNX test fixtures in tests/fixtures/onnx/: small MNIST networks trained briefly with
PyTorch and exported with torch.onnx.export exactly as users export them, each with
NAME.expected.json (16 MNIST test images, PyTorch's float64 logits for them, its test accuracy,
and the operators as exported), so that henn's importer and reference executor can be checked
against PyTorch without Python or data sets on the build machines.

Install (Debian 12) and run, from the repository root:

    apt-get install -y python3-torch python3-onnx python3-numpy
    /usr/bin/python3 scripts/make_onnx_fixtures.py ../shared/data [--out tests/fixtures/onnx]

The argument is the data directory holding mnist/train10k-images-idx3-ubyte(.gz),
mnist/train10k-labels-idx1-ubyte(.gz), mnist/t10k-images-idx3-ubyte(.gz) and
mnist/t10k-labels-idx1-ubyte(.gz). Everything is seeded and runs on the CPU (a few minutes on
2 cores); images are pixel / 255 in [0, 1], no normalization, as henn's MNIST loader gives them.

Fixtures (opsets and what PyTorch 1.13's exporter writes for each are recorded in the JSON):
  cryptonets.onnx        Conv(1,5,5,stride 2,pad 1) -> x*x -> Flatten -> Linear(845,100) -> x*x
                         -> Linear(100,10); opset 13.
  lenet_bn.onnx          two Conv+BatchNorm2d, trainable a*x^2+b*x+c activations (nn.Parameter
                         scalars), average pooling with padding (AvgPool2d(2, padding=1) and
                         F.pad + avg_pool2d), x.view(x.size(0), -1), dense layers to 10; eval
                         mode, do_constant_folding=True (the exporter folds BN into the Conv);
                         opset 17.
  lenet_bn_unfolded.onnx the same trained network, do_constant_folding=False and
                         TrainingMode.PRESERVE: BatchNormalization nodes kept, Identity nodes on
                         parameters, the shape arithmetic of F.pad unfolded; opset 13.
  mlp.onnx               [N,784] -> Linear(784,128) -> torch.pow(x,2) -> Linear(128,10); opset 13.
  mlp_softmax.onnx       Linear(784,32) -> x*x -> Linear(32,10) -> Softmax; opset 13 (a final
                         Softmax is dropped on import with a warning: the argmax is unchanged;
                         "logits" in its JSON are the values before the Softmax).
  cnn_relu_maxpool.onnx  the PyTorch MNIST example's shape: Conv -> ReLU -> MaxPool -> Flatten
                         -> Linear -> log_softmax; opset 13 (imported only with replacements:
                         ReLU by a polynomial, MaxPool by average pooling, each with a warning).
  unsupported_sin.onnx   Linear -> torch.sin -> Linear; opset 13 (Sin cannot run encrypted:
                         import must fail naming the node; its name is in the JSON).
"""

import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240611
NUM_RECORDED = 16


def read_idx(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"missing {path}(.gz)")
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir):
    d = os.path.join(data_dir, "mnist")
    return (read_idx(os.path.join(d, "train10k-images-idx3-ubyte")),
            read_idx(os.path.join(d, "train10k-labels-idx1-ubyte")),
            read_idx(os.path.join(d, "t10k-images-idx3-ubyte")),
            read_idx(os.path.join(d, "t10k-labels-idx1-ubyte")))


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------

class CryptoNets(nn.Module):
    """Gilad-Bachrach et al. 2016, as usually re-implemented: square activations written x * x."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 5, 5, stride=2, padding=1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(845, 100)
        self.fc2 = nn.Linear(100, 10)

    def forward(self, x):
        x = self.conv(x)
        x = x * x
        x = self.fc1(self.flatten(x))
        x = x * x
        return self.fc2(x)


class Quadratic(nn.Module):
    """Trainable a*x^2 + b*x + c (HE-friendly activation; the scalars are nn.Parameters)."""

    def __init__(self, a=0.1, b=1.0, c=0.0):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(float(a)))
        self.b = nn.Parameter(torch.tensor(float(b)))
        self.c = nn.Parameter(torch.tensor(float(c)))

    def forward(self, x):
        return self.a * x * x + self.b * x + self.c


class LeNetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)            # 28 -> 24
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = Quadratic()
        self.conv2 = nn.Conv2d(6, 16, 5)           # 13 -> 9
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = Quadratic()
        self.pool2 = nn.AvgPool2d(2, padding=1)    # 9 -> 5 (Pad + AveragePool on export)
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.act3 = Quadratic()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1)), 2)  # 24 -> 26 -> 13
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        return self.fc2(self.act3(self.fc1(x)))


class MLP(nn.Module):
    """Flat [N, 784] input; the square written torch.pow(x, 2)."""

    def __init__(self, hidden=128):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(torch.pow(self.fc1(x), 2))


class MLPSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.fc2 = nn.Linear(32, 10)
        self.final = True  # False while training and recording logits

    def forward(self, x):
        x = self.fc1(x)
        x = self.fc2(x * x)
        return F.softmax(x, dim=1) if self.final else x


class CnnReluMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 5)     # 28 -> 24
        self.fc = nn.Linear(8 * 12 * 12, 10)
        self.final = True  # False while training and recording logits

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = self.fc(torch.flatten(x, 1))
        return F.log_softmax(x, dim=1) if self.final else x


class SinNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc2(torch.sin(self.fc1(x)))


# ----------------------------------------------------------------------------------------------
# Training, export, expected values
# ----------------------------------------------------------------------------------------------

def to_input(images, flat):
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return x.reshape(-1, 784) if flat else x.reshape(-1, 1, 28, 28)


def train(model, images, labels, flat, epochs, lr, seed, batch=64):
    """Adam on cross-entropy of the logits (a final (log-)softmax is switched off meanwhile)."""
    torch.manual_seed(seed)
    final = getattr(model, "final", None)
    if final is not None:
        model.final = False
    x = to_input(images, flat)
    y = torch.from_numpy(labels.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"    epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}", flush=True)
    model.eval()
    if final is not None:
        model.final = final
    return model


def float64_logits(model, images, flat):
    """PyTorch's logits (before a final (log-)softmax) in float64 on the float32 weights that
    were exported."""
    final = getattr(model, "final", None)
    if final is not None:
        model.final = False
    m = model.double().eval()
    with torch.no_grad():
        x = to_input(images, flat).double()
        out = torch.cat([m(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    model.float()
    if final is not None:
        model.final = final
    return out.numpy()


def export(model, path, flat, opset, **kwargs):
    example = torch.zeros(1, 784) if flat else torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, example, path, opset_version=opset, input_names=["input"],
                      output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kwargs)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    return proto


def write_fixture(out_dir, name, model, proto, opset, flat, test_images, test_labels, recorded,
                  description, export_options, extra=None):
    logits = float64_logits(model, test_images, flat)
    accuracy = float((logits.argmax(axis=1) == test_labels).mean())
    nodes = [{"name": n.name, "op_type": n.op_type} for n in proto.graph.node]
    record = {
        "model": name + ".onnx",
        "description": description,
        "producer": f"{proto.producer_name} {proto.producer_version}",
        "torch_version": torch.__version__,
        "opset": opset,
        "export_options": export_options,
        "input_shape": [784] if flat else [1, 28, 28],
        "input_scaling": "pixel / 255",
        "ops_as_exported": sorted({n["op_type"] for n in nodes}),
        "nodes": nodes,
        "pytorch_test_accuracy": accuracy,
        "pytorch_test_correct": int((logits.argmax(axis=1) == test_labels).sum()),
        "test_count": int(len(test_labels)),
        "samples": [
            {
                "test_index": int(i),
                "label": int(test_labels[i]),
                "pixels": [int(p) for p in test_images[i].reshape(-1)],
                "logits": [float(v) for v in logits[i]],
            }
            for i in recorded
        ],
    }
    if extra:
        record.update(extra)
    with open(os.path.join(out_dir, name + ".expected.json"), "w") as f:
        # One key per line, lists compact (one line per node and per sample): small, diffable.
        lines = []
        for key, value in record.items():
            if key in ("nodes", "samples"):
                items = ",\n  ".join(json.dumps(v, separators=(",", ":")) for v in value)
                lines.append(f' {json.dumps(key)}: [\n  {items}\n ]')
            else:
                lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    size = os.path.getsize(os.path.join(out_dir, name + ".onnx"))
    print(f"  {name}.onnx: {size} bytes, opset {opset}, test accuracy {accuracy * 100:.2f}%, "
          f"ops {record['ops_as_exported']}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", help="data directory with mnist/ (see ../shared/data/README.md)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                      "tests", "fixtures", "onnx"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)

    train_images, train_labels, test_images, test_labels = load_mnist(args.data_dir)
    recorded = np.random.RandomState(SEED).choice(len(test_images), NUM_RECORDED, replace=False)
    common = dict(test_images=test_images, test_labels=test_labels, recorded=recorded)
    out = lambda name: os.path.join(args.out, name + ".onnx")  # noqa: E731

    print("cryptonets", flush=True)
    torch.manual_seed(SEED + 1)
    m = train(CryptoNets(), train_images, train_labels, flat=False, epochs=3, lr=1e-3, seed=SEED + 1)
    opts = {"opset_version": 13, "do_constant_folding": True}
    p = export(m, out("cryptonets"), False, 13, do_constant_folding=True)
    write_fixture(args.out, "cryptonets", m, p, 13, False, description=CryptoNets.__doc__,
                  export_options=opts, **common)

    print("lenet_bn", flush=True)
    torch.manual_seed(SEED + 2)
    m = train(LeNetBN(), train_images, train_labels, flat=False, epochs=3, lr=1e-3, seed=SEED + 2)
    # The trained activations, power basis (c, b, a): what the importer's Polynomial layers hold.
    quadratics = {"quadratic_coefficients": [[float(q.c), float(q.b), float(q.a)]
                                             for q in (m.act1, m.act2, m.act3)]}
    p = export(m, out("lenet_bn"), False, 17, do_constant_folding=True)
    write_fixture(args.out, "lenet_bn", m, p, 17, False,
                  description="LeNet-5-like: Conv+BN, a*x^2+b*x+c, padded average pooling; BN folded by the exporter",
                  export_options={"opset_version": 17, "do_constant_folding": True, "training": "EVAL"},
                  extra=quadratics,
                  **common)
    p = export(m, out("lenet_bn_unfolded"), False, 13, do_constant_folding=False,
               training=torch.onnx.TrainingMode.PRESERVE)
    write_fixture(args.out, "lenet_bn_unfolded", m, p, 13, False,
                  description="the lenet_bn network exported without constant folding: BatchNormalization nodes kept",
                  export_options={"opset_version": 13, "do_constant_folding": False, "training": "PRESERVE"},
                  extra=quadratics,
                  **common)

    print("mlp", flush=True)
    torch.manual_seed(SEED + 3)
    m = train(MLP(), train_images, train_labels, flat=True, epochs=3, lr=1e-3, seed=SEED + 3)
    p = export(m, out("mlp"), True, 13, do_constant_folding=True)
    write_fixture(args.out, "mlp", m, p, 13, True, description=MLP.__doc__,
                  export_options={"opset_version": 13, "do_constant_folding": True}, **common)

    print("mlp_softmax", flush=True)
    torch.manual_seed(SEED + 4)
    m = train(MLPSoftmax(), train_images, train_labels, flat=True, epochs=2, lr=1e-3, seed=SEED + 4)
    p = export(m, out("mlp_softmax"), True, 13, do_constant_folding=True)
    write_fixture(args.out, "mlp_softmax", m, p, 13, True,
                  description="MLP ending in Softmax; logits are the values before the Softmax",
                  export_options={"opset_version": 13, "do_constant_folding": True},
                  extra={"final_op_dropped": "Softmax"}, **common)

    print("cnn_relu_maxpool", flush=True)
    torch.manual_seed(SEED + 5)
    m = train(CnnReluMaxPool(), train_images, train_labels, flat=False, epochs=2, lr=1e-3, seed=SEED + 5)
    p = export(m, out("cnn_relu_maxpool"), False, 13, do_constant_folding=True)
    write_fixture(args.out, "cnn_relu_maxpool", m, p, 13, False,
                  description="Conv -> ReLU -> MaxPool -> Linear -> log_softmax (PyTorch MNIST example style)",
                  export_options={"opset_version": 13, "do_constant_folding": True},
                  extra={"final_op_dropped": "LogSoftmax",
                         "replaced": [{"name": n.name, "op_type": n.op_type} for n in p.graph.node
                                      if n.op_type in ("Relu", "MaxPool")]},
                  **common)

    print("unsupported_sin", flush=True)
    torch.manual_seed(SEED + 6)
    m = train(SinNet(), train_images, train_labels, flat=True, epochs=1, lr=1e-3, seed=SEED + 6)
    p = export(m, out("unsupported_sin"), True, 13, do_constant_folding=True)
    sin = [n for n in p.graph.node if n.op_type == "Sin"]
    assert len(sin) == 1
    write_fixture(args.out, "unsupported_sin", m, p, 13, True,
                  description="Linear -> sin -> Linear: Sin has no encrypted form, import must refuse it",
                  export_options={"opset_version": 13, "do_constant_folding": True},
                  extra={"unsupported_node": {"name": sin[0].name, "op_type": sin[0].op_type}}, **common)


if __name__ == "__main__":
    main()
