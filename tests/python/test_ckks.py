"""henn.ckks from Python: the low-level objects and the TenSEAL-style CKKSVector, each operation
against numpy with its precision in bits asserted (fixed seeds)."""

import numpy as np
import pytest

import henn
from henn import ckks


def bits(actual, expected):
    error = np.max(np.abs(np.asarray(actual) - np.asarray(expected)))
    return np.inf if error == 0 else -np.log2(error)


@pytest.fixture(scope="module")
def ctx():
    return ckks.CKKSContext(depth=4, scale_bits=40, rotations=[1], test_only_seed=3)


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(7)
    return rng.uniform(-1, 1, 64), rng.uniform(-1, 1, 64)


def test_vector_arithmetic_matches_numpy(ctx, values):
    a, b = values
    va, vb = ckks.CKKSVector(ctx, a), ckks.CKKSVector(ctx, b)
    assert bits(va.decrypt(), a) > 25
    assert bits((va + vb).decrypt(), a + b) > 24
    assert bits((va - vb).decrypt(), a - b) > 24
    assert bits((va + 0.5).decrypt(), a + 0.5) > 24
    assert bits((2.0 - va).decrypt(), 2.0 - a) > 24
    assert bits((va + b).decrypt(), a + b) > 24
    product = va * vb
    assert product.level == va.level - 1
    assert bits(product.decrypt(), a * b) > 20
    assert bits((va * 3.0).decrypt(), 3.0 * a) > 20
    assert bits((va * b).decrypt(), a * b) > 20
    assert bits(va.square().decrypt(), a * a) > 20
    # Operands at different levels are aligned.
    assert bits((product + va).decrypt(), a * b + a) > 18
    assert bits((product * va).decrypt(), a * b * a) > 16


def test_vector_rotation_sum_dot_and_polynomial(values):
    a, b = values
    # Keys for the power-of-two steps that sum() of 64 values uses, made in one call.
    ctx = ckks.CKKSContext(depth=2, scale_bits=40, rotations=[1, 2, 4, 8, 16, 32], test_only_seed=4)
    va = ckks.CKKSVector(ctx, a)
    slots = np.zeros(ctx.slots)
    slots[: a.size] = a
    assert bits(va.rotate(1).decrypt(), np.roll(slots, -1)[: a.size]) > 20
    assert bits(va.rotate(5).decrypt(), np.roll(slots, -5)[: a.size]) > 20  # key made on first use
    assert bits(va.rotate(-3).decrypt(), np.roll(slots, 3)[: a.size]) > 20
    assert bits(va.sum().decrypt(), [a.sum()]) > 16
    assert bits(va.dot(b).decrypt(), [a @ b]) > 14
    coefficients = [0.5, 0.197, 0.0, -0.004]  # a sigmoid-like cubic
    expected = np.polynomial.polynomial.polyval(a, coefficients)
    assert bits(va.polyval(coefficients, interval=(-1, 1)).decrypt(), expected) > 16


def test_vector_bytes_round_trip(ctx, values):
    a, _ = values
    v = ckks.CKKSVector(ctx, a)
    data = v.to_bytes()
    assert isinstance(data, bytes)
    back = ckks.CKKSVector.from_bytes(ctx, data, size=a.size)
    assert bits(back.decrypt(), a) > 25
    with pytest.raises(henn.FormatError):
        ckks.CKKSVector.from_bytes(ctx, data[: len(data) // 2])


def test_low_level_objects(values):
    a, b = values
    context = ckks.Context(ckks.Parameters.for_depth(2, scale_bits=40))
    assert context.security_bits == 128 and context.max_level == 2
    keys = ckks.KeyGenerator(context, test_only_seed=1)
    encoder = ckks.Encoder(context)
    public = ckks.Encryptor(context, keys.public_key())
    decryptor = ckks.Decryptor(context, keys)
    evaluator = ckks.Evaluator(context, keys.evaluation_keys())
    pa = encoder.encode(a)
    assert pa.level == 2 and pa.slots == context.slots
    assert bits(encoder.decode(pa)[:64], a) > 30
    z = a + 1j * b
    assert bits(encoder.decode_complex(encoder.encode(z))[:64], z) > 30
    ct = public.encrypt(pa)
    product = evaluator.rescale(evaluator.multiply(ct, public.encrypt(encoder.encode(b))))
    assert product.level == 1
    assert bits(encoder.decode(decryptor.decrypt(product))[:64], a * b) > 20
    # Products until no level is left: then a typed LevelError.
    with pytest.raises(henn.LevelError):
        for _ in range(4):
            product = evaluator.rescale(evaluator.multiply(*evaluator.align(product, ct)))
    with pytest.raises(henn.KeyMismatchError):  # no Galois key for this step
        evaluator.rotate(ct, 1)
    with pytest.raises(henn.KeyMismatchError):  # no relinearization key
        ckks.Evaluator(context).multiply(ct, ct)


def test_parameters_are_checked():
    with pytest.raises(henn.ParameterError):
        ckks.Context(ckks.Parameters(log_n=12, log_q=[60, 50, 50, 50], log_p=[60]))  # > 109 bits at N=2^12
    insecure = ckks.Context(ckks.Parameters(log_n=10, log_q=[40, 30], log_p=[40], scale_bits=30, allow_insecure=True))
    assert insecure.insecure
    with pytest.raises(ValueError):
        ckks.Parameters(log_n=13, log_q=[60], log_p=[60], security=100)


def test_ciphertexts_of_other_parameters_are_refused(ctx, values):
    a, _ = values
    other = ckks.Context(ckks.Parameters.for_depth(1, scale_bits=30))
    data = ckks.CKKSVector(ctx, a).to_bytes()
    with pytest.raises(henn.Error):
        ckks.Ciphertext.from_bytes(other, data)
