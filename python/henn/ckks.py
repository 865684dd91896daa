"""The CKKS layer: parameters, keys, encoder, encryptor, evaluator, and TenSEAL-style vectors.

Low level (every object explicit)::

    from henn import ckks
    context = ckks.Context(ckks.Parameters.for_depth(3, scale_bits=40))
    keys = ckks.KeyGenerator(context)
    encoder, encryptor = ckks.Encoder(context), ckks.Encryptor(context, keys)
    evaluator = ckks.Evaluator(context, keys.evaluation_keys(rotations=[1]))
    ct = encryptor.encrypt(encoder.encode(np.arange(8.0)))
    ct = evaluator.rescale(evaluator.multiply(ct, ct))
    print(encoder.decode(ckks.Decryptor(context, keys).decrypt(ct))[:8])

Vectors (scales, levels, rescaling and rotation keys handled for you)::

    ctx = ckks.CKKSContext(depth=3)
    v = ckks.CKKSVector(ctx, [1.0, 2.0, 3.0])
    w = (v * v + 1.0).rotate(1)
    print(w.decrypt())
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

import numpy as np

from ._henn import ckks as _ckks

Parameters = _ckks.Parameters
Context = _ckks.Context
KeyGenerator = _ckks.KeyGenerator
Encoder = _ckks.Encoder
Encryptor = _ckks.Encryptor
Decryptor = _ckks.Decryptor
Evaluator = _ckks.Evaluator
Plaintext = _ckks.Plaintext
Ciphertext = _ckks.Ciphertext
PublicKey = _ckks.PublicKey
EvaluationKeys = _ckks.EvaluationKeys

__all__ = ["Parameters", "Context", "KeyGenerator", "Encoder", "Encryptor", "Decryptor", "Evaluator",
           "Plaintext", "Ciphertext", "PublicKey", "EvaluationKeys", "CKKSContext", "CKKSVector"]

Operand = Union["CKKSVector", float, int, Sequence[float], np.ndarray]


class CKKSContext:
    """Parameters, a secret key and the objects that use it, for :class:`CKKSVector`.

    Args:
        depth: products the vectors must support (levels), at scale 2^scale_bits.
        scale_bits: bits of the scale (precision of the fixed-point encoding).
        parameters: explicit :class:`Parameters` instead of depth/scale_bits.
        rotations: rotation steps to make keys for up front; other steps get their key on
            first use (the context holds the secret key, so it can make them).
        test_only_seed: deterministic keys (tests only, never for real data).
    """

    def __init__(self, depth: int = 3, scale_bits: int = 40, *, parameters: Optional[Parameters] = None,
                 rotations: Iterable[int] = (), test_only_seed: Optional[int] = None) -> None:
        if parameters is None:
            parameters = Parameters.for_depth(depth, scale_bits=scale_bits)
        self.context = Context(parameters)
        self.keys = KeyGenerator(self.context, test_only_seed=test_only_seed)
        self.encoder = Encoder(self.context)
        self.encryptor = Encryptor(self.context, self.keys)
        self.decryptor = Decryptor(self.context, self.keys)
        self.evaluation_keys = self.keys.evaluation_keys(rotations=list(rotations))
        self.evaluator = Evaluator(self.context, self.evaluation_keys)
        self._rotations = set(rotations)

    @property
    def slots(self) -> int:
        """Values per vector (N/2)."""
        return self.context.slots

    def _ensure_rotation(self, steps: int) -> None:
        steps %= self.slots
        if steps == 0 or steps in self._rotations:
            return
        self.evaluation_keys = self.keys.add_rotation_keys(self.evaluation_keys, [steps])
        self.evaluator = Evaluator(self.context, self.evaluation_keys)
        self._rotations.add(steps)

    def __repr__(self) -> str:
        return f"CKKSContext({self.context.describe()})"


class CKKSVector:
    """An encrypted vector of real numbers with arithmetic operators.

    ``+``, ``-``, ``*`` with another vector, a scalar or a numpy array (elementwise), ``-v``,
    ``v.square()``, ``v.rotate(k)``, ``v.sum()``, ``v.dot(w)``, ``v.polyval(coefficients)``.
    Products are relinearized and rescaled; operands at different levels or scales are aligned.
    """

    def __init__(self, ctx: CKKSContext, values: Union[Sequence[float], np.ndarray, None] = None, *,
                 ciphertext: Optional[Ciphertext] = None, size: Optional[int] = None) -> None:
        self.ctx = ctx
        if ciphertext is not None:
            self.ciphertext = ciphertext
            self.size = int(size if size is not None else ctx.slots)
            return
        array = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if array.size > ctx.slots:
            from .errors import ArgumentError
            raise ArgumentError(f"{array.size} values do not fit the {ctx.slots} slots of this context")
        self.size = int(array.size)
        self.ciphertext = ctx.encryptor.encrypt(ctx.encoder.encode(array))

    # --- helpers ------------------------------------------------------------------------------
    def _new(self, ciphertext: Ciphertext) -> "CKKSVector":
        return CKKSVector(self.ctx, ciphertext=ciphertext, size=self.size)

    def _plain(self, values: np.ndarray, scale: float) -> Plaintext:
        array = np.ascontiguousarray(values, dtype=np.float64).ravel()
        return self.ctx.encoder.encode(array, level=self.ciphertext.level, scale=scale)

    @property
    def level(self) -> int:
        """Products still possible."""
        return self.ciphertext.level

    @property
    def scale(self) -> float:
        return self.ciphertext.scale

    # --- arithmetic -------------------------------------------------------------------------
    def __add__(self, other: Operand) -> "CKKSVector":
        ev = self.ctx.evaluator
        if isinstance(other, CKKSVector):
            a, b = ev.align(self.ciphertext, other.ciphertext)
            return self._new(ev.add(a, b))
        if np.isscalar(other):
            return self._new(ev.add_constant(self.ciphertext, float(other)))
        return self._new(ev.add_plain(self.ciphertext, self._plain(other, self.ciphertext.scale)))

    __radd__ = __add__

    def __neg__(self) -> "CKKSVector":
        return self._new(self.ctx.evaluator.negate(self.ciphertext))

    def __sub__(self, other: Operand) -> "CKKSVector":
        if isinstance(other, CKKSVector):
            return self + (-other)
        if np.isscalar(other):
            return self + (-float(other))
        return self + (-np.asarray(other, dtype=np.float64))

    def __rsub__(self, other: Operand) -> "CKKSVector":
        return (-self) + other

    def __mul__(self, other: Operand) -> "CKKSVector":
        ev = self.ctx.evaluator
        if isinstance(other, CKKSVector):
            a, b = ev.align(self.ciphertext, other.ciphertext)
            return self._new(ev.rescale(ev.multiply(a, b)))
        if np.isscalar(other):
            return self._new(ev.rescale(ev.multiply_constant(self.ciphertext, float(other))))
        # Encoded at the prime the rescale divides by, so the scale comes back exactly.
        prime = float(self.ctx.context.prime(self.ciphertext.level))
        return self._new(ev.rescale(ev.multiply_plain(self.ciphertext, self._plain(other, prime))))

    __rmul__ = __mul__

    def square(self) -> "CKKSVector":
        ev = self.ctx.evaluator
        return self._new(ev.rescale(ev.square(self.ciphertext)))

    def polyval(self, coefficients: Sequence[float], interval: tuple = (-1.0, 1.0)) -> "CKKSVector":
        """sum_k coefficients[k] * x^k slot-wise, for values in `interval` (henn's polynomial circuits)."""
        lo, hi = interval
        return self._new(self.ctx.evaluator.polynomial(self.ciphertext, [float(c) for c in coefficients],
                                                       float(lo), float(hi)))

    def rotate(self, steps: int) -> "CKKSVector":
        """Slots rotated left by `steps` over all N/2 slots (negative: right)."""
        self.ctx._ensure_rotation(steps)
        return self._new(self.ctx.evaluator.rotate(self.ciphertext, int(steps)))

    def sum(self) -> "CKKSVector":
        """The sum of the vector's values, in slot 0 (a vector of size 1).

        log2(size) rotations and additions over the first 2^ceil(log2(size)) slots; the slots
        beyond `size` must hold zeros, as they do after encryption, additions, products and left
        rotations."""
        result = self
        step = 1
        while step < self.size:
            result = result + result.rotate(step)
            step *= 2
        return CKKSVector(self.ctx, ciphertext=result.ciphertext, size=1)

    def dot(self, other: Operand) -> "CKKSVector":
        """Inner product with another vector or a plain array, in slot 0 (a vector of size 1)."""
        return (self * other).sum()

    # --- out ----------------------------------------------------------------------------------
    def decrypt(self) -> np.ndarray:
        """The first `size` slots as float64."""
        return self.ctx.encoder.decode(self.ctx.decryptor.decrypt(self.ciphertext))[: self.size]

    def to_bytes(self) -> bytes:
        return self.ciphertext.to_bytes(self.ctx.context)

    @classmethod
    def from_bytes(cls, ctx: CKKSContext, data: bytes, size: Optional[int] = None) -> "CKKSVector":
        return cls(ctx, ciphertext=Ciphertext.from_bytes(ctx.context, data), size=size)

    def __repr__(self) -> str:
        return f"CKKSVector(size={self.size}, level={self.level}, log2 scale={np.log2(self.scale):.2f})"
