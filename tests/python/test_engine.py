"""henn's Python engine API on a small model over the real WDBC data set: compile, Client,
Session, bundles, files, keys of another model, typed errors, progress and its exceptions."""

import os
import stat

import numpy as np
import pytest

import henn
from conftest import small_mlp


def bits(actual, expected):
    """-log2 of the worst absolute error."""
    error = np.max(np.abs(np.asarray(actual) - np.asarray(expected)))
    return np.inf if error == 0 else -np.log2(error)


@pytest.fixture(scope="module")
def wdbc(data_dir):
    train, _ = henn.load_dataset("wdbc", data_dir, split="train")
    test, labels = henn.load_dataset("wdbc", data_dir, split="test")
    return train, test


@pytest.fixture(scope="module")
def model(onnx_module, wdbc):
    return henn.compile(small_mlp(onnx_module), calibration=wdbc[0], warn=False)


@pytest.fixture(scope="module")
def other_model(onnx_module, wdbc):
    return henn.compile(small_mlp(onnx_module, seed=1), calibration=wdbc[0], warn=False)


@pytest.fixture(scope="module")
def parties(model):
    client = henn.Client(model, test_only_seed=11)
    return client, henn.Session(model, client.evaluation_keys())


def test_compiled_model_describes_itself(model):
    summary = model.summary()
    assert "packing: batch" in summary and "depth" in summary
    assert model.packing == "batch" and model.slot_packing in ("real", "complex")
    assert tuple(model.input_shape) == (30,) and model.input_size == 30 and model.output_size == 2
    p = model.parameters
    assert p["security_bits"] == 128 and len(p["log_q"]) == p["levels"] + 1 and p["log_qp"] > 100
    assert model.depth == 3
    assert model.keys["relinearization"]
    assert [s["kind"] for s in model.stages] == ["linear", "polynomial", "linear"]
#Planned for 12 bits relative to the outputs' range; the figure is absolute.
    assert 4 < model.expected_precision_bits < 12
    assert model.batch_size >= 4096
    assert "CompiledModel" in repr(model)
    assert model.has_reference


def test_encrypted_run_matches_the_cpp_reference(model, parties, wdbc):
    client, session = parties
    _, x = wdbc
    y = client.decrypt(session.run(client.encrypt(x)))
    reference = model.reference(x)
    assert y.shape == (len(x), 2) and y.dtype == np.float64
    scale = np.max(np.abs(reference))
    assert bits(y / scale, reference / scale) > 10
    assert bits(y, reference) >= model.expected_precision_bits - 1  # the estimate is conservative
    assert bits(model.run_plain(x) / scale, reference / scale) > 30  # the compiled program in float64
    assert np.array_equal(model.predict(x, encrypted=False), reference)


def test_inputs_round_trip_in_every_accepted_shape_and_dtype(model, parties, wdbc):
    client, _ = parties
    _, x = wdbc
    x5 = x[:5]
    for batch in (x5, x5.astype(np.float64), np.asfortranarray(x5.astype(np.float64)), x5.tolist()):
        back = client.decrypt(client.encrypt(batch))
        assert back.shape == (5, 30)
        assert bits(back, x5) > 12
    one = client.encrypt(x[0])  # a single sample
    assert one.samples == 1 and len(one) == 1 and one.kind == "inputs" and one.ciphertexts == model.input_size
    with pytest.raises(henn.FormatError, match="30"):
        client.encrypt(np.zeros((3, 29)))
    with pytest.raises(ValueError):  # FormatError is a ValueError too
        client.encrypt(np.zeros((2, 3, 30)))


def test_several_batches(model, parties, wdbc):
    client, session = parties
    _, x = wdbc
    count = model.batch_size + 3
    big = np.resize(x, (count, 30))
    ct = client.encrypt(big)
    assert ct.batches == 2 and ct.samples == count
    y = client.decrypt(session.run(ct))
    assert y.shape == (count, 2)
    scale = np.max(np.abs(y))
    assert bits(y[-3:] / scale, model.reference(big[-3:]) / scale) > 10


def test_bundles_round_trip_through_bytes(model, parties, wdbc):
    client, session = parties
    _, x = wdbc
    wire = client.encrypt(x[:8]).to_bytes()
    received = henn.EncryptedTensor.from_bytes(model, wire)
    assert received.samples == 8
    out_wire = session.run(received).to_bytes()
    assert received.samples == 8  # run() leaves its inputs alone unless consume=True
    y = client.decrypt(henn.EncryptedTensor.from_bytes(model, out_wire, kind="outputs"))
    scale = np.max(np.abs(y))
    assert bits(y / scale, model.reference(x[:8]) / scale) > 10
    with pytest.raises(henn.FormatError):
        henn.EncryptedTensor.from_bytes(model, wire, kind="outputs")
    with pytest.raises(henn.FormatError):
        session.run(henn.EncryptedTensor.from_bytes(model, out_wire, kind="outputs"))
    for cut in (0, 10, len(wire) // 2, len(wire) - 1):
        with pytest.raises(henn.FormatError):
            henn.EncryptedTensor.from_bytes(model, wire[:cut])
    consumed = henn.EncryptedTensor.from_bytes(model, wire)
    session.run(consumed, consume=True)
    assert consumed.samples == 0


def test_compiled_model_and_keys_round_trip_through_files(model, parties, wdbc, tmp_path):
    client, _ = parties
    _, x = wdbc
    loaded = henn.CompiledModel.from_bytes(model.to_bytes())
    assert loaded.hash == model.hash and not loaded.has_reference
    model.save(tmp_path / "model.henn")
    loaded = henn.CompiledModel.load(tmp_path / "model.henn")
    client.evaluation_keys().save(tmp_path / "evaluation.keys")
    session = henn.Session(loaded, henn.EvaluationKeys.load(loaded, tmp_path / "evaluation.keys"))
    y = client.decrypt(session.run(client.encrypt(x[:4])))
    scale = np.max(np.abs(y))
    assert bits(y / scale, loaded.run_plain(x[:4]) / scale) > 10
    assert np.array_equal(loaded.predict(x[:4], encrypted=False), loaded.run_plain(x[:4]))
    with pytest.raises(henn.FormatError):
        henn.CompiledModel.from_bytes(b"not a compiled model")
    with pytest.raises(henn.FormatError):
        henn.CompiledModel.from_bytes(model.to_bytes()[:-7])


def test_secret_key_file_is_private_and_restores_the_client(model, other_model, parties, wdbc, tmp_path):
    client, _ = parties
    _, x = wdbc
    path = tmp_path / "secret.key"
    client.save_secret_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not (tmp_path / "secret.key.partial").exists()
    with pytest.raises(ValueError, match="exists"):
        client.save_secret_key(path)
    client.save_secret_key(path, overwrite=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    restored = henn.Client.load(model, path)
    assert bits(restored.decrypt(client.encrypt(x[:3])), x[:3]) > 12
    with pytest.raises(henn.KeyMismatchError):
        henn.Client.load(other_model, path)
    with pytest.raises(OSError):  # henn.DataError is an OSError too
        henn.Client.load(model, tmp_path / "missing.key")


def test_keys_and_ciphertexts_of_another_model_are_refused(model, other_model, parties, wdbc):
    client, session = parties
    _, x = wdbc
    other = henn.Client(other_model, test_only_seed=5)
    with pytest.raises(henn.KeyMismatchError):
        henn.Session(other_model, client.evaluation_keys())
    with pytest.raises(henn.KeyMismatchError):
        henn.Session(model, other.evaluation_keys())
    with pytest.raises(henn.KeyMismatchError):
        henn.EvaluationKeys.from_bytes(other_model, client.evaluation_keys().to_bytes())
    foreign = other.encrypt(x[:2])
    with pytest.raises(henn.KeyMismatchError):
        session.run(foreign)
    with pytest.raises(henn.KeyMismatchError):
        henn.EncryptedTensor.from_bytes(model, foreign.to_bytes())
    with pytest.raises(henn.KeyMismatchError):
        client.decrypt(foreign)
#The same model with another client's keys runs, but only the right client can read it.
    stranger = henn.Client(model, test_only_seed=99)
    assert bits(stranger.decrypt(session.run(client.encrypt(x[:2]))), model.reference(x[:2])) < 1


def test_compile_errors_are_typed(onnx_module, fixtures_dir):
    with pytest.raises(henn.CompileError, match="Sin"):
        henn.compile(fixtures_dir / "unsupported_sin.onnx", warn=False)
    with pytest.raises(henn.FormatError):
        henn.compile(b"\x08\x07garbage that is no onnx model", warn=False)
    with pytest.raises(henn.DataError):
        henn.compile(fixtures_dir / "no_such_model.onnx")
    with pytest.raises(henn.ArgumentError):
        henn.compile(42)
#Packings come from the engine : one it does not have is refused by it, listing those it has.
    with pytest.raises(henn.CompileError, match="batch"):
        henn.compile(small_mlp(onnx_module), packing="no-such-packing", warn=False)
    with pytest.raises(henn.CompileError, match="slots"):
        henn.compile(small_mlp(onnx_module), slots="many", warn=False)
    with pytest.raises(henn.FormatError, match="calibration"):
        henn.compile(small_mlp(onnx_module), calibration=np.zeros((4, 29)), warn=False)
#Every henn error is a henn.Error.
    assert all(issubclass(e, henn.Error) for e in (henn.CompileError, henn.KeyMismatchError, henn.FormatError,
                                                   henn.DataError, henn.ParameterError, henn.LevelError))


def test_warnings_reach_python(onnx_module, fixtures_dir):
    with pytest.warns(UserWarning, match="calibration"):
        compiled = henn.compile(small_mlp(onnx_module))
    assert compiled.warnings
    quiet = henn.compile(fixtures_dir / "mlp_softmax.onnx", warn=False)
    assert any("oftmax" in w for w in quiet.warnings)


def test_predict_is_the_one_line_path(model, wdbc):
    _, x = wdbc
    y = model.predict(x)
    assert np.array_equal(y.argmax(1), model.reference(x).argmax(1))
    assert model.predict(x[:2]).shape == (2, 2)  # keys made once, reused


def test_progress_callback_and_its_exceptions(parties, wdbc):
    client, session = parties
    _, x = wdbc
    ct = client.encrypt(x[:4])
    calls = []
    session.run(ct, lambda batch, stage, done, total: calls.append((batch, stage, done, total)))
    assert calls and all(b == 0 and 0 <= done <= total for b, _, done, total in calls)
    assert {stage for _, stage, _, _ in calls} == {
    0, 1, 2}

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop()

    with pytest.raises(Stop):
        session.run(ct, stop)
    assert session.run(ct).samples == 4  # the session is still usable


def test_latency_packing_through_the_same_api(onnx_module, wdbc):
    """The packing string goes to the engine as is: its latency packing (one sample per
    ciphertext region) runs through the same Client and Session."""
    train, x = wdbc
    latency = henn.compile(small_mlp(onnx_module), calibration=train, packing="latency", warn=False)
    assert latency.packing == "latency" and "packing: latency" in latency.summary()
    assert henn.compile(small_mlp(onnx_module), calibration=train, packing="auto", warn=False).packing == "latency"
    client = henn.Client(latency, test_only_seed=3)
    session = henn.Session(latency, client.evaluation_keys())
    ct = client.encrypt(x[:3])
    y = client.decrypt(session.run(ct))
    reference = latency.reference(x[:3])
    scale = np.max(np.abs(reference))
    assert bits(y / scale, reference / scale) > 8
    with pytest.raises(henn.FormatError, match="batch packing"):
        client.decrypt(ct)  # inputs decrypt in batch packing only
    # Copies of the input serve a first convolution only: a dense first layer refuses them.
    with pytest.raises(henn.CompileError, match="convolution"):
        henn.compile(small_mlp(onnx_module), calibration=train, packing="latency", input_copies=2, warn=False)
