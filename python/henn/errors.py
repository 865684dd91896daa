"""Exceptions raised by henn.

Every error henn raises derives from :class:`henn.Error`; catch that to handle them all. The C++
library's typed errors map to these classes (python/src/errors.cpp)::

    Error                        anything henn refuses
    +-- CompileError             the model cannot run encrypted: unsupported operator (named),
    |                            depth beyond 128-bit parameters, bad calibration data
    +-- KeyMismatchError         keys, compiled model and ciphertexts that do not belong together
    |                            (another model, other parameters, a missing evaluation key)
    +-- FormatError              bytes that are not a valid compiled model, key or ciphertext
    |                            bundle or ONNX file; inputs of the wrong shape (also ValueError)
    +-- DataError                a file or data set that cannot be read or written, or is
    |                            malformed (also OSError)
    +-- ParameterError           CKKS parameters that are invalid or below 128-bit security
    |                            (also ValueError)
    +-- ArgumentError            an argument outside its domain (also ValueError)
    +-- CryptoError              a CKKS operation refused
    |   +-- LevelError           not enough levels left, or operands at different levels
    |   +-- ScaleError           operands whose scales differ, or a scale out of range
    +-- InternalError            a broken invariant: a bug in henn, please report it

Ctrl-C during :meth:`henn.Session.run` raises the usual ``KeyboardInterrupt`` (the run is
cancelled cleanly; the session stays usable).
"""

__all__ = [
    "Error", "CompileError", "KeyMismatchError", "FormatError", "DataError", "ParameterError",
    "ArgumentError", "CryptoError", "LevelError", "ScaleError", "InternalError",
]


class Error(Exception):
    """Base class of every error henn raises."""


class CompileError(Error):
    """The model cannot be compiled into an encrypted program (the message names the layer)."""


class KeyMismatchError(Error):
    """Keys, compiled model and ciphertexts that do not belong together."""


class FormatError(Error, ValueError):
    """Bytes or arrays that are not what was expected (corrupted, truncated, wrong shape)."""


class DataError(Error, OSError):
    """A file or data set that cannot be read or written, or a malformed data set."""


class ParameterError(Error, ValueError):
    """Invalid or insecure CKKS parameters."""


class ArgumentError(Error, ValueError):
    """An argument outside the function's domain."""


class CryptoError(Error):
    """A CKKS operation that cannot be performed."""


class LevelError(CryptoError):
    """Not enough levels left, or operands at different levels."""


class ScaleError(CryptoError):
    """Operands whose scales differ, or a scale out of range."""


class InternalError(Error):
    """A broken invariant in henn (a bug)."""
