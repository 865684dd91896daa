"""henn: deep learning on homomorphically encrypted data (CKKS), from Python.

Every byte of encrypted work runs in henn's C++ core; this package is its Python face.

Five lines from a model to encrypted predictions::

    import henn
    x, labels = henn.load_dataset("mnist", "/path/to/data", count=1000)
    compiled = henn.compile("model.onnx")           # or a torch.nn.Module + example input
    y = compiled.predict(x, encrypted=True)          # keys, encryption, inference, decryption
    print((y.argmax(1) == labels).mean())

The two parties separately::

    client = henn.Client(compiled)                   # data owner: holds the secret key
    ct = client.encrypt(x)                           # -> EncryptedTensor (to_bytes() for the wire)
    session = henn.Session(compiled, client.evaluation_keys())   # server: evaluation keys only
    out = session.run(ct)
    y = client.decrypt(out)

The CKKS layer underneath is :mod:`henn.ckks` (TenSEAL-style vectors: :class:`henn.ckks.CKKSVector`);
:class:`henn.client.Remote` talks to `henn serve`.
Errors are the classes of :mod:`henn.errors`, all derived from :class:`henn.Error`.
"""

from __future__ import annotations

import io
import os
import warnings as _warnings
from typing import Any, Optional, Union

import numpy as np

from . import errors
from .errors import (ArgumentError, CompileError, CryptoError, DataError, Error, FormatError,
                     InternalError, KeyMismatchError, LevelError, ParameterError, ScaleError)
from . import _henn
from ._henn import (Client, CompiledModel, EncryptedTensor, EvaluationKeys, Session, load_dataset,
                    set_threads, threads)
from . import ckks
from . import client

__version__ = "0.1.0"

__all__ = [
    "compile", "CompiledModel", "Client", "Session", "EncryptedTensor", "EvaluationKeys",
    "load_dataset", "set_threads", "threads", "ckks", "client", "errors",
    "Error", "CompileError", "KeyMismatchError", "FormatError", "DataError", "ParameterError",
    "ArgumentError", "CryptoError", "LevelError", "ScaleError", "InternalError",
]

ModelSource = Union[str, "os.PathLike[str]", bytes, Any]


def _onnx_bytes(model: ModelSource, example_input: Any, opset: int) -> tuple:
    """(bytes, source name) of an ONNX path, ONNX bytes, onnx.ModelProto or torch.nn.Module."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        try:
            with open(path, "rb") as f:
                return f.read(), path
        except OSError as e:
            raise DataError(f"cannot read the model {path}: {e.strerror}") from e
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "<bytes>"
    if hasattr(model, "SerializeToString") and hasattr(model, "graph"):  # onnx.ModelProto
        return model.SerializeToString(), "<onnx.ModelProto>"
    try:
        import torch  # only needed for torch models
    except ImportError:
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        if example_input is None:
            raise ArgumentError("compile(torch_module) needs example_input: one batch (or one sample) of inputs")
        example = example_input
        if not isinstance(example, torch.Tensor):
            example = torch.as_tensor(np.asarray(example), dtype=torch.float32)
        buffer = io.BytesIO()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                torch.onnx.export(model, example, buffer, opset_version=opset, input_names=["input"],
                                  output_names=["output"],
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        finally:
            model.train(was_training)
        return buffer.getvalue(), f"<torch {type(model).__name__}>"
    raise ArgumentError(f"compile() takes an ONNX path, ONNX bytes, an onnx.ModelProto or a torch.nn.Module, "
                        f"not {type(model).__name__}")


def compile(model: ModelSource, calibration: Optional[np.ndarray] = None, packing: str = "batch",
            precision: float = 12.0, *, example_input: Any = None, slots: str = "auto",
            scale_bits: int = 0, log_n: int = 0, activation: str = "", opset: int = 13,
            warn: bool = True, input_copies: int = 0) -> CompiledModel:
    """Compiles a model into an encrypted program.

    Args:
        model: an ONNX file path, ONNX bytes, an ``onnx.ModelProto``, or a ``torch.nn.Module``
            (then ``example_input`` is required; it is exported through ``torch.onnx`` in memory).
        calibration: representative inputs, shape (count, *input_shape), e.g. 512 training
            images: they bound every intermediate value, which gives smaller parameters, and
            check the polynomial activations' intervals. None: inputs assumed in [0, 1].
        packing: how samples fill the ciphertexts, as the engine names them: "batch" (one sample
            per slot: thousands of samples per ciphertext, the same cost for one or thousands) or
            "latency" (one sample in one ciphertext: fast for a few samples); "auto" is latency,
            as for `henn compile --packing auto` (`henn run` picks batch above 16 samples). A
            packing the linked engine lacks is a henn.CompileError listing those it has.
        precision: bits of output precision to plan for, relative to the largest output on the
            calibration set (expected_precision_bits reports the absolute figure).
        example_input: for a torch module, a tensor or array of one batch of inputs.
        slots: "auto", "real" or "complex" (two samples per slot; needs a conjugation key).
        scale_bits, log_n: force the scale (bits) or the ring degree 2^log_n; 0 chooses.
        activation: the polynomial replacing ReLU/Sigmoid/Tanh in imported models, e.g.
            "poly:least-squares:2:4" (empty: the importer's default).
        opset: ONNX opset of the torch export.
        warn: issue the importer's and compiler's warnings as Python warnings (they are in
            ``compiled.warnings`` either way).
        input_copies: latency packing: copies of the input the client encrypts, so that the
            output channels of a first convolution share diagonals (`henn compile
            --input-copies`); 0 chooses by the cost model, 1 is a single copy.

    Returns:
        CompiledModel: ``summary()`` prints the parameters, depth, keys and expected precision.

    Raises:
        CompileError: an operator with no encrypted form (named), a depth no 128-bit
            parameters allow, calibration of the wrong shape, an unknown packing.
        FormatError: bytes that are not an ONNX model.
    """
    data, source = _onnx_bytes(model, example_input, opset)
    if packing == "auto":
        packing = "latency"
    if calibration is not None:
        calibration = np.ascontiguousarray(calibration, dtype=np.float64)
    compiled = _henn._compile(data, source, packing, float(precision), calibration, slots, int(scale_bits),
                              int(log_n), activation, int(input_copies))
    if warn:
        for message in compiled.warnings:
            _warnings.warn(message, stacklevel=2)
    return compiled


def _predict(self: CompiledModel, x: np.ndarray, encrypted: bool = True, progress: Any = None) -> np.ndarray:
    """Outputs of the model on samples x, shape (count, output_size).

    encrypted=True runs the whole encrypted path in this process: a client (its keys made on the
    first call and kept), encryption, the server-side session, decryption. encrypted=False runs
    the float64 reference executor on the imported model (or the compiled program in float64
    when the model was loaded from bytes).
    """
    if not encrypted:
        return self.reference(x) if self.has_reference else self.run_plain(x)
    cache = getattr(self, "_predict_parties", None)
    if cache is None:
        client = Client(self)
        cache = (client, Session(self, client.evaluation_keys()))
        self._predict_parties = cache
    client, session = cache
    return client.decrypt(session.run(client.encrypt(x), progress, consume=True))


def _save(self: CompiledModel, path: Union[str, "os.PathLike[str]"]) -> None:
    """Writes the compiled model to a file (what `henn compile -o` writes; no secret in it)."""
    with open(path, "wb") as f:
        f.write(self.to_bytes())


def _load(path: Union[str, "os.PathLike[str]"]) -> CompiledModel:
    """Reads a compiled model file (henn.FormatError if it is not one)."""
    with open(path, "rb") as f:
        return CompiledModel.from_bytes(f.read())


def _repr(self: CompiledModel) -> str:
    p = self.parameters
    return (f"<henn.CompiledModel input {tuple(self.input_shape)} -> {self.output_size}, {self.packing} packing, "
            f"N=2^{p['log_n']}, depth {self.depth}, ~{self.expected_precision_bits:.1f} bits>")


CompiledModel.predict = _predict
CompiledModel.save = _save
CompiledModel.load = staticmethod(_load)
CompiledModel.__repr__ = _repr


def _keys_save(self: EvaluationKeys, path: Union[str, "os.PathLike[str]"]) -> None:
    """Writes the evaluation keys to a file (public material: what the server receives)."""
    with open(path, "wb") as f:
        f.write(self.to_bytes())


def _keys_load(compiled: CompiledModel, path: Union[str, "os.PathLike[str]"]) -> EvaluationKeys:
    """Reads evaluation keys saved by save(), checked against the compiled model."""
    with open(path, "rb") as f:
        return EvaluationKeys.from_bytes(compiled, f.read())


EvaluationKeys.save = _keys_save
EvaluationKeys.load = staticmethod(_keys_load)
