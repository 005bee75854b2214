"""``as_result``: eager results that answer ``.numpy()`` (the class lives with the backend, which
alone decides what an array is: ``nnscratch/backend/result.py``)."""
from nnscratch.backend.result import HostResult, as_result  # noqa: F401

__all__ = ["HostResult", "as_result"]
