"""Encrypted inference against a remote `henn serve` (gRPC)::

    import henn
    remote = henn.client.Remote("localhost:50051")
    print(remote.models())
    compiled = remote.fetch_model("mnist")     # the served model without its weights
    client = henn.Client(compiled)             # the secret key stays here
    y = remote.predict("mnist", client, x)     # encrypt, send, infer remotely, decrypt

Available when henn was built with its service layer (gRPC); otherwise constructing
:class:`Remote` raises :class:`henn.Error`.
"""

from . import _henn
from .errors import Error

__all__ = ["Remote"]

if hasattr(_henn, "client"):
    Remote = _henn.client.Remote
else:
    class Remote:  # type: ignore[no-redef]
        """Unavailable: this build of henn has no service layer (gRPC)."""

        def __init__(self, *args, **kwargs):
            raise Error("henn.client.Remote needs henn built with its service layer (gRPC: libgrpc++-dev)")
