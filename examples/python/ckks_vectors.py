#!/usr/bin/python3
"""TenSEAL-style encrypted vectors with henn.ckks: arithmetic, rotations, a dot product and a
polynomial, then an encrypted logistic-regression score, each checked against numpy.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/ckks_vectors.py
"""

import numpy as np

from henn import ckks

# A context: 128-bit secure parameters for 4 products at scale 2^40, and the keys.
ctx = ckks.CKKSContext(depth=4, scale_bits=40)
print(ctx)

rng = np.random.default_rng(1)
a, b = rng.uniform(-1, 1, 8), rng.uniform(-1, 1, 8)
va, vb = ckks.CKKSVector(ctx, a), ckks.CKKSVector(ctx, b)


def show(name, encrypted, expected):
    got = encrypted.decrypt()
    print(f"{name:<22} max error {np.max(np.abs(got - expected)):.1e}   {np.round(got[:4], 4)}")


show("a + b", va + vb, a + b)
show("a * b", va * vb, a * b)
show("3 a - 1", 3 * va - 1, 3 * a - 1)
show("a * [plain b]", va * b, a * b)
slots = np.zeros(ctx.slots)
slots[:8] = a
show("rotate(a, 2)", va.rotate(2), np.roll(slots, -2)[:8])
show("a . b", va.dot(vb), [a @ b])

# Logistic regression on encrypted features: sigmoid(w . x + c) with sigmoid's degree-3
# least-squares polynomial on [-8, 8].
w, c = rng.normal(size=8) * 0.5, 0.1
sigmoid3 = [0.5, 0.1424, 0.0, -0.0013]  # ~ sigmoid on [-8, 8]
score = va.dot(w) + c
prob = score.polyval(sigmoid3, interval=(-8, 8))
expected = np.polynomial.polynomial.polyval(a @ w + c, sigmoid3)
show("sigmoid3(w . a + c)", prob, [expected])
print(f"true sigmoid: {1 / (1 + np.exp(-(a @ w + c))):.4f}; levels left: {prob.level}")
print(f"ciphertext: {len(va.to_bytes()) / 1024:.0f} KiB on the wire")
