#!/usr/bin/python3
"""Encrypted MNIST from Python, notebook style: train a small CryptoNets-shaped network with
PyTorch, compile it with henn, encrypt 1,000 MNIST test images, predict on the ciphertexts,
decrypt, and compare with PyTorch's own predictions.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/encrypted_mnist.py ../shared/data

(after `cmake --install build --component python`, plain `python3` finds henn.) Needs Debian's
python3-torch; --epochs 0 skips training (random weights: the comparison still holds).
"""

import argparse
import time

import numpy as np
import torch

import henn

# %% Arguments
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("data_dir", help="directory holding mnist/ (IDX files)")
parser.add_argument("--count", type=int, default=1000, help="test images to encrypt")
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()
torch.manual_seed(0)

# %% Data, loaded exactly as `henn run` loads it: pixels / 255, shape (count, 1, 28, 28)
x_train, y_train = henn.load_dataset("mnist", args.data_dir, split="train")
x_test, y_test = henn.load_dataset("mnist", args.data_dir, split="test", count=args.count)


# %% A CryptoNets-shaped network: convolution, square, dense, square, dense
class Square(torch.nn.Module):
    def forward(self, x):
        return x * x


net = torch.nn.Sequential(
    torch.nn.Conv2d(1, 5, kernel_size=5, stride=2, padding=1), Square(), torch.nn.Flatten(),
    torch.nn.Linear(845, 100), Square(), torch.nn.Linear(100, 10))

# %% Train (a few epochs of Adam on the 10,000 training digits)
start = time.perf_counter()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(args.epochs):
    order = torch.randperm(len(xt))
    for i in range(0, len(xt), 64):
        batch = order[i:i + 64]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
print(f"training: {time.perf_counter() - start:.1f} s")
net.eval()
with torch.no_grad():
    torch_logits = net(torch.from_numpy(x_test)).numpy()

# %% Compile: 512 training images calibrate the value ranges (smaller parameters)
start = time.perf_counter()
compiled = henn.compile(net, calibration=x_train[:512], example_input=torch.from_numpy(x_test[:1]))
print(f"compile: {time.perf_counter() - start:.1f} s")
print(compiled.summary())

# %% The two parties: the client keeps the secret key, the server gets evaluation keys only
start = time.perf_counter()
client = henn.Client(compiled)
session = henn.Session(compiled, client.evaluation_keys())
t_keys = time.perf_counter() - start

start = time.perf_counter()
ct = client.encrypt(x_test)
t_encrypt = time.perf_counter() - start
upload = len(ct.to_bytes())

start = time.perf_counter()
out = session.run(ct, consume=True)
t_infer = time.perf_counter() - start

start = time.perf_counter()
logits = client.decrypt(out)
t_decrypt = time.perf_counter() - start

# %% Results
encrypted_pred, torch_pred = logits.argmax(1), torch_logits.argmax(1)
print(f"images:                        {len(x_test)}")
print(f"accuracy, encrypted:           {100 * np.mean(encrypted_pred == y_test):.2f}%")
print(f"accuracy, PyTorch (float32):   {100 * np.mean(torch_pred == y_test):.2f}%")
print(f"agreement with PyTorch:        {100 * np.mean(encrypted_pred == torch_pred):.2f}%")
print(f"max |logit error| vs PyTorch:  {np.max(np.abs(logits - torch_logits)):.2e}")
print(f"keys {t_keys:.2f} s, encrypt {t_encrypt:.2f} s, infer {t_infer:.2f} s "
      f"({len(x_test) / t_infer:.0f} images/s), decrypt {t_decrypt:.2f} s")
print(f"upload {upload / len(x_test) / 1024:.1f} KiB per image "
      f"(one batch holds {compiled.batch_size} images: fewer images cost the same)")
