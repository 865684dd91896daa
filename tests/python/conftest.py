"""pytest options for henn's Python tests: --data-dir (MNIST under it) and --fixtures-dir (the
ONNX fixtures made by PyTorch, tests/fixtures/onnx). Under CI=true, anything missing fails."""

import os
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--data-dir", default=os.environ.get("HENN_DATA_DIR", str(HERE.parents[2] / "shared" / "data")))
    parser.addoption("--fixtures-dir", default=str(HERE.parent / "fixtures" / "onnx"))
    parser.addoption("--henn", default=None, help="the henn executable, for tests against `henn serve`")


def missing(what):
    """Fail under CI (a test must never skip to green there), skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing (CI=true: missing data or tools fail)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def data_dir(pytestconfig):
    path = pathlib.Path(pytestconfig.getoption("--data-dir"))
    if not (path / "mnist").is_dir() and not list(path.glob("t10k-images*")):
        missing(f"MNIST under {path}")
    return path


@pytest.fixture(scope="session")
def fixtures_dir(pytestconfig):
    return pathlib.Path(pytestconfig.getoption("--fixtures-dir"))


@pytest.fixture(scope="session")
def torch():
    try:
        import torch as module
    except ImportError:
        missing("torch (Debian: python3-torch)")
    return module


@pytest.fixture(scope="session")
def onnx_module():
    try:
        import onnx as module
    except ImportError:
        missing("onnx (Debian: python3-onnx)")
    return module


def small_mlp(onnx, inputs=30, hidden=8, outputs=2, seed=0):
    """An ONNX model built in memory: Gemm -> x*x -> Gemm with seeded weights (the WDBC shape:
    30 features; small enough that every API test runs in a fraction of a second)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    tensors = {
        "w1": rng.normal(0, 0.3, (hidden, inputs)), "b1": rng.normal(0, 0.1, hidden),
        "w2": rng.normal(0, 0.3, (outputs, hidden)), "b2": rng.normal(0, 0.1, outputs),
    }
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Mul", ["h", "h"], ["s"]),
             helper.make_node("Gemm", ["s", "w2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, f"small_mlp_{seed}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", inputs])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", outputs])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in tensors.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
