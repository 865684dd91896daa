"""The CryptoNets network that PyTorch trained and exported (tests/fixtures/onnx) on real MNIST
test images through the Python API: encrypted outputs against henn's C++ reference executor and
PyTorch's own logits, and Ctrl-C during a long run."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import henn


def bits(actual, expected):
    error = np.max(np.abs(np.asarray(actual) - np.asarray(expected)))
    return np.inf if error == 0 else -np.log2(error)


@pytest.fixture(scope="module")
def cryptonets(fixtures_dir, data_dir):
    calibration, _ = henn.load_dataset("mnist", data_dir, split="train", count=256)
    return henn.compile(fixtures_dir / "cryptonets.onnx", calibration=calibration, warn=False)


@pytest.fixture(scope="module")
def run(cryptonets, fixtures_dir, data_dir):
    """One batch: the 16 images of the fixture (with PyTorch's logits) and 184 more test images."""
    expected = json.load(open(fixtures_dir / "cryptonets.expected.json"))
    assert expected["input_scaling"] == "pixel / 255"
    pixels = np.array([s["pixels"] for s in expected["samples"]], dtype=np.float32).reshape(-1, 1, 28, 28) / 255
    torch_logits = np.array([s["logits"] for s in expected["samples"]])
    more, labels = henn.load_dataset("mnist", data_dir, count=200, offset=2000)
    x = np.concatenate([pixels, more[:184]])
    client = henn.Client(cryptonets, test_only_seed=11)
    session = henn.Session(cryptonets, client.evaluation_keys())
    ct = client.encrypt(x)
    y = client.decrypt(session.run(ct))
    return dict(x=x, y=y, torch_logits=torch_logits, labels=labels[:184], client=client, session=session, ct=ct)


def test_encrypted_outputs_match_the_cpp_reference(cryptonets, run):
    reference = cryptonets.reference(run["x"])
    y = run["y"]
    assert y.shape == (200, 10)
    scale = np.max(np.abs(reference))
    assert bits(y / scale, reference / scale) > 8  # relative to the largest logit
    assert np.array_equal(y.argmax(1), reference.argmax(1))
    # The fixture was trained briefly (95.96% on the 10,000 test images in PyTorch).
    assert np.mean(y[16:].argmax(1) == run["labels"]) == np.mean(reference[16:].argmax(1) == run["labels"]) > 0.85


def test_encrypted_outputs_match_pytorch(run):
    y, torch_logits = run["y"][:16], run["torch_logits"]
    scale = np.max(np.abs(torch_logits))
    assert bits(y / scale, torch_logits / scale) > 8
    assert np.array_equal(y.argmax(1), torch_logits.argmax(1))


def test_ctrl_c_cancels_a_long_run_cleanly(run):
    session, ct = run["session"], run["ct"]
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # One evaluator call per weight: far longer than the 0.5 s before the signal.
            session.run(ct, reference_kernels=True, chunk=2)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert ct.samples == 200  # the inputs are intact

