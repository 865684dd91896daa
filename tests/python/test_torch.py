"""henn.compile straight from a torch.nn.Module (exported through torch.onnx in memory) and from an
onnx.ModelProto: encrypted predictions against PyTorch's own outputs on the real WDBC data."""

import numpy as np
import pytest

import henn


def test_torch_module_compiles_and_matches_pytorch(torch, data_dir):
    torch.manual_seed(0)

    class SquareActivation(torch.nn.Module):
        def forward(self, x):
            return x * x

    net = torch.nn.Sequential(torch.nn.Linear(30, 16), SquareActivation(), torch.nn.Linear(16, 2))
    calibration, _ = henn.load_dataset("wdbc", data_dir, split="train")
    x, _ = henn.load_dataset("wdbc", data_dir, split="test")
    compiled = henn.compile(net, calibration=calibration, example_input=torch.from_numpy(x[:1]), warn=False)
    assert compiled.input_size == 30 and compiled.output_size == 2 and compiled.depth == 3
    assert net.training  # the export leaves the module's mode alone
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).double().numpy()
    y = compiled.predict(x, encrypted=True)
    scale = np.max(np.abs(expected))
    assert -np.log2(np.max(np.abs(y - expected)) / scale) > 10
    assert np.array_equal(y.argmax(1), expected.argmax(1))
    with pytest.raises(henn.ArgumentError, match="example_input"):
        henn.compile(net)


def test_onnx_model_proto_is_accepted(onnx_module, fixtures_dir):
    proto = onnx_module.load(str(fixtures_dir / "mlp.onnx"))
    assert henn.compile(proto, warn=False).hash == henn.compile(fixtures_dir / "mlp.onnx", warn=False).hash
