"""lsr: learned sparse retrieval — encoders, a Numba inverted index, dense/hybrid search, BEIR eval.

``import lsr`` is cheap: it imports neither torch nor faiss nor numba-compiled kernels. Index
classes are reached lazily through module ``__getattr__`` so that the core package does not
import ``lsr.index`` at import time.
"""

from __future__ import annotations

from lsr.encoders import load_encoder
from lsr.errors import (
    IndexFormatError,
    InputError,
    LsrError,
    MissingDependencyError,
    VocabularyMismatchError,
)
from lsr.sparse import SparseBatch

__version__ = "0.1.0"

_LAZY = {
    "SparseIndex": "lsr.index",
    "DenseIndex": "lsr.index",
    "SearchResult": "lsr.results",
}

__all__ = [
    "IndexFormatError", "InputError", "LsrError", "MissingDependencyError", "SparseBatch",
    "VocabularyMismatchError", "load_encoder", "__version__", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lsr' has no attribute {name!r}")
